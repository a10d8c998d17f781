#include "server/queue/notifier.h"

#include <algorithm>
#include <utility>

namespace mp::queue {

Notifier::Token Notifier::Subscribe(std::string_view job_id, std::function<void()> callback) {
  auto sub = std::make_shared<Subscription>();
  sub->job_id = std::string(job_id);
  sub->callback = std::move(callback);
  absl::MutexLock lock(&mu_);
  const Token token = next_token_++;
  subscriptions_.emplace(token, sub);
  by_job_[sub->job_id].push_back(token);
  return token;
}

void Notifier::Unsubscribe(Token token) {
  std::shared_ptr<Subscription> sub;
  {
    absl::MutexLock lock(&mu_);
    auto it = subscriptions_.find(token);
    if (it == subscriptions_.end()) return;
    sub = std::move(it->second);
    subscriptions_.erase(it);
    auto job = by_job_.find(sub->job_id);
    if (job != by_job_.end()) {
      std::erase(job->second, token);
      if (job->second.empty()) by_job_.erase(job);
    }
  }
  // Waits for an invocation in progress (NotifyJob holds sub->mu while calling).
  absl::MutexLock lock(&sub->mu);
  sub->active = false;
}

void Notifier::NotifyJob(std::string_view job_id) {
  std::vector<std::shared_ptr<Subscription>> subs;
  {
    absl::MutexLock lock(&mu_);
    auto job = by_job_.find(std::string(job_id));
    if (job == by_job_.end()) return;
    for (Token token : job->second) subs.push_back(subscriptions_.at(token));
  }
  for (const auto& sub : subs) {
    absl::MutexLock lock(&sub->mu);
    if (sub->active) sub->callback();
  }
}

Notifier::Token Notifier::AddRunnableWaiter(std::function<void()> callback) {
  absl::MutexLock lock(&mu_);
  const Token token = next_token_++;
  runnable_waiters_.emplace(token, std::move(callback));
  return token;
}

bool Notifier::RemoveRunnableWaiter(Token token) {
  absl::MutexLock lock(&mu_);
  return runnable_waiters_.erase(token) == 1;
}

void Notifier::NotifyRunnable() {
  absl::flat_hash_map<Token, std::function<void()>> waiters;
  {
    absl::MutexLock lock(&mu_);
    waiters.swap(runnable_waiters_);
  }
  for (auto& [token, callback] : waiters) callback();
}

size_t Notifier::subscription_count() {
  absl::MutexLock lock(&mu_);
  return subscriptions_.size();
}

}  // namespace mp::queue
