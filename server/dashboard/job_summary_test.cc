// CompressionSummary: the key figures of prune / distill / compose jobs from their metrics.
#include "server/dashboard/job_summary.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mp::dashboard {
namespace {

namespace v1 = ::modelpress::v1;
using ::testing::HasSubstr;
using ::testing::Not;

v1::Job Job(v1::JobKind kind, const std::vector<std::pair<std::string, double>>& metrics) {
  v1::Job job;
  job.mutable_spec()->set_kind(kind);
  for (const auto& [name, value] : metrics) {
    v1::Metric* m = job.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  return job;
}

TEST(CompressionSummaryTest, PruneShowsBeforeAfterAndTheChange) {
  const std::string html = CompressionSummary(Job(v1::JOB_KIND_PRUNE, {{"accuracy_before", 0.9},
                                                                       {"accuracy_after", 0.8875},
                                                                       {"macs_before", 400000},
                                                                       {"macs_after", 100000},
                                                                       {"sparsity", 0.5},
                                                                       {"pruned_accuracy", 0.5}}));
  EXPECT_THAT(html, HasSubstr("<h2>Summary</h2>"));
  EXPECT_THAT(html, HasSubstr("<th>original</th><th>pruned</th><th>change</th>"));
  EXPECT_THAT(html, HasSubstr("<tr><th>accuracy</th><td class=\"num\">90%</td>"
                              "<td class=\"num\">88.75%</td><td class=\"num\">-1.25 pt</td></tr>"));
  EXPECT_THAT(html, HasSubstr("<tr><th>MACs (batch 1)</th><td class=\"num\">400000</td>"
                              "<td class=\"num\">100000</td><td class=\"num\">0.25x</td></tr>"));
  EXPECT_THAT(html, HasSubstr("<th>sparsity</th><td class=\"num\">50%</td>"));
  EXPECT_THAT(html, HasSubstr("<th>accuracy right after pruning</th><td class=\"num\">50%</td>"));
  EXPECT_THAT(html, Not(HasSubstr("latency")));  // not reported: no row
}

TEST(CompressionSummaryTest, DistillAndComposeColumns) {
  std::string html = CompressionSummary(
      Job(v1::JOB_KIND_DISTILL,
          {{"teacher_parameters", 60000}, {"student_parameters", 15000}, {"distill_gain", 0.02}}));
  EXPECT_THAT(html, HasSubstr("<th>teacher</th><th>student before</th><th>student after</th>"));
  EXPECT_THAT(html, HasSubstr("<tr><th>parameters</th><td class=\"num\">60000</td>"
                              "<td class=\"num\">-</td><td class=\"num\">15000</td>"
                              "<td class=\"num\">0.25x</td></tr>"));
  EXPECT_THAT(html, HasSubstr("<th>gain over the baseline</th><td class=\"num\">2%</td>"));
  html = CompressionSummary(
      Job(v1::JOB_KIND_COMPOSE,
          {{"model_bytes_fp32", 4096}, {"model_bytes_pruned", 2048}, {"model_bytes_int8", 1024}}));
  EXPECT_THAT(html, HasSubstr("<th>original fp32</th><th>pruned fp32</th><th>int8</th>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"num\">4.0 KiB</td>"));
  EXPECT_THAT(html, HasSubstr("<td class=\"num\">0.25x</td>"));
}

TEST(CompressionSummaryTest, QatJobsCompareQatWithPlainPtq) {
  std::string html =
      CompressionSummary(Job(v1::JOB_KIND_DISTILL, {{"student_accuracy_after", 0.85},
                                                    {"student_accuracy_int8", 0.84},
                                                    {"student_accuracy_int8_ptq", 0.8},
                                                    {"int8_model_bytes", 2048},
                                                    {"latency_ms_batch1_int8", 0.25}}));
  EXPECT_THAT(html, HasSubstr("<h3>Quantization-aware training</h3>"));
  EXPECT_THAT(html, HasSubstr("<tr><th></th><th>plain PTQ</th><th>QAT</th><th>change</th></tr>"
                              "<tr><th>int8 accuracy</th><td class=\"num\">80%</td>"
                              "<td class=\"num\">84%</td><td class=\"num\">+4.00 pt</td></tr>"));
  EXPECT_THAT(html, HasSubstr("<th>int8 student model bytes</th><td class=\"num\">2.0 KiB</td>"));
  EXPECT_THAT(html,
              HasSubstr("<th>int8 student latency (batch 1)</th><td class=\"num\">0.25 ms</td>"));
  html = CompressionSummary(
      Job(v1::JOB_KIND_COMPOSE,
          {{"accuracy_fp32", 0.9}, {"accuracy_int8", 0.875}, {"accuracy_int8_ptq", 0.88}}));
  EXPECT_THAT(html, HasSubstr("<tr><th>int8 accuracy</th><td class=\"num\">88%</td>"
                              "<td class=\"num\">87.5%</td><td class=\"num\">-0.50 pt</td></tr>"));
  // Without QAT (no plain-PTQ comparison metric): no QAT table.
  html = CompressionSummary(Job(v1::JOB_KIND_COMPOSE, {{"accuracy_int8", 0.875}}));
  EXPECT_THAT(html, Not(HasSubstr("Quantization-aware")));
  html = CompressionSummary(Job(v1::JOB_KIND_DISTILL, {{"student_accuracy_after", 0.85}}));
  EXPECT_THAT(html, Not(HasSubstr("Quantization-aware")));
}

TEST(CompressionSummaryTest, EmptyForOtherKindsAndWithoutMetrics) {
  EXPECT_EQ(CompressionSummary(Job(v1::JOB_KIND_PTQ, {{"accuracy_before", 0.9}})), "");
  EXPECT_EQ(CompressionSummary(Job(v1::JOB_KIND_PRUNE, {})), "");
  EXPECT_EQ(CompressionSummary(Job(v1::JOB_KIND_PRUNE, {{"unrelated", 1}})), "");
}

}  // namespace
}  // namespace mp::dashboard
