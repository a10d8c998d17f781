#include "server/service/lease_call.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>

#include "boost/asio/post.hpp"
#include "boost/asio/steady_timer.hpp"
#include "server/service/grpc_status.h"

namespace mp::service {
namespace {

namespace asio = boost::asio;

class LeaseCall final : public grpc::ServerUnaryReactor,
                        public Interruptible,
                        public std::enable_shared_from_this<LeaseCall> {
 public:
  LeaseCall(ServiceCore* core, v1::LeaseJobRequest request, v1::LeaseJobResponse* response)
      : core_(core), request_(std::move(request)), response_(response) {}

  void Start() {
    self_ = shared_from_this();
    const int64_t wait_ms =
        std::clamp<int64_t>(request_.wait_ms(), 0, core_->options().max_lease_wait_ms);
    if (wait_ms > 0) {
      if (!core_->Register(shared_from_this())) {
        End(grpc::Status::OK);  // shutting down: no job for you
        return;
      }
      registered_ = true;
      timer_ = std::make_shared<asio::steady_timer>(core_->executor(),
                                                    std::chrono::milliseconds(wait_ms));
      std::weak_ptr<LeaseCall> weak = weak_from_this();
      timer_->async_wait([weak, timer = timer_](const boost::system::error_code& ec) {
        if (ec) return;
        if (auto call = weak.lock()) call->End(grpc::Status::OK);
      });
    } else {
      once_ = true;
    }
    Attempt();
  }

  void Interrupt() override { End(grpc::Status::OK); }

 private:
  void Attempt() {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      if (attempting_) {
        again_ = true;
        return;
      }
      attempting_ = true;
    }
    for (;;) {
      queue::Notifier::Token token = 0;
      if (!once_) {
        std::weak_ptr<LeaseCall> weak = weak_from_this();
        token = core_->queue()->AddRunnableWaiter([weak] {
          if (auto call = weak.lock()) {
            asio::post(call->core_->executor(), [call] { call->Attempt(); });
          }
        });
      }
      absl::StatusOr<v1::LeaseJobResponse> leased = core_->queue()->Lease(request_);
      std::optional<grpc::Status> finish;
      {
        absl::MutexLock lock(&mu_);
        attempting_ = false;
        waiter_ = token;
        if (!leased.ok()) {
          finish = ToGrpcStatus(leased.status());
        } else if (leased->has_lease()) {
          *response_ = *std::move(leased);
          finish = grpc::Status::OK;
        } else if (end_status_.has_value() || once_) {
          finish = end_status_.value_or(grpc::Status::OK);
        } else if (again_) {
          again_ = false;
          attempting_ = true;
          if (token != 0) core_->queue()->RemoveRunnableWaiter(token);
          continue;
        }
        if (finish.has_value()) finished_ = true;
      }
      if (finish.has_value()) Complete(*finish);
      return;
    }
  }

  // Ends the call with no lease (or `status`) once no attempt is in flight.
  void End(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_ || end_status_.has_value()) return;
      end_status_ = std::move(status);
      if (attempting_) return;  // the attempt in flight finishes the call
      finished_ = true;
    }
    Complete(*end_status_);
  }

  void Complete(const grpc::Status& status) {
    queue::Notifier::Token waiter;
    {
      absl::MutexLock lock(&mu_);
      waiter = waiter_;
      waiter_ = 0;
    }
    if (waiter != 0) core_->queue()->RemoveRunnableWaiter(waiter);
    if (timer_ != nullptr) {
      asio::post(core_->executor(), [timer = timer_] { timer->cancel(); });
    }
    Finish(status);
  }

  void OnCancel() override { End(grpc::Status(grpc::StatusCode::CANCELLED, "lease cancelled")); }

  void OnDone() override {
    if (registered_) core_->Unregister(this);
    std::shared_ptr<LeaseCall> keep = std::move(self_);  // may destroy *this on return
  }

  ServiceCore* const core_;
  const v1::LeaseJobRequest request_;
  v1::LeaseJobResponse* const response_;
  std::shared_ptr<LeaseCall> self_;
  std::shared_ptr<asio::steady_timer> timer_;
  bool registered_ = false;
  bool once_ = false;  // wait_ms <= 0: a single attempt

  absl::Mutex mu_;
  bool attempting_ ABSL_GUARDED_BY(mu_) = false;
  bool again_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  queue::Notifier::Token waiter_ ABSL_GUARDED_BY(mu_) = 0;
  std::optional<grpc::Status> end_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

grpc::ServerUnaryReactor* StartLeaseJob(ServiceCore* core, grpc::CallbackServerContext* context,
                                        const v1::LeaseJobRequest& request,
                                        v1::LeaseJobResponse* response) {
  auto call = std::make_shared<LeaseCall>(core, request, response);
  call->Start();
  return call.get();
}

}  // namespace mp::service
