// mp::ir — the engine's graph IR: a Model owns one Graph of Values and Nodes.
//
// Model
//   ir_version, opset imports, producer/doc metadata, and `graph`.
// Graph
//   values()  — every tensor-valued edge: a graph input, an initializer (constant tensor),
//               or the output of exactly one node. Value names are unique within a graph.
//   nodes()   — operators, kept in insertion order (the importer inserts in file order;
//               SortNodesTopologically() reorders). A node's inputs/outputs are ValueIds;
//               an omitted optional input or output is the invalid id (kNoValue).
//   inputs() / outputs() — the graph's interface, by ValueId, in declaration order.
//
// Ids. ValueId and NodeId are dense indices into values()/nodes(). They are stable under
// additions and in-place edits, and are RENUMBERED by RemoveNodes / RemoveValues /
// RemoveDeadNodes / SortNodesTopologically (every id stored inside the graph is fixed up;
// ids you hold outside it become invalid). Passes collect ids first, then remove once.
//
// Use lists. Each Value caches its producer and its uses (node, input slot); the Graph's
// mutators keep them consistent, which is why Node's inputs/outputs are read-only outside
// Graph. Verify() (verify.h) re-derives everything from scratch and reports any mismatch,
// plus dangling inputs, duplicate names, values produced twice and cycles.
//
// Shapes. A Value carries a declared dtype and a PartialShape (rank may be unknown; each dim
// is a non-negative size, or unknown with an optional symbolic name such as "N"). The exec
// module computes concrete shapes; this module only stores what the model declared.
//
// Thread-safety: none; a Graph is built and rewritten by one thread, then read-only.
#ifndef MP_WORKERS_ENGINE_IR_GRAPH_H_
#define MP_WORKERS_ENGINE_IR_GRAPH_H_

#include <compare>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/attribute.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::ir {

using tensor::DType;

// Strongly typed dense ids. A default-constructed id is invalid.
struct ValueId {
  int32_t index = -1;
  bool valid() const { return index >= 0; }
  friend auto operator<=>(const ValueId&, const ValueId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, ValueId id) {
    return H::combine(std::move(h), id.index);
  }
};
struct NodeId {
  int32_t index = -1;
  bool valid() const { return index >= 0; }
  friend auto operator<=>(const NodeId&, const NodeId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, NodeId id) {
    return H::combine(std::move(h), id.index);
  }
};
inline constexpr ValueId kNoValue{};
inline constexpr NodeId kNoNode{};

// One dimension of a declared shape: a known size >= 0, or unknown (-1) with an optional
// symbolic name (ONNX dim_param).
struct Dim {
  int64_t size = -1;
  std::string param;
  bool known() const { return size >= 0; }
  friend bool operator==(const Dim&, const Dim&) = default;
};

// A declared shape: unknown rank, or a list of Dims.
class PartialShape {
 public:
  PartialShape() = default;  // unknown rank
  explicit PartialShape(std::vector<Dim> dims) : dims_(std::move(dims)) {}
  static PartialShape Of(const tensor::Shape& shape);
  // Every dim known (-1 entries become unknown dims).
  static PartialShape FromSizes(std::span<const int64_t> sizes);

  bool has_rank() const { return dims_.has_value(); }
  int rank() const;                      // MP_CHECKs has_rank()
  const std::vector<Dim>& dims() const;  // MP_CHECKs has_rank()
  // Rank known and every dim known.
  bool is_static() const;
  // The concrete shape; FAILED_PRECONDITION naming the unknown dim if not static.
  absl::StatusOr<tensor::Shape> ToShape() const;
  // "[N, 3, 224, 224]", "[?, 10]", "[*]" for unknown rank.
  std::string ToString() const;

  friend bool operator==(const PartialShape&, const PartialShape&) = default;

 private:
  std::optional<std::vector<Dim>> dims_;
};

// A use of a value: input slot `input_index` of node `node`.
struct Use {
  NodeId node;
  int input_index = 0;
  friend bool operator==(const Use&, const Use&) = default;
};

class Value {
 public:
  ValueId id() const { return id_; }
  const std::string& name() const { return name_; }
  DType dtype() const { return dtype_; }  // kUndefined when not declared
  const PartialShape& shape() const { return shape_; }
  // The node whose output this is, or kNoNode (graph input, initializer, or dangling).
  NodeId producer() const { return producer_; }
  int producer_output_index() const { return producer_output_; }
  // Every (node, input slot) reading this value; a node reading it twice appears twice.
  const std::vector<Use>& uses() const { return uses_; }
  // Constant data (ONNX initializer); !initializer().defined() when not a constant.
  const tensor::Tensor& initializer() const { return initializer_; }
  bool is_constant() const { return initializer_.defined(); }
  const std::string& doc_string() const { return doc_string_; }

  // Declared type; not structural, so settable directly.
  void set_dtype(DType dtype) { dtype_ = dtype; }
  void set_shape(PartialShape shape) { shape_ = std::move(shape); }
  void set_doc_string(std::string doc) { doc_string_ = std::move(doc); }

