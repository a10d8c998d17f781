// Strong id types: a JobId cannot be passed where a ModelId is expected.
//
// Format: "<prefix>_<16 lowercase hex digits>", e.g. "job_3f9a0c12d4e5b6a7". The prefix
// names the kind (model, job, dataset, worker, ...); the digits are random (64 bits from the
// OS), so ids are unguessable across tenants and never reused. Parse validates ids that
// arrive from clients before they reach the store.
#ifndef MP_COMMON_IDS_H_
#define MP_COMMON_IDS_H_

#include <compare>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace mp {
namespace internal {

// Returns prefix + "_" + 16 random hex digits.
std::string RandomId(std::string_view prefix);
// OK if `id` has the form above with this prefix; otherwise INVALID_ARGUMENT naming it.
absl::Status ValidateId(std::string_view prefix, std::string_view id);

}  // namespace internal

// Tag must have `static constexpr std::string_view kPrefix`.
template <typename Tag>
class StrongId {
 public:
  StrongId() = default;

  // A fresh random id.
  static StrongId New() { return StrongId(internal::RandomId(Tag::kPrefix)); }
  // Validates an id that came from outside (a client, a file, the network).
  static absl::StatusOr<StrongId> Parse(std::string_view text) {
    if (absl::Status s = internal::ValidateId(Tag::kPrefix, text); !s.ok()) return s;
    return StrongId(std::string(text));
  }
  // Wraps a value already known to be valid (e.g. read back from our own database).
  static StrongId FromTrusted(std::string value) { return StrongId(std::move(value)); }

  const std::string& value() const { return value_; }
  bool empty() const { return value_.empty(); }

  friend auto operator<=>(const StrongId&, const StrongId&) = default;
  friend std::ostream& operator<<(std::ostream& os, const StrongId& id) { return os << id.value_; }
  template <typename H>
  friend H AbslHashValue(H h, const StrongId& id) {
    return H::combine(std::move(h), id.value_);
  }

 private:
  explicit StrongId(std::string value) : value_(std::move(value)) {}
  std::string value_;
};

struct ModelIdTag {
  static constexpr std::string_view kPrefix = "model";
};
struct DatasetIdTag {
  static constexpr std::string_view kPrefix = "data";
};
struct JobIdTag {
  static constexpr std::string_view kPrefix = "job";
};
struct WorkerIdTag {
  static constexpr std::string_view kPrefix = "worker";
};

using ModelId = StrongId<ModelIdTag>;
using DatasetId = StrongId<DatasetIdTag>;
using JobId = StrongId<JobIdTag>;
using WorkerId = StrongId<WorkerIdTag>;

}  // namespace mp

template <typename Tag>
struct std::hash<mp::StrongId<Tag>> {
  size_t operator()(const mp::StrongId<Tag>& id) const {
    return std::hash<std::string>()(id.value());
  }
};

#endif  // MP_COMMON_IDS_H_
