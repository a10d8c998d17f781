// mp::onnx — the engine's ONNX boundary: ModelProto bytes <-> mp::ir::Model, and
// TensorProto bytes <-> mp::tensor::Tensor. The only module that includes ONNX headers; this
// public header does not, so callers never see ::onnx types.
//
// Import treats bytes as hostile (DESIGN.md §5). Order of work:
//   1. size cap on the bytes, then protobuf ParseFromArray (not protobuf / truncated ->
//      INVALID_ARGUMENT);
//   2. our own validation of the parsed message, before any ONNX library code sees it:
//      IR version 3-10 and default-domain opset 7-21 (UNIMPLEMENTED outside), other opset
//      domains only if harmless (ai.onnx.ml / ai.onnx.training / ai.onnx.preview.training,
//      and only when no node uses them), caps on node/value/attribute counts, string
//      lengths and total initializer bytes (RESOURCE_EXHAUSTED), tensors checked in
//      int64-checked arithmetic (dims >= 0, element count, raw_data length = elements x
//      element size, typed-field counts), external data rejected (INVALID_ARGUMENT naming
//      the tensor), subgraph attributes (If/Loop/Scan) rejected as UNIMPLEMENTED naming the
//      node, nodes outside the default domain rejected;
//   3. op types are looked up in ONNX's schema registry for the model's opset: an op type
//      ONNX does not define is UNIMPLEMENTED here, naming the node. An op ONNX defines but
//      the engine cannot run is accepted here and rejected by the exec session
//      (UNIMPLEMENTED) — import is also used by `inspect`, which reports such models;
//   4. conversion to ir::Model, ir::Verify (dangling inputs, duplicate names, values
//      produced twice, cycles -> INVALID_ARGUMENT), and a stable topological sort of nodes.
// Every message names the rule and the node or tensor, e.g.
//   "initializer 'w': raw_data has 12 bytes, expected 16 (float32[2, 2])".
// onnx::checker is not used: it rejects IR 9+ and is not a security boundary.
//
// Export writes what Import reads (names, attributes, initializers as raw_data, opsets,
// value infos, metadata), in topological order, loadable by ONNX Runtime.
#ifndef MP_WORKERS_ENGINE_ONNX_ONNX_H_
#define MP_WORKERS_ENGINE_ONNX_ONNX_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::onnx {

// Resource caps for untrusted input. Exceeding one is RESOURCE_EXHAUSTED.
struct ImportLimits {
  int64_t max_model_bytes = int64_t{1} << 31;  // serialized ModelProto (protobuf: < 2 GiB)
  int64_t max_nodes = 200'000;
  int64_t max_values = 1'000'000;                    // inputs + outputs + value_info + inits
  int64_t max_initializer_bytes = int64_t{2} << 30;  // sum over initializers + tensor attrs
  int64_t max_attributes_per_node = 1'000;
  int64_t max_attribute_elements = 1'000'000;  // ints/floats/strings per attribute
  int64_t max_name_bytes = 4'096;              // value, node, op, domain names
  int64_t max_string_bytes = 1 << 20;          // doc strings, string attributes
  int64_t max_metadata_entries = 1'000;
};

// Parses and validates a serialized ModelProto (see the header comment).
absl::StatusOr<ir::Model> ImportModel(std::string_view bytes, const ImportLimits& limits = {});
// Reads `path` (at most limits.max_model_bytes) and imports it; errors are prefixed with
// the path.
absl::StatusOr<ir::Model> ImportModelFile(const std::string& path, const ImportLimits& limits = {});

// Serializes `model`. INVALID_ARGUMENT if ir::Verify fails or a value's dtype cannot be
// written.
absl::StatusOr<std::string> ExportModel(const ir::Model& model);
// ExportModel + AtomicWriteFile.
absl::Status ExportModelFile(const ir::Model& model, const std::string& path);

// A tensor with its TensorProto name (may be empty).
struct NamedTensor {
  std::string name;
  tensor::Tensor tensor;
};

// Parses a serialized TensorProto (float32, uint8, int8, int32, int64, bool, float16,
// bfloat16, float64; raw_data or the typed field), with the same checks as initializers.
// UNIMPLEMENTED for other element types (e.g. strings).
absl::StatusOr<NamedTensor> ParseTensor(std::string_view bytes, const ImportLimits& limits = {});
// Reads a TensorProto .pb file, e.g. the ONNX backend test data
// /usr/share/libonnx-testdata/data/node/test_abs/test_data_set_0/input_0.pb.
absl::StatusOr<NamedTensor> ReadTensorFile(const std::string& path,
                                           const ImportLimits& limits = {});
// Serializes `t` as a TensorProto with raw_data.
absl::StatusOr<std::string> SerializeTensor(const tensor::Tensor& t, std::string_view name);

}  // namespace mp::onnx

#endif  // MP_WORKERS_ENGINE_ONNX_ONNX_H_
