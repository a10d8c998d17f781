#include "common/metrics.h"

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(FormatValueTest, ShortestRoundTripAndSpecials) {
  EXPECT_EQ(FormatValue(3), "3");
  EXPECT_EQ(FormatValue(0.1), "0.1");
  EXPECT_EQ(FormatValue(-2.5), "-2.5");
  EXPECT_EQ(FormatValue(1e21), "1e+21");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
}

TEST(EscapeTest, LabelValuesEscapeBackslashQuoteNewline) {
  EXPECT_EQ(EscapeLabelValue("plain"), "plain");
  EXPECT_EQ(EscapeLabelValue("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(EscapeHelp("line1\nback\\slash \"quoted\""), "line1\\nback\\\\slash \"quoted\"");
}

TEST(NameTest, Validity) {
  EXPECT_TRUE(IsValidName("modelpress_jobs"));
  EXPECT_TRUE(IsValidName("_x9"));
  EXPECT_FALSE(IsValidName(""));
  EXPECT_FALSE(IsValidName("9x"));
  EXPECT_FALSE(IsValidName("a-b"));
  EXPECT_FALSE(IsValidName("a b"));
}

TEST(RegistryTest, CounterExposition) {
  Registry registry;
  CounterFamily* requests =
      registry.AddCounter("http_requests_total", "Requests.\nSecond line.", {"route", "code"});
  requests->WithLabels({"/jobs", "200"})->Increment();
  requests->WithLabels({"/jobs", "200"})->Increment(2);
  requests->WithLabels({"/a\"b\\c\nd", "404"})->Increment();
  requests->WithLabels({"/jobs", "200"})->Increment(-5);  // ignored: counters only go up
  EXPECT_EQ(registry.Expose(),
            "# HELP http_requests_total Requests.\\nSecond line.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{route=\"/a\\\"b\\\\c\\nd\",code=\"404\"} 1\n"
            "http_requests_total{route=\"/jobs\",code=\"200\"} 3\n");
}

TEST(RegistryTest, GaugeWithoutLabels) {
  Registry registry;
  GaugeFamily* g = registry.AddGauge("temperature", "Degrees.");
  g->WithLabels({})->Set(21.5);
  g->WithLabels({})->Add(-1);
  EXPECT_EQ(registry.Expose(),
            "# HELP temperature Degrees.\n# TYPE temperature gauge\ntemperature 20.5\n");
}

TEST(RegistryTest, FamilyWithNoChildrenWritesOnlyHeaders) {
  Registry registry;
  registry.AddCounter("c_total", "C.", {"x"});
  EXPECT_EQ(registry.Expose(), "# HELP c_total C.\n# TYPE c_total counter\n");
}

TEST(RegistryTest, HistogramBucketsAreCumulativeWithSumAndCount) {
  Registry registry;
  HistogramFamily* h = registry.AddHistogram("lat_seconds", "Latency.", {"method"}, {0.1, 1, 10});
  Histogram* get = h->WithLabels({"Get"});
  for (double v : {0.05, 0.1, 0.5, 2.0, 100.0}) get->Observe(v);
  get->Observe(std::nan(""));  // ignored
  EXPECT_EQ(registry.Expose(),
            "# HELP lat_seconds Latency.\n"
            "# TYPE lat_seconds histogram\n"
            "lat_seconds_bucket{method=\"Get\",le=\"0.1\"} 2\n"  // le is inclusive: 0.1 counts
            "lat_seconds_bucket{method=\"Get\",le=\"1\"} 3\n"
            "lat_seconds_bucket{method=\"Get\",le=\"10\"} 4\n"
            "lat_seconds_bucket{method=\"Get\",le=\"+Inf\"} 5\n"
            "lat_seconds_sum{method=\"Get\"} 102.65\n"
            "lat_seconds_count{method=\"Get\"} 5\n");
  const Histogram::Snapshot snap = get->Snap();
  EXPECT_EQ(snap.count, 5u);
  EXPECT_EQ(snap.counts, (std::vector<uint64_t>{2, 1, 1, 1}));
}

TEST(RegistryTest, ReAddingReturnsTheSameFamily) {
  Registry registry;
  CounterFamily* a = registry.AddCounter("x_total", "X.", {"k"});
  CounterFamily* b = registry.AddCounter("x_total", "X again.", {"k"});
  EXPECT_EQ(a, b);
  HistogramFamily* h1 = registry.AddHistogram("h", "H.", {}, {1, 2});
  EXPECT_EQ(h1, registry.AddHistogram("h", "H.", {}, {1, 2}));
}

TEST(RegistryDeathTest, BrokenContractsCrash) {
  Registry registry;
  CounterFamily* c = registry.AddCounter("x_total", "X.", {"k"});
  EXPECT_DEATH(c->WithLabels({"a", "b"}), "label values");
  EXPECT_DEATH(registry.AddGauge("x_total", "X.", {"k"}), "another type");
  EXPECT_DEATH(registry.AddCounter("x_total", "X.", {"j"}), "other label names");
  EXPECT_DEATH(registry.AddCounter("bad-name", "X."), "metric name");
  EXPECT_DEATH(registry.AddHistogram("h2", "H.", {}, {2, 1}), "bounds");
  EXPECT_DEATH(registry.AddHistogram("h3", "H.", {"le"}, {1}), "label name");
}

TEST(RegistryTest, CollectorsRunAfterFamiliesAtEveryExpose) {
  Registry registry;
  registry.AddGauge("a", "A.")->WithLabels({})->Set(1);
  int calls = 0;
  registry.AddCollector([&calls](TextWriter& out) {
    ++calls;
    out.Header("b_seconds", "B.", TextWriter::Type::kHistogram);
    out.Histogram("b_seconds", {{"kind", "ptq"}}, {1}, {0, 2}, 7);
  });
  const std::string text = registry.Expose();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(text,
            "# HELP a A.\n# TYPE a gauge\na 1\n"
            "# HELP b_seconds B.\n# TYPE b_seconds histogram\n"
            "b_seconds_bucket{kind=\"ptq\",le=\"1\"} 0\n"
            "b_seconds_bucket{kind=\"ptq\",le=\"+Inf\"} 2\n"
            "b_seconds_sum{kind=\"ptq\"} 7\n"
            "b_seconds_count{kind=\"ptq\"} 2\n");
  registry.Expose();
  EXPECT_EQ(calls, 2);
}

TEST(RegistryTest, ConcurrentUpdatesAreNotLost) {
  Registry registry;
  CounterFamily* c = registry.AddCounter("n_total", "N.", {"t"});
  HistogramFamily* h = registry.AddHistogram("v", "V.", {"t"}, {0.5});
  constexpr int kThreads = 4;
  constexpr int kIters = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        c->WithLabels({t % 2 == 0 ? "even" : "odd"})->Increment();
        h->WithLabels({"all"})->Observe(i % 2);
        if (i % 1000 == 0) registry.Expose();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(c->WithLabels({"even"})->Value(), kThreads / 2 * kIters);
  EXPECT_EQ(c->WithLabels({"odd"})->Value(), kThreads / 2 * kIters);
  const Histogram::Snapshot snap = h->WithLabels({"all"})->Snap();
  EXPECT_EQ(snap.count, uint64_t{kThreads} * kIters);
  EXPECT_EQ(snap.counts[0], uint64_t{kThreads} * kIters / 2);
  EXPECT_THAT(registry.Expose(), Not(HasSubstr("NaN")));
}

}  // namespace
}  // namespace mp::metrics
