// The JSON API's shape and the /metrics exposition over a fake data source.
#include <string>

#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "server/dashboard/fake_data_test_util.h"
#include "server/dashboard/metric_names.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class ApiMetricsTest : public ::testing::Test {
 protected:
  ApiMetricsTest() : metrics_(&registry_) {}

  HttpResponse Get(std::string target) {
    Router router(&data_, &metrics_, options_);
    return router.Handle(HttpRequest{.target = std::move(target)});
  }

  FakeData data_;
  metrics::Registry registry_;
  ServerMetrics metrics_;
  RouterOptions options_;
};

TEST_F(ApiMetricsTest, ApiJobsMirrorsTheProtoFields) {
  v1::Job& job = data_.AddJob("default", "job_1", v1::JOB_KIND_PTQ, v1::JOB_STATE_RUNNING);
  job.set_progress(0.5);
  job.set_step("calibrate \"quoted\"");
  job.set_attempts(1);
  v1::Metric* m = job.add_metrics();
  m->set_name("accuracy");
  m->set_value(0.91);
  data_.AddJob("default", "job_2", v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED);
  data_.AddJob("other", "job_3", v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED);

  HttpResponse r = Get("/api/jobs?page_size=1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  nlohmann::json body = nlohmann::json::parse(r.body);
  ASSERT_EQ(body["jobs"].size(), 1u);
  EXPECT_EQ(body["jobs"][0]["id"], "job_2");
  EXPECT_EQ(body["next_page_token"], "1");

  r = Get("/api/jobs?page_size=1&page_token=1");
  body = nlohmann::json::parse(r.body);
  ASSERT_EQ(body["jobs"].size(), 1u);
  const nlohmann::json& j = body["jobs"][0];
  EXPECT_EQ(j["id"], "job_1");
  EXPECT_EQ(j["state"], "JOB_STATE_RUNNING");
  EXPECT_EQ(j["spec"]["kind"], "JOB_KIND_PTQ");
  EXPECT_EQ(j["progress"], 0.5);
  EXPECT_EQ(j["step"], "calibrate \"quoted\"");
  EXPECT_EQ(j["attempts"], 1);
  EXPECT_EQ(j["max_attempts"], 3);
  EXPECT_EQ(j["created_unix_ms"], "1700000000000");  // proto3 JSON: int64 as a string
  EXPECT_EQ(j["metrics"][0]["name"], "accuracy");
  EXPECT_EQ(j["error"], "");  // every field present
  EXPECT_EQ(body["next_page_token"], "");

  r = Get("/api/jobs/job_1");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(nlohmann::json::parse(r.body)["id"], "job_1");

  r = Get("/api/jobs?state=running");
  body = nlohmann::json::parse(r.body);
  ASSERT_EQ(body["jobs"].size(), 1u);
  EXPECT_EQ(body["jobs"][0]["id"], "job_1");
}

TEST_F(ApiMetricsTest, ApiErrorsAreJson) {
  data_.AddJob("other", "job_3", v1::JOB_KIND_INSPECT, v1::JOB_STATE_QUEUED);
  HttpResponse r = Get("/api/jobs/job_3");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.content_type, "application/json");
  nlohmann::json body = nlohmann::json::parse(r.body);
  EXPECT_EQ(body["error"]["code"], "NOT_FOUND");
  EXPECT_THAT(body["error"]["message"].get<std::string>(), HasSubstr("job_3"));

  r = Get("/api/jobs?kind=nonsense");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "INVALID_ARGUMENT");
  r = Get("/api/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(nlohmann::json::parse(r.body)["error"]["code"], "NOT_FOUND");
}

