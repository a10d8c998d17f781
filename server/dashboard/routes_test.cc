// Routes over a fake data source: listing, filters, paging, single pages, status codes,
// escaping and authentication.
#include <string>

#include "common/metrics.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/dashboard/fake_data_test_util.h"
#include "server/dashboard/routes.h"

namespace mp::dashboard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kXss[] = "<script>alert('x')</script>";

class RoutesTest : public ::testing::Test {
 protected:
  RoutesTest() : metrics_(&registry_) {
    data_.AddJob("default", "job_a", v1::JOB_KIND_PTQ, v1::JOB_STATE_SUCCEEDED);
    data_.AddJob("default", "job_b", v1::JOB_KIND_INSPECT, v1::JOB_STATE_RUNNING);
    data_.AddJob("default", "job_c", v1::JOB_KIND_PTQ, v1::JOB_STATE_QUEUED);
    data_.AddJob("other", "job_foreign", v1::JOB_KIND_PTQ, v1::JOB_STATE_RUNNING);
  }

  HttpResponse Get(std::string target, std::string authorization = "") {
    Router router(&data_, &metrics_, options_);
    return router.Handle(
        HttpRequest{.target = std::move(target), .authorization = std::move(authorization)});
  }

  FakeData data_;
  metrics::Registry registry_;
  ServerMetrics metrics_;
  RouterOptions options_;
};

