// MP_CHECK: crash on broken invariants (DESIGN.md §4 rule 4).
//
// Use only for conditions that no client, file or network input can trigger: a violated
// precondition of our own code. Input is validated and answered with an absl::Status.
//   MP_CHECK(n <= capacity) << "n=" << n;
//   MP_CHECK_EQ(a.size(), b.size());
// On failure, prints file:line, the condition and the streamed message to stderr, then
// aborts. Checks are on in every build type.
#ifndef MP_COMMON_CHECK_H_
#define MP_COMMON_CHECK_H_

#include <sstream>

namespace mp::internal {

// Collects the streamed message; its destructor reports and aborts.
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* condition);
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;
  [[noreturn]] ~CheckFailure();

  std::ostream& stream() { return stream_; }

 private:
  std::ostringstream stream_;
};

// Lets the ternary in MP_CHECK have type void on both arms.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace mp::internal

#define MP_CHECK(condition)            \
  (__builtin_expect(!!(condition), 1)) \
      ? (void)0                        \
      : ::mp::internal::Voidify() &    \
            ::mp::internal::CheckFailure(__FILE__, __LINE__, #condition).stream()

#define MP_CHECK_OP_(a, op, b) MP_CHECK((a)op(b)) << "(" << (a) << " vs " << (b) << ") "
#define MP_CHECK_EQ(a, b) MP_CHECK_OP_(a, ==, b)
#define MP_CHECK_NE(a, b) MP_CHECK_OP_(a, !=, b)
#define MP_CHECK_LT(a, b) MP_CHECK_OP_(a, <, b)
#define MP_CHECK_LE(a, b) MP_CHECK_OP_(a, <=, b)
#define MP_CHECK_GT(a, b) MP_CHECK_OP_(a, >, b)
#define MP_CHECK_GE(a, b) MP_CHECK_OP_(a, >=, b)

#endif  // MP_COMMON_CHECK_H_