TEST_F(ApiMetricsTest, MetricsExposeEveryNameAndTheStoreAggregates) {
  v1::Job& a = data_.AddJob("default", "job_a", v1::JOB_KIND_PTQ, v1::JOB_STATE_SUCCEEDED);
  a.set_attempts(2);
  a.set_started_unix_ms(10'000);
  a.set_finished_unix_ms(13'000);  // 3 s
  v1::Job& b = data_.AddJob("default", "job_b", v1::JOB_KIND_PTQ, v1::JOB_STATE_FAILED);
  b.set_attempts(1);
  b.set_started_unix_ms(10'000);
  b.set_finished_unix_ms(10'500);  // 0.5 s: on a bucket bound, counted in le="0.5"
  v1::Job& c = data_.AddJob("t2", "job_c", v1::JOB_KIND_INSPECT, v1::JOB_STATE_RUNNING);
  c.set_attempts(1);
  c.set_started_unix_ms(10'000);
  data_.blob_bytes = 4096;
  data_.tenant_bytes["default"] = 1000;
  data_.tenant_bytes["we\"ird\\"] = 7;
  metrics_.SetLocalWorkerRestarts([] { return int64_t{3}; });
  metrics_.grpc_requests->WithLabels({"/modelpress.v1.JobService/GetJob", "OK"})->Increment();

  const HttpResponse r = Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  for (std::string_view name : metric_names::kAll) {
    EXPECT_THAT(r.body, HasSubstr("# TYPE " + std::string(name) + " ")) << name;
  }
  for (std::string_view name : metric_names::kHistograms) {
    EXPECT_THAT(r.body, HasSubstr("# TYPE " + std::string(name) + " histogram\n")) << name;
  }
  const std::string& t = r.body;
  EXPECT_THAT(t, HasSubstr("\nmodelpress_jobs{state=\"succeeded\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_jobs{state=\"running\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_jobs{state=\"dead\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_jobs_by_kind{kind=\"ptq\",state=\"failed\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_jobs_by_kind{kind=\"inspect\",state=\"running\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_jobs_submitted_total{kind=\"ptq\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_job_attempts_total{kind=\"ptq\"} 3\n"));
  EXPECT_THAT(t,
              HasSubstr("\nmodelpress_job_duration_seconds_bucket{kind=\"ptq\",le=\"0.5\"} 1\n"));
  EXPECT_THAT(t,
              HasSubstr("\nmodelpress_job_duration_seconds_bucket{kind=\"ptq\",le=\"2.5\"} 1\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_job_duration_seconds_bucket{kind=\"ptq\",le=\"5\"} 2\n"));
  EXPECT_THAT(t,
              HasSubstr("\nmodelpress_job_duration_seconds_bucket{kind=\"ptq\",le=\"+Inf\"} 2\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_job_duration_seconds_sum{kind=\"ptq\"} 3.5\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_job_duration_seconds_count{kind=\"ptq\"} 2\n"));
  // The running inspect job has not finished: no duration.
  EXPECT_THAT(t, HasSubstr("\nmodelpress_job_duration_seconds_count{kind=\"inspect\"} 0\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_blob_bytes 4096\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_tenant_bytes{tenant=\"default\"} 1000\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_tenant_bytes{tenant=\"we\\\"ird\\\\\"} 7\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_local_worker_restarts_total 3\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_store_up 1\n"));
  EXPECT_THAT(t, HasSubstr("\nmodelpress_grpc_requests_total{method=\"/modelpress.v1.JobService/"
                           "GetJob\",code=\"OK\"} 1\n"));
}

TEST_F(ApiMetricsTest, MetricsSurviveAStoreOutage) {
  data_.unavailable = true;
  const HttpResponse r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("\nmodelpress_store_up 0\n"));
  EXPECT_THAT(r.body, HasSubstr("# TYPE modelpress_grpc_requests_total counter"));
  EXPECT_THAT(r.body, Not(HasSubstr("modelpress_jobs{")));
}

TEST(ParseJobQueryTest, Defaults) {
  absl::StatusOr<Target> t = ParseTarget("/?model_id=model_1");
  ASSERT_TRUE(t.ok());
  store::JobFilter filter;
  int size = 0;
  std::string token = "x";
  ASSERT_TRUE(ParseJobQuery(*t, &filter, &size, &token).ok());
  EXPECT_EQ(size, 50);
  EXPECT_EQ(token, "");
  EXPECT_EQ(filter.model_id, "model_1");
  EXPECT_TRUE(filter.states.empty());
  EXPECT_EQ(filter.kind, v1::JOB_KIND_UNSPECIFIED);
}

TEST(HttpTypesTest, ParseTargetDecodes) {
  absl::StatusOr<Target> t = ParseTarget("/jobs/a%20b?x=1+2&y=%3C&x=3&flag&=v#frag");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->path, "/jobs/a b");
  EXPECT_EQ(t->Get("x"), "3");
  EXPECT_EQ(t->GetAll("x"), (std::vector<std::string>{"1 2", "3"}));
  EXPECT_EQ(t->Get("y"), "<");
  EXPECT_EQ(t->Get("flag"), "");
  EXPECT_EQ(t->Get("missing"), std::nullopt);
  EXPECT_FALSE(ParseTarget("/a%2").ok());
  EXPECT_FALSE(ParseTarget("/a%00b").ok());
  EXPECT_FALSE(ParseTarget("http://host/").ok());
  EXPECT_EQ(UrlEncode("a b/<&>~"), "a%20b%2F%3C%26%3E~");
}

TEST(HttpTypesTest, BearerToken) {
  EXPECT_EQ(BearerToken("Bearer abc"), "abc");
  EXPECT_EQ(BearerToken("bearer   abc  "), "abc");
  EXPECT_EQ(BearerToken("Basic abc"), std::nullopt);
  EXPECT_EQ(BearerToken("Bearer "), std::nullopt);
  EXPECT_EQ(BearerToken(""), std::nullopt);
}

}  // namespace
}  // namespace mp::dashboard