TEST_F(RoutesTest, JobsPageListsTheTenantsJobsNewestFirst) {
  const HttpResponse r = Get("/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  const size_t a = r.body.find("job_a"), b = r.body.find("job_b"), c = r.body.find("job_c");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(c, b);
  EXPECT_LT(b, a);
  EXPECT_THAT(r.body, Not(HasSubstr("job_foreign")));
  EXPECT_THAT(r.body, HasSubstr("http-equiv=\"refresh\""));
  EXPECT_THAT(r.body, HasSubstr("<span class=\"state state-running\">running</span>"));
}

TEST_F(RoutesTest, JobsPageFiltersByStateAndKind) {
  HttpResponse r = Get("/?state=running");
  EXPECT_THAT(r.body, HasSubstr("job_b"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_a")));
  EXPECT_THAT(r.body, Not(HasSubstr("job_c")));

  r = Get("/?state=queued,succeeded");
  EXPECT_THAT(r.body, HasSubstr("job_a"));
  EXPECT_THAT(r.body, HasSubstr("job_c"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_b")));

  r = Get("/?state=QUEUED&state=JOB_STATE_RUNNING");
  EXPECT_THAT(r.body, HasSubstr("job_b"));
  EXPECT_THAT(r.body, HasSubstr("job_c"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_a")));

  r = Get("/?kind=ptq");
  EXPECT_THAT(r.body, HasSubstr("job_a"));
  EXPECT_THAT(r.body, HasSubstr("job_c"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_b\"")));

  r = Get("/?kind=ptq&state=queued");
  EXPECT_THAT(r.body, HasSubstr("job_c"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_a")));
}

TEST_F(RoutesTest, BadQueryIs400NamingTheParameter) {
  HttpResponse r = Get("/?state=sleeping");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("query parameter &#39;state&#39;: unknown state"));
  EXPECT_EQ(Get("/?kind=zip").status, 400);
  EXPECT_EQ(Get("/?page_size=0").status, 400);
  EXPECT_EQ(Get("/?page_size=1001").status, 400);
  EXPECT_EQ(Get("/?page_size=abc").status, 400);
  EXPECT_EQ(Get("/?page_token=not-a-token").status, 400);
  EXPECT_EQ(Get("/?state=%zz").status, 400);
  EXPECT_EQ(Get("/models?page_size=-1").status, 400);
}

TEST_F(RoutesTest, PagingFollowsNextPageTokens) {
  for (int i = 0; i < 5; ++i) {
    data_.AddJob("default", "job_p" + std::to_string(i), v1::JOB_KIND_PRUNE, v1::JOB_STATE_QUEUED);
  }
  HttpResponse r = Get("/?kind=prune&page_size=2");
  EXPECT_THAT(r.body, HasSubstr("job_p4"));
  EXPECT_THAT(r.body, HasSubstr("job_p3"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_p2")));
  // The next link keeps the filters and carries the token.
  EXPECT_THAT(r.body, HasSubstr("href=\"/?kind=prune&amp;page_size=2&amp;page_token=2\""));
  r = Get("/?kind=prune&page_size=2&page_token=2");
  EXPECT_THAT(r.body, HasSubstr("job_p2"));
  EXPECT_THAT(r.body, HasSubstr("job_p1"));
  EXPECT_THAT(r.body, HasSubstr("page_token=4"));
  EXPECT_THAT(r.body, HasSubstr("first page"));
  r = Get("/?kind=prune&page_size=2&page_token=4");
  EXPECT_THAT(r.body, HasSubstr("job_p0"));
  EXPECT_THAT(r.body, Not(HasSubstr("next page")));
}

TEST_F(RoutesTest, UnknownAndForeignIdsAre404) {
  EXPECT_EQ(Get("/jobs/job_nope").status, 404);
  EXPECT_EQ(Get("/jobs/job_foreign").status, 404);
  EXPECT_EQ(Get("/models/model_nope").status, 404);
  EXPECT_EQ(Get("/no/such/page").status, 404);
  EXPECT_EQ(Get("/jobs/job_a/extra").status, 404);
  EXPECT_EQ(Get("/jobs/job_a").status, 200);
}

TEST_F(RoutesTest, JobPageShowsEverythingAndEscapesUserStrings) {
  v1::Job& job = data_.AddJob("default", "job_x", v1::JOB_KIND_PTQ, v1::JOB_STATE_FAILED);
  job.set_step(kXss);
  job.set_error(std::string("bad node ") + kXss);
  job.set_started_unix_ms(job.created_unix_ms() + 1000);
  job.set_finished_unix_ms(job.created_unix_ms() + 13'500);
  job.set_attempts(2);
  v1::Metric* m = job.add_metrics();
  m->set_name("accuracy<b>");
  m->set_value(0.9125);
  v1::Artifact* a = job.add_artifacts();
  a->set_name("model\"onmouseover=\"x");
  a->mutable_blob()->set_sha256("ab12");
  a->mutable_blob()->set_size_bytes(3 * 1024 * 1024 / 2);
  (*job.mutable_inputs())["calibration"].set_sha256("cd34");
  v1::JobEvent e;
  e.set_sequence(1);
  e.set_state(v1::JOB_STATE_RUNNING);
  e.set_progress(0.25);
  e.set_step("calibrate");
  e.set_log(std::string("line1\n") + kXss);
  data_.events["job_x"].push_back(e);

  const HttpResponse r = Get("/jobs/job_x");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.body, Not(HasSubstr("<script>")));
  EXPECT_THAT(r.body, Not(HasSubstr("\"onmouseover")));
  EXPECT_THAT(r.body, Not(HasSubstr("accuracy<b>")));
  EXPECT_THAT(r.body, HasSubstr("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
  EXPECT_THAT(r.body, HasSubstr("model&quot;onmouseover=&quot;x"));
  EXPECT_THAT(r.body, HasSubstr("accuracy&lt;b&gt;"));
  EXPECT_THAT(r.body, HasSubstr("0.9125"));
  EXPECT_THAT(r.body, HasSubstr("1.5 MiB"));
  EXPECT_THAT(r.body, HasSubstr("2 of 3"));
  EXPECT_THAT(r.body, HasSubstr("calibrate"));
  EXPECT_THAT(r.body, HasSubstr("cd34"));
  EXPECT_THAT(r.body, HasSubstr("&quot;kind&quot;: &quot;JOB_KIND_PTQ&quot;"));  // the spec
  EXPECT_THAT(r.body, HasSubstr("<tr><th>duration</th><td>12.5 s</td></tr>"));
  // Finished: no auto-refresh.
  EXPECT_THAT(r.body, Not(HasSubstr("http-equiv=\"refresh\"")));
  EXPECT_THAT(Get("/jobs/job_b").body, HasSubstr("http-equiv=\"refresh\""));
}

TEST_F(RoutesTest, JobPageShowsOnlyTheLatestEvents) {
  options_.max_events_shown = 3;
  for (int i = 1; i <= 2500; ++i) {  // more than one page of the data source
    v1::JobEvent e;
    e.set_sequence(i);
    e.set_step("step" + std::to_string(i) + "x");
    data_.events["job_b"].push_back(e);
  }
  const HttpResponse r = Get("/jobs/job_b");
  EXPECT_THAT(r.body, HasSubstr("Showing the latest 3 events"));
  EXPECT_THAT(r.body, HasSubstr("step2500x"));
  EXPECT_THAT(r.body, HasSubstr("step2498x"));
  EXPECT_THAT(r.body, Not(HasSubstr("step2497x")));
}

TEST_F(RoutesTest, PtqReportRendersTheLayerTable) {
  v1::Job& job = data_.jobs[0].second;  // job_a: PTQ, succeeded
  v1::Artifact* a = job.add_artifacts();
  a->set_name("report");
  a->mutable_blob()->set_sha256("feed");
  data_.blobs["feed"] = R"({"layers": [
      {"name": "conv1", "op": "Conv", "sqnr_db": 38.25, "sensitivity": 0.004, "fallback": false},
      {"name": "<img src=x onerror=alert(1)>", "sqnr": 12.5, "accuracy_drop": 0.03,
       "quantized": false}],
    "notes": ["kept fc in fp32"]})";
  HttpResponse r = Get("/jobs/job_a");
  EXPECT_THAT(r.body, HasSubstr("Per-layer report"));
  EXPECT_THAT(r.body, HasSubstr("<td>conv1</td><td>Conv</td><td class=\"num\">38.25</td>"
                                "<td class=\"num\">0.004</td><td>no</td>"));
  EXPECT_THAT(r.body, HasSubstr("&lt;img src=x onerror=alert(1)&gt;"));
  EXPECT_THAT(r.body, HasSubstr("<td class=\"num\">12.5</td><td class=\"num\">0.03</td>"
                                "<td>yes</td>"));
  EXPECT_THAT(r.body, HasSubstr("<li>kept fc in fp32</li>"));
  EXPECT_THAT(r.body, Not(HasSubstr("<img")));

  data_.blobs["feed"] = "not json {";
  EXPECT_THAT(Get("/jobs/job_a").body, HasSubstr("The report artifact is not JSON."));
  data_.blobs.clear();
  EXPECT_THAT(Get("/jobs/job_a").body, HasSubstr("cannot read the report"));
}

TEST_F(RoutesTest, PruneJobPageShowsItsSummary) {
  v1::Job& job = data_.AddJob("default", "job_p", v1::JOB_KIND_PRUNE, v1::JOB_STATE_SUCCEEDED);
  for (const auto& [name, value] : {std::pair{"macs_before", 400.0}, {"macs_after", 100.0}}) {
    v1::Metric* m = job.add_metrics();
    m->set_name(name);
    m->set_value(value);
  }
  HttpResponse r = Get("/jobs/job_p");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<h2>Summary</h2>"));
  EXPECT_THAT(r.body, HasSubstr("<th>MACs (batch 1)</th><td class=\"num\">400</td>"));
  EXPECT_THAT(Get("/jobs/job_a").body, Not(HasSubstr("<h2>Summary</h2>")));  // PTQ
}

TEST_F(RoutesTest, ModelPagesShowTheInspection) {
  v1::Model model;
  model.set_id("model_1");
  model.set_name(std::string("net") + kXss + ".onnx");
  model.mutable_blob()->set_size_bytes(2048);
  v1::ModelInspection* in = model.mutable_inspection();
  in->set_ir_version(8);
  in->set_opset(17);
  in->set_parameter_count(12345);
  (*in->mutable_op_counts())["Conv"] = 4;
  (*in->mutable_op_counts())["Gemm"] = 1;
  in->add_unsupported_ops("Weird<Op>");
  v1::TensorInfo* input = in->add_inputs();
  input->set_name("input");
  input->set_dtype(v1::DATA_TYPE_FLOAT);
  input->add_dims(-1);
  input->add_dims(28);
  input->add_dim_params("batch");
  input->add_dim_params("");
  data_.models.emplace_back("default", model);
  model.set_id("model_foreign");
  data_.models.emplace_back("other", model);

  HttpResponse r = Get("/models");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("href=\"/models/model_1\""));
  EXPECT_THAT(r.body, HasSubstr("2.0 KiB"));
  EXPECT_THAT(r.body, HasSubstr("12345"));
  EXPECT_THAT(r.body, Not(HasSubstr("model_foreign")));
  EXPECT_THAT(r.body, Not(HasSubstr("<script>")));

  r = Get("/models/model_1");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("<tr><td>Conv</td><td class=\"num\">4</td></tr>"));
  EXPECT_THAT(r.body, HasSubstr("Weird&lt;Op&gt;"));
  EXPECT_THAT(r.body, HasSubstr("<td>input</td><td>FLOAT</td><td>[batch, 28]</td>"));
  EXPECT_THAT(r.body, Not(HasSubstr("<script>")));
  EXPECT_EQ(Get("/models/model_foreign").status, 404);
}

TEST_F(RoutesTest, AuthenticationScopesToTheTokensTenant) {
  options_.authenticate = [](std::string_view token) -> std::optional<std::string> {
    if (token == "tok-other") return "other";
    if (token == "tok-default") return "default";
    return std::nullopt;
  };
  HttpResponse r = Get("/");
  EXPECT_EQ(r.status, 401);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "WWW-Authenticate");
  EXPECT_EQ(Get("/", "Bearer wrong").status, 401);
  EXPECT_EQ(Get("/", "Basic dG9rLW90aGVy").status, 401);
  EXPECT_EQ(Get("/api/jobs").status, 401);
  EXPECT_EQ(Get("/jobs/job_foreign").status, 401);

  r = Get("/", "Bearer tok-other");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr("job_foreign"));
  EXPECT_THAT(r.body, Not(HasSubstr("job_a")));
  EXPECT_EQ(Get("/jobs/job_foreign", "bearer tok-other").status, 200);
  EXPECT_EQ(Get("/jobs/job_a", "Bearer tok-other").status, 404);
  EXPECT_EQ(Get("/jobs/job_a", "Bearer tok-default").status, 200);
  // Health and metrics are for probes and scrapers: no token.
  EXPECT_EQ(Get("/healthz").status, 200);
  EXPECT_EQ(Get("/metrics").status, 200);
}

TEST_F(RoutesTest, HealthzAndStoreOutages) {
  HttpResponse r = Get("/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  data_.unavailable = true;
  r = Get("/healthz");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("store busy"));
  EXPECT_EQ(Get("/").status, 503);
  EXPECT_EQ(Get("/api/jobs/job_a").status, 503);
}

TEST_F(RoutesTest, OnlyGetAndHead) {
  Router router(&data_, &metrics_, options_);
  HttpResponse r = router.Handle(HttpRequest{.method = "POST", .target = "/"});
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(router.Handle(HttpRequest{.method = "HEAD", .target = "/"}).status, 200);
  EXPECT_EQ(router.Handle(HttpRequest{.method = "GET", .target = "no-slash"}).status, 400);
}

TEST_F(RoutesTest, RequestsAreCountedByRoutePattern) {
  Get("/jobs/job_a");
  Get("/jobs/job_b");
  Get("/jobs/job_nope");
  Get("/nothing-here");
  const std::string text = registry_.Expose();
  EXPECT_THAT(text,
              HasSubstr("modelpress_http_requests_total{route=\"/jobs/:id\",code=\"200\"} 2"));
  EXPECT_THAT(text,
              HasSubstr("modelpress_http_requests_total{route=\"/jobs/:id\",code=\"404\"} 1"));
  EXPECT_THAT(text, HasSubstr("modelpress_http_requests_total{route=\"other\",code=\"404\"} 1"));
}

}  // namespace
}  // namespace mp::dashboard
