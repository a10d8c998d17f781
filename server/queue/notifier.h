// Notifier: wake-ups for job events and runnable work, without holding any lock of the
// caller's while callbacks run.
//
// Two registries:
//   * job subscriptions: persistent callbacks keyed by job id, run by NotifyJob(job_id);
//   * runnable waiters: one-shot callbacks, all run (and removed) by NotifyRunnable().
// Callbacks run on the notifying thread, outside the registry lock, and must be quick and
// non-blocking. Unsubscribe() waits for a running invocation of that callback to finish, so
// after it returns the callback never runs again (it must therefore not be called from
// inside that same callback).
#ifndef MP_SERVER_QUEUE_NOTIFIER_H_
#define MP_SERVER_QUEUE_NOTIFIER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace mp::queue {

class Notifier {
 public:
  using Token = uint64_t;  // never 0

  Notifier() = default;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  Token Subscribe(std::string_view job_id, std::function<void()> callback);
  // No-op for an unknown token.
  void Unsubscribe(Token token);
  // Runs every callback subscribed to `job_id`.
  void NotifyJob(std::string_view job_id);

  Token AddRunnableWaiter(std::function<void()> callback);
  // False if the waiter already ran (or is running) or the token is unknown.
  bool RemoveRunnableWaiter(Token token);
  // Runs and removes every runnable waiter registered so far.
  void NotifyRunnable();

  size_t subscription_count();  // for tests and /metrics

 private:
  struct Subscription {
    std::string job_id;
    absl::Mutex mu;  // held while the callback runs
    bool active ABSL_GUARDED_BY(mu) = true;
    std::function<void()> callback;
  };

  absl::Mutex mu_;
  Token next_token_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<Token, std::shared_ptr<Subscription>> subscriptions_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<Token>> by_job_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Token, std::function<void()>> runnable_waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace mp::queue

#endif  // MP_SERVER_QUEUE_NOTIFIER_H_
