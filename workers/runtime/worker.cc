#include <utility>

#include "spdlog/spdlog.h"
#include "workers/runtime/job_monitor.h"
#include "workers/runtime/job_runner.h"
#include "workers/runtime/runtime.h"

namespace mp::runtime {

namespace v1 = ::modelpress::v1;

Worker::Worker(std::shared_ptr<grpc::ChannelInterface> channel, WorkerOptions options,
               RecipeTable recipes)
    : stub_(v1::WorkerService::NewStub(std::move(channel))),
      options_(std::move(options)),
      recipes_(std::move(recipes)) {}

Worker::~Worker() = default;

void Worker::Stop() {
  absl::MutexLock lock(&mu_);
  if (!stopping_)
    spdlog::info("worker {}: stopping (drain {} s)", options_.worker_id, options_.drain_seconds);
  stopping_ = true;
  if (lease_call_ != nullptr) lease_call_->TryCancel();
  if (monitor_ != nullptr) monitor_->Drain();
}

int Worker::jobs_run() const {
  absl::MutexLock lock(&mu_);
  return jobs_run_;
}

void Worker::Track(JobMonitor* monitor) {
  absl::MutexLock lock(&mu_);
  monitor_ = monitor;
  if (monitor != nullptr && stopping_) monitor->Drain();
}

bool Worker::WaitOrStop(int64_t ms) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Milliseconds(ms));
  return !stopping_;
}

absl::Status Worker::Run() {
  JobRunner runner(*stub_, options_, recipes_, [this](JobMonitor* m) { Track(m); });
  Backoff backoff(options_.backoff_initial_ms, options_.backoff_max_ms);
  v1::LeaseJobRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_wait_ms(options_.lease_wait_ms);
  request.set_engine_version(options_.engine_version);
  for (const auto& [kind, recipe] : recipes_) request.add_kinds(kind);
  spdlog::info("worker {}: leasing (engine {})", options_.worker_id, options_.engine_version);

  while (true) {
    auto context = NewContext(options_.rpc, options_.lease_wait_ms + options_.rpc.timeout_ms);
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) break;
      lease_call_ = context.get();
    }
    v1::LeaseJobResponse response;
    const grpc::Status status = stub_->LeaseJob(context.get(), request, &response);
    {
      absl::MutexLock lock(&mu_);
      lease_call_ = nullptr;
      if (stopping_) break;
    }
    if (!status.ok()) {
      const int64_t delay = backoff.NextDelayMs();
      spdlog::warn("worker {}: LeaseJob: {} (code {}); retrying in {} ms", options_.worker_id,
                   status.error_message(), static_cast<int>(status.error_code()), delay);
      if (!WaitOrStop(delay)) break;
      continue;
    }
    backoff.Reset();
    if (!response.has_lease() || response.lease().job_id().empty()) continue;
    runner.Run(response);
    bool done = false;
    {
      absl::MutexLock lock(&mu_);
      ++jobs_run_;
      done = options_.once;
    }
    if (done) break;
  }
  spdlog::info("worker {}: stopped", options_.worker_id);
  return absl::OkStatus();
}

}  // namespace mp::runtime
