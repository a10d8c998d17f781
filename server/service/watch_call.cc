#include "server/service/watch_call.h"

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "boost/asio/post.hpp"
#include "server/service/grpc_status.h"
#include "server/service/rpc_util.h"

namespace mp::service {
namespace {

constexpr int kEventsPerRead = 64;

class WatchCall final : public grpc::ServerWriteReactor<v1::JobEvent>,
                        public Interruptible,
                        public std::enable_shared_from_this<WatchCall> {
 public:
  WatchCall(ServiceCore* core, std::string job_id, int64_t after_sequence)
      : core_(core), job_id_(std::move(job_id)), last_sequence_(after_sequence) {}

  void Start(grpc::CallbackServerContext* context) {
    self_ = shared_from_this();
    absl::Status status = Prepare(context);
    if (!status.ok()) {
      {
        absl::MutexLock lock(&mu_);
        finished_ = true;
      }
      Finish(ToGrpcStatus(status));
      return;
    }
    std::weak_ptr<WatchCall> weak = weak_from_this();
    token_ = core_->queue()->Subscribe(job_id_, [weak] {
      if (auto call = weak.lock()) call->PostPump();
    });
    Pump();
  }

  void Interrupt() override {
    EndSoon(grpc::Status(grpc::StatusCode::UNAVAILABLE,
                         "server shutting down; resume the watch with after_sequence"));
  }

 private:
  absl::Status Prepare(grpc::CallbackServerContext* context) {
    ASSIGN_OR_RETURN(Principal caller, core_->auth().Authenticate(*context, Role::kUser));
    tenant_ = caller.tenant;
    RETURN_IF_ERROR(ParseIdField<JobId>("id", job_id_).status());
    if (last_sequence_ < 0) {
      return absl::InvalidArgumentError(
          StrCat("after_sequence: must be >= 0, got ", last_sequence_));
    }
    RETURN_IF_ERROR(core_->queue()->Get(tenant_, job_id_).status());
    if (!core_->Register(shared_from_this())) {
      return absl::UnavailableError("server shutting down");
    }
    registered_ = true;
    return absl::OkStatus();
  }

  void PostPump() {
    boost::asio::post(core_->executor(), [self = shared_from_this()] { self->Pump(); });
  }

  // Ends the call with `status` as soon as no pump or write is in flight.
  void EndSoon(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || end_status_.has_value()) return;
      end_status_ = std::move(status);
      if (pumping_ || writing_) return;  // the in-flight step finishes the call
      finished_ = true;
    }
    Finish(*end_status_);
  }

  void Pump() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (pumping_ || writing_) {
        dirty_ = true;
        return;
      }
      pumping_ = true;
    }
    for (;;) {
      int64_t cursor;
      {
        absl::MutexLock lock(&mu_);
        dirty_ = false;
        cursor = last_sequence_;
      }
      absl::StatusOr<v1::Job> job = core_->queue()->Get(tenant_, job_id_);
      absl::StatusOr<std::vector<v1::JobEvent>> events =
          job.ok() ? core_->queue()->Events(tenant_, job_id_, cursor, kEventsPerRead)
                   : absl::StatusOr<std::vector<v1::JobEvent>>(job.status());
      std::optional<grpc::Status> finish;
      bool write = false;
      {
        absl::MutexLock lock(&mu_);
        pumping_ = false;
        if (end_status_.has_value()) {
          finish = *end_status_;
        } else if (!events.ok()) {
          finish = ToGrpcStatus(events.status());
        } else if (!events->empty()) {
          for (v1::JobEvent& e : *events) pending_.push_back(std::move(e));
          last_sequence_ = pending_.back().sequence();
          current_ = std::move(pending_.front());
          pending_.pop_front();
          writing_ = true;
          write = true;
        } else if (queue::IsTerminal(job->state())) {
          finish = grpc::Status::OK;
        } else if (dirty_) {
          pumping_ = true;
          continue;  // a notification arrived during the read
        }
        if (finish.has_value()) finished_ = true;
      }
      if (finish.has_value()) Finish(*finish);
      if (write) StartWrite(&current_);
      return;
    }
  }

  void OnWriteDone(bool ok) override {
    std::optional<grpc::Status> finish;
    bool write = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        finish = grpc::Status(grpc::StatusCode::CANCELLED, "watch stream closed");
      } else if (end_status_.has_value()) {
        finish = *end_status_;
      } else if (!pending_.empty()) {
        current_ = std::move(pending_.front());
        pending_.pop_front();
        writing_ = true;
        write = true;
      }
      if (finish.has_value()) finished_ = true;
    }
    if (finish.has_value()) {
      Finish(*finish);
    } else if (write) {
      StartWrite(&current_);
    } else {
      PostPump();  // read what was committed meanwhile, or finish if terminal
    }
  }

  void OnCancel() override {
    EndSoon(grpc::Status(grpc::StatusCode::CANCELLED, "watch cancelled by the client"));
  }

  void OnDone() override {
    if (token_ != 0) core_->queue()->Unsubscribe(token_);
    if (registered_) core_->Unregister(this);
    std::shared_ptr<WatchCall> keep = std::move(self_);  // may destroy *this on return
  }

  ServiceCore* const core_;
  const std::string job_id_;
  std::string tenant_;
  std::shared_ptr<WatchCall> self_;  // keeps the call alive until OnDone
  queue::Notifier::Token token_ = 0;
  bool registered_ = false;

  absl::Mutex mu_;
  int64_t last_sequence_ ABSL_GUARDED_BY(mu_);
  bool pumping_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> end_status_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::JobEvent> pending_ ABSL_GUARDED_BY(mu_);
  v1::JobEvent current_;  // the message being written; touched only by the writing step
};

}  // namespace

grpc::ServerWriteReactor<v1::JobEvent>* StartWatchJob(ServiceCore* core,
                                                      grpc::CallbackServerContext* context,
                                                      const v1::WatchJobRequest& request) {
  auto call = std::make_shared<WatchCall>(core, request.id(), request.after_sequence());
  call->Start(context);
  return call.get();
}

}  // namespace mp::service
