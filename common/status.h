// Errors are values (DESIGN.md §4 rule 3).
//
// Every fallible function returns absl::Status or absl::StatusOr<T> and is [[nodiscard]]
// through absl's own annotations. Callers propagate with RETURN_IF_ERROR / ASSIGN_OR_RETURN
// and add context at each layer with mp::Annotate, so that a message reads outermost first:
//   "import model 'a.onnx': node 'conv3' (Conv): weight has 3 dims, expected 4".
#ifndef MP_COMMON_STATUS_H_
#define MP_COMMON_STATUS_H_

#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/str_cat.h"

namespace mp {

// Returns `status` with `context` prepended to its message ("context: message"); the code
// and payloads are kept. An OK status is returned unchanged.
absl::Status Annotate(const absl::Status& status, std::string_view context);

}  // namespace mp

#define MP_STATUS_CONCAT_INNER_(a, b) a##b
#define MP_STATUS_CONCAT_(a, b) MP_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) once; returns it from the enclosing function if not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status mp_status_ = (expr);      \
    if (!mp_status_.ok()) return mp_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>) once; on error returns its status, otherwise
// moves the value into `lhs`, which may be a declaration: ASSIGN_OR_RETURN(auto x, F()).
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  MP_ASSIGN_OR_RETURN_IMPL_(MP_STATUS_CONCAT_(mp_statusor_, __LINE__), lhs, rexpr)

#define MP_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)    \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // MP_COMMON_STATUS_H_