 private:
  friend class Graph;
  ValueId id_;
  std::string name_;
  DType dtype_ = DType::kUndefined;
  PartialShape shape_;
  NodeId producer_;
  int producer_output_ = -1;
  std::vector<Use> uses_;
  tensor::Tensor initializer_;
  std::string doc_string_;
};

class Node {
 public:
  NodeId id() const { return id_; }
  const std::string& name() const { return name_; }  // may be empty (ONNX allows it)
  const std::string& op_type() const { return op_type_; }
  // "" for the default ONNX domain ("ai.onnx" is normalised to "" by the importer).
  const std::string& domain() const { return domain_; }
  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  int num_inputs() const { return static_cast<int>(inputs_.size()); }
  int num_outputs() const { return static_cast<int>(outputs_.size()); }
  // Input/output i, or kNoValue when i is out of range or the slot is omitted.
  ValueId input(int i) const;
  ValueId output(int i) const;
  const std::string& doc_string() const { return doc_string_; }

  // "node 'conv3' (Conv)"; unnamed nodes read "node #12 (Conv)". Prefix for every error.
  std::string Describe() const;

  // Attributes, in insertion order (preserved by import/export).
  const std::vector<Attribute>& attributes() const { return attributes_; }
  const Attribute* FindAttribute(std::string_view name) const;  // nullptr if absent
  bool HasAttribute(std::string_view name) const { return FindAttribute(name) != nullptr; }
  // Adds or replaces (by name).
  void SetAttribute(Attribute attr);
  // True if it was present.
  bool RemoveAttribute(std::string_view name);

  // Typed getters. Without a default: INVALID_ARGUMENT if absent. With a default: the
  // default if absent. Either way INVALID_ARGUMENT if present with another type, e.g.
  //   "node 'conv3' (Conv): attribute 'group' is floats, expected int".
  // Types are exact, as in ONNX (an int attribute is not a float).
  absl::StatusOr<int64_t> GetInt(std::string_view name) const;
  absl::StatusOr<int64_t> GetInt(std::string_view name, int64_t default_value) const;
  absl::StatusOr<float> GetFloat(std::string_view name) const;
  absl::StatusOr<float> GetFloat(std::string_view name, float default_value) const;
  absl::StatusOr<std::string> GetString(std::string_view name) const;
  absl::StatusOr<std::string> GetString(std::string_view name,
                                        std::string_view default_value) const;
  absl::StatusOr<tensor::Tensor> GetTensor(std::string_view name) const;
  absl::StatusOr<std::vector<int64_t>> GetInts(std::string_view name) const;
  absl::StatusOr<std::vector<int64_t>> GetInts(std::string_view name,
                                               std::vector<int64_t> default_value) const;
  absl::StatusOr<std::vector<float>> GetFloats(std::string_view name) const;
  absl::StatusOr<std::vector<float>> GetFloats(std::string_view name,
                                               std::vector<float> default_value) const;
  absl::StatusOr<std::vector<std::string>> GetStrings(std::string_view name) const;

  void set_name(std::string name) { name_ = std::move(name); }
  void set_doc_string(std::string doc) { doc_string_ = std::move(doc); }

 private:
  friend class Graph;
  // The attribute `name` if its type is `type`; nullptr if absent; error if mistyped.
  absl::StatusOr<const Attribute*> Lookup(std::string_view name, AttrType type) const;

  NodeId id_;
  std::string name_;
  std::string op_type_;
  std::string domain_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  std::vector<Attribute> attributes_;
  std::string doc_string_;
};

// Arguments of Graph::AddNode.
struct NodeSpec {
  std::string name;
  std::string op_type;
  std::string domain;            // "" = default ONNX domain
  std::vector<ValueId> inputs;   // kNoValue for an omitted optional input
  std::vector<ValueId> outputs;  // kNoValue for an omitted optional output
  std::vector<Attribute> attributes;
  std::string doc_string;
};

class Graph {
 public:
  Graph() = default;
  // Deep structure copy; tensors (initializers, tensor attributes) share buffers, which is
  // safe because the IR never writes into a tensor it holds (rewrites store new tensors).
  Graph(const Graph&) = default;
  Graph& operator=(const Graph&) = default;
  Graph(Graph&&) = default;
  Graph& operator=(Graph&&) = default;

  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  const std::string& doc_string() const { return doc_string_; }
  void set_doc_string(std::string doc) { doc_string_ = std::move(doc); }

  // ---- reading --------------------------------------------------------------------------
  std::span<const Value> values() const { return values_; }
  std::span<const Node> nodes() const { return nodes_; }
  int num_values() const { return static_cast<int>(values_.size()); }
  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  const Value& value(ValueId id) const;  // MP_CHECKs the id
  const Node& node(NodeId id) const;     // MP_CHECKs the id
  Value& mutable_value(ValueId id);      // for set_dtype/set_shape/doc only
  Node& mutable_node(NodeId id);         // for attributes/name only
  bool contains(ValueId id) const { return id.index >= 0 && id.index < num_values(); }
  bool contains(NodeId id) const { return id.index >= 0 && id.index < num_nodes(); }

