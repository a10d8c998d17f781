// Structured channel/filter pruning with graph surgery (rules in prune.h).
//
//   ASSIGN_OR_RETURN(StructuredPlan plan, PlanStructured(model, {.ratio = 0.5}));
//   RETURN_IF_ERROR(ApplyStructured(plan, ApplyMode::kRemove, &model));  // smaller model
//
// A plan is computed on one model and applies only to it (or to a copy of it made before
// the plan), since it refers to nodes by id.
#ifndef MP_WORKERS_ENGINE_PRUNE_STRUCTURED_H_
#define MP_WORKERS_ENGINE_PRUNE_STRUCTURED_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "workers/engine/ir/graph.h"
#include "workers/engine/prune/layers.h"
#include "workers/engine/tensor/tensor.h"

namespace mp::prune {

enum class Norm { kL1, kL2 };

struct StructuredOptions {
  // Fraction of output channels removed from each coupled group, in [0, 1).
  double ratio = 0.5;
  Norm norm = Norm::kL1;
  // Kept channel counts are rounded up to a multiple of this (>= 1).
  int64_t round_to = 1;
  // Ratio overrides by producer layer name; a coupled group takes the largest override of
  // its producers (or `ratio` if none has one).
  LayerTargets per_layer;
  // Producers whose channels are never pruned (their whole group is kept).
  std::vector<std::string> exclude;
  // Shapes of the graph inputs, in order, used to infer intermediate shapes (spatial sizes
  // behind Flatten). Empty: the declared shapes with unknown dims set to 1.
  std::vector<tensor::Shape> input_shapes;
};

// One coupled channel group: producers that must keep the same channel indices.
struct ChannelGroup {
  std::vector<std::string> producers;  // layer names, model order
  int64_t channels = 0;                // before pruning
  std::vector<int64_t> kept;           // ascending channel indices kept
  std::string skipped;                 // non-empty: why the group keeps every channel
};

// How one channel space maps onto groups: segments of `count` channels of group `group`
// (the channel axis of a Concat output has several), each channel spread over `block`
// consecutive features (Flatten of [N, C, H, W] gives block = H*W).
struct ChannelLayout {
  struct Segment {
    int group = -1;
    int64_t count = 0;
  };
  std::vector<Segment> segments;
  int64_t block = 1;
};

// One rewrite of the plan.
struct ChannelEdit {
  enum class Kind {
    kProducer,   // Conv/Gemm: output channels (weight rows / Gemm columns, bias)
    kBatchNorm,  // scale, B, mean, var
    kDepthwise,  // depthwise Conv: filters, bias, group
    kConsumer,   // Conv input channels, Gemm/MatMul K rows (block-expanded)
  };
  Kind kind = Kind::kProducer;
  ir::NodeId node;
  ChannelLayout layout;  // the channel space the edit slices (one segment for producers)
};

struct StructuredPlan {
  std::vector<ChannelGroup> groups;
  std::vector<ChannelEdit> edits;
  // Values carrying channels, with their layout (declared shapes are updated on removal).
  std::vector<std::pair<ir::ValueId, ChannelLayout>> values;
};

// Plans structured pruning of `model` (does not change it). Errors: invalid options,
// unknown layer names, no prunable layer, non-float weights, shape inference failures.
absl::StatusOr<StructuredPlan> PlanStructured(const ir::Model& model,
                                              const StructuredOptions& options);

enum class ApplyMode {
  kRemove,  // physically remove pruned channels: a smaller dense model
  kZero,    // zero them (producers, BatchNorm scale/B, depthwise filters/bias)
};

// Applies `plan` to the model it was computed on. The result passes ir::Verify.
absl::Status ApplyStructured(const StructuredPlan& plan, ApplyMode mode, ir::Model* model);

// Per-producer summary for reports: channels before -> after, or why skipped.
struct StructuredLayerReport {
  std::string layer;
  int64_t channels = 0;
  int64_t kept = 0;
  std::string skipped;
};
std::vector<StructuredLayerReport> SummarizePlan(const StructuredPlan& plan);

}  // namespace mp::prune

#endif  // MP_WORKERS_ENGINE_PRUNE_STRUCTURED_H_
