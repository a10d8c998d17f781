#include "server/queue/notifier.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace mp::queue {
namespace {

TEST(NotifierTest, JobSubscriptionsAreKeyedByJob) {
  Notifier n;
  int a = 0, b = 0;
  const Notifier::Token ta = n.Subscribe("job_a", [&] { ++a; });
  const Notifier::Token tb = n.Subscribe("job_b", [&] { ++b; });
  EXPECT_NE(ta, tb);
  n.NotifyJob("job_a");
  n.NotifyJob("job_a");
  n.NotifyJob("job_c");
  EXPECT_EQ(a, 2);
  EXPECT_EQ(b, 0);
  EXPECT_EQ(n.subscription_count(), 2u);
  n.Unsubscribe(ta);
  n.Unsubscribe(ta);  // unknown now: no-op
  n.NotifyJob("job_a");
  EXPECT_EQ(a, 2);
  EXPECT_EQ(n.subscription_count(), 1u);
  n.Unsubscribe(tb);
}

TEST(NotifierTest, UnsubscribeWaitsForARunningCallback) {
  Notifier n;
  absl::Notification entered, release;
  std::atomic<bool> finished{false};
  const Notifier::Token t = n.Subscribe("job", [&] {
    entered.Notify();
    release.WaitForNotification();
    finished = true;
  });
  std::thread notifier([&] { n.NotifyJob("job"); });
  entered.WaitForNotification();
  std::thread unsubscriber([&] {
    n.Unsubscribe(t);
    EXPECT_TRUE(finished.load());  // returned only after the callback finished
  });
  release.Notify();
  unsubscriber.join();
  notifier.join();
}

TEST(NotifierTest, RunnableWaitersRunOnce) {
  Notifier n;
  int fired = 0;
  n.AddRunnableWaiter([&] { ++fired; });
  const Notifier::Token removed = n.AddRunnableWaiter([&] { fired += 100; });
  EXPECT_TRUE(n.RemoveRunnableWaiter(removed));
  EXPECT_FALSE(n.RemoveRunnableWaiter(removed));
  n.NotifyRunnable();
  n.NotifyRunnable();
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace mp::queue