  const std::vector<ValueId>& inputs() const { return inputs_; }
  const std::vector<ValueId>& outputs() const { return outputs_; }
  bool IsGraphInput(ValueId id) const;
  bool IsGraphOutput(ValueId id) const;

  // The value named `name`, or kNoValue. (The first one if names were duplicated, which
  // Verify() reports.)
  ValueId FindValue(std::string_view name) const;
  // `base` if no value has that name, else `base_1`, `base_2`, ...
  std::string UniqueValueName(std::string_view base) const;

  // ---- building -------------------------------------------------------------------------
  // Adds a value. Names should be unique and non-empty; duplicates are accepted here and
  // reported by Verify(), so an importer can build first and verify once.
  ValueId AddValue(std::string name, DType dtype = DType::kUndefined,
                   PartialShape shape = PartialShape());
  // Adds a constant value (dtype/shape taken from the tensor).
  ValueId AddInitializer(std::string name, tensor::Tensor data);
  // Adds a node; every valid id in spec.inputs/outputs must exist (MP_CHECKed). An output
  // that already has a producer keeps its first producer; Verify() reports the conflict.
  NodeId AddNode(NodeSpec spec);
  void AddGraphInput(ValueId id);   // appended; MP_CHECKs the id
  void AddGraphOutput(ValueId id);  // appended; MP_CHECKs the id
  void SetGraphOutputs(std::vector<ValueId> ids);

  // ---- editing (ids stay valid) ---------------------------------------------------------
  // Sets / replaces input slot `index` (may be kNoValue); appends omitted slots as needed.
  void SetNodeInput(NodeId node, int index, ValueId value);
  // Makes `value` output slot `index` of `node`. `value` must have no producer (or already
  // be that slot); the previous value in the slot loses its producer.
  void SetNodeOutput(NodeId node, int index, ValueId value);
  // Makes `value` a constant holding `data` (dtype/shape set from it). If it was a node
  // output, that output slot of the producer becomes kNoValue; a producer left with no used
  // outputs is dropped by the next RemoveDeadNodes(). This is how constant folding
  // (done in exec, which has the kernels) turns computed outputs into initializers.
  void SetConstant(ValueId value, tensor::Tensor data);
  // Drops the constant data (the value becomes an unproduced value).
  void ClearConstant(ValueId value);
  // Every node input reading `from` reads `to` instead; graph outputs equal to `from` are
  // replaced too when `include_graph_outputs` (this renames a model output!).
  void ReplaceAllUsesWith(ValueId from, ValueId to, bool include_graph_outputs = false);

  // ---- removing (renumbers ids, see the header comment) ---------------------------------
  // Removes the nodes; their outputs lose their producer, their inputs lose those uses.
  void RemoveNodes(std::span<const NodeId> ids);
  // Removes values; MP_CHECKs that each has no producer and no uses and is not a graph
  // input/output.
  void RemoveValues(std::span<const ValueId> ids);
  // Removes nodes that do not contribute to any graph output, then values that are neither
  // graph inputs/outputs, produced, used, nor (if !keep_unused_initializers) constants.
  // Returns the number of nodes removed.
  int RemoveDeadNodes(bool keep_unused_initializers = false);
  // Reorders nodes() topologically (stable: keeps the current order where it is already
  // valid). Error naming a node on a cycle; the graph is unchanged then.
  absl::Status SortNodesTopologically();

 private:
  void RemoveUse(ValueId value, NodeId node, int input_index);
  // Applies a renumbering: old index -> new index or -1 (removed).
  void Renumber(const std::vector<int32_t>& node_map, const std::vector<int32_t>& value_map);
  void ReindexNames();

  std::string name_;
  std::string doc_string_;
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  std::vector<ValueId> inputs_;
  std::vector<ValueId> outputs_;
  absl::flat_hash_map<std::string, ValueId> by_name_;  // first value with each name
};

struct OpsetImport {
  std::string domain;  // "" = default ONNX domain
  int64_t version = 0;
  friend bool operator==(const OpsetImport&, const OpsetImport&) = default;
};

struct Model {
  int64_t ir_version = 8;
  std::vector<OpsetImport> opset_imports;
  std::string producer_name;
  std::string producer_version;
  std::string domain;
  int64_t model_version = 0;
  std::string doc_string;
  std::vector<std::pair<std::string, std::string>> metadata_props;
  Graph graph;

  // The imported version of `domain` ("" and "ai.onnx" are the same), or nullopt.
  std::optional<int64_t> OpsetVersion(std::string_view opset_domain) const;
};

}  // namespace mp::ir

#endif  // MP_WORKERS_ENGINE_IR_GRAPH_H_
