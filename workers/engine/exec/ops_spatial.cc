#include "workers/engine/exec/ops_spatial.h"

#include <algorithm>

#include "common/status.h"
#include "common/str_cat.h"

namespace mp::exec::internal {
namespace {

// Reads ints attribute `name` of exactly `size` entries, each >= `min_value`; `fill` when
// absent.
absl::StatusOr<std::vector<int64_t>> ReadSized(const ir::Node& node, std::string_view name,
                                               size_t size, int64_t fill, int64_t min_value) {
  ASSIGN_OR_RETURN(std::vector<int64_t> v, node.GetInts(name, std::vector<int64_t>(size, fill)));
  if (v.size() != size) {
    return InvalidNode(node,
                       StrCat("attribute '", name, "' has ", v.size(), " values, expected ", size));
  }
  for (int64_t x : v) {
    if (x < min_value) {
      return InvalidNode(node, StrCat("attribute '", name, "' = ", IntsToString(v),
                                      " has a value below ", min_value));
    }
  }
  return v;
}

}  // namespace

std::string IntsToString(std::span<const int64_t> v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += StrCat(i ? ", " : "", v[i]);
  return out + "]";
}

absl::StatusOr<WindowAttrs> ReadWindowAttrs(const PrepareContext& ctx, int spatial,
                                            std::span<const int64_t> kernel_from_weights) {
  const ir::Node& node = ctx.node;
  const size_t n = static_cast<size_t>(spatial);
  WindowAttrs attrs;
  ASSIGN_OR_RETURN(std::string auto_pad, node.GetString("auto_pad", "NOTSET"));
  if (auto_pad == "NOTSET" || auto_pad.empty()) {
    attrs.auto_pad = AutoPad::kNotSet;
  } else if (auto_pad == "SAME_UPPER") {
    attrs.auto_pad = AutoPad::kSameUpper;
  } else if (auto_pad == "SAME_LOWER") {
    attrs.auto_pad = AutoPad::kSameLower;
  } else if (auto_pad == "VALID") {
    attrs.auto_pad = AutoPad::kValid;
  } else {
    return Unimplemented(ctx,
                         StrCat("attribute 'auto_pad' value '", auto_pad, "' is not supported"));
  }
  if (node.HasAttribute("kernel_shape") || kernel_from_weights.empty()) {
    if (!node.HasAttribute("kernel_shape")) {
      return InvalidNode(node, "attribute 'kernel_shape' is required");
    }
    ASSIGN_OR_RETURN(attrs.kernel, ReadSized(node, "kernel_shape", n, 1, 1));
    if (!kernel_from_weights.empty() &&
        !std::equal(attrs.kernel.begin(), attrs.kernel.end(), kernel_from_weights.begin(),
                    kernel_from_weights.end())) {
      return InvalidNode(node, StrCat("attribute 'kernel_shape' = ", IntsToString(attrs.kernel),
                                      " does not match the weight's spatial dims ",
                                      IntsToString(kernel_from_weights)));
    }
  } else {
    attrs.kernel.assign(kernel_from_weights.begin(), kernel_from_weights.end());
    for (int64_t k : attrs.kernel) {
      if (k < 1) return InvalidInput(ctx, 1, "has a spatial dim of 0");
    }
  }
  ASSIGN_OR_RETURN(attrs.strides, ReadSized(node, "strides", n, 1, 1));
  ASSIGN_OR_RETURN(attrs.dilations, ReadSized(node, "dilations", n, 1, 1));
  ASSIGN_OR_RETURN(attrs.pads, ReadSized(node, "pads", 2 * n, 0, 0));
  return attrs;
}

absl::StatusOr<std::vector<int64_t>> ForwardOutputSizes(const PrepareContext& ctx,
                                                        std::span<const int64_t> in, bool ceil_mode,
                                                        WindowAttrs* attrs) {
  const size_t n = in.size();
  std::vector<int64_t> out(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t s = attrs->strides[i];
    const int64_t dk = attrs->dilations[i] * (attrs->kernel[i] - 1) + 1;
    int64_t& pb = attrs->pads[i];
    int64_t& pe = attrs->pads[i + n];
    switch (attrs->auto_pad) {
      case AutoPad::kSameUpper:
      case AutoPad::kSameLower: {
        out[i] = (in[i] + s - 1) / s;
        const int64_t total = std::max<int64_t>(0, (out[i] - 1) * s + dk - in[i]);
        const int64_t small = total / 2;
        pb = attrs->auto_pad == AutoPad::kSameUpper ? small : total - small;
        pe = total - pb;
        continue;
      }
      case AutoPad::kValid:
        pb = pe = 0;
        break;
      case AutoPad::kNotSet:
        break;
    }
    const int64_t span = in[i] + pb + pe - dk;
    if (span < 0) {
      return InvalidInput(ctx, 0,
                          StrCat("spatial dim ", i, " (", in[i], " + pads ", pb, "+", pe,
                                 ") is smaller than the dilated kernel (", dk, ")"));
    }
    out[i] = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
    // A window that starts inside the end padding covers no input: drop it.
    if (ceil_mode && (out[i] - 1) * s >= in[i] + pb) --out[i];
  }
  return out;
}

absl::StatusOr<std::vector<int64_t>> ConvForwardGeometry(const PrepareContext& ctx, int spatial,
                                                         const Shape& x, const Shape& w,
                                                         int64_t group, kernels::Conv2dParams* p) {
  const std::vector<int64_t> kernel(w.dims().begin() + 2, w.dims().end());
  ASSIGN_OR_RETURN(WindowAttrs attrs, ReadWindowAttrs(ctx, spatial, kernel));
  const std::vector<int64_t> in(x.dims().begin() + 2, x.dims().end());
  ASSIGN_OR_RETURN(std::vector<int64_t> out,
                   ForwardOutputSizes(ctx, in, /*ceil_mode=*/false, &attrs));
  p->batch = x.dim(0);
  p->in_channels = x.dim(1);
  p->out_channels = w.dim(0);
  p->group = group;
  SetSpatial(spatial, in, out, attrs, p);
  std::vector<int64_t> dims = {x.dim(0), w.dim(0)};
  dims.insert(dims.end(), out.begin(), out.end());
  return dims;
}

}  // namespace mp::exec::internal
