#include "server/dashboard/service_hook.h"

#include <map>
#include <memory>
#include <optional>
#include <utility>

#include "common/check.h"
#include "common/status.h"
#include "common/str_cat.h"
#include "server/dashboard/dashboard.h"
#include "server/dashboard/grpc_metrics.h"
#include "server/dashboard/store_data.h"
#include "server/service/auth.h"

namespace mp::dashboard {
namespace {

class DashboardListener final : public service::HttpListener {
 public:
  DashboardListener(std::unique_ptr<StoreDashboardData> data, std::unique_ptr<HttpServer> server)
      : data_(std::move(data)), server_(std::move(server)) {}
  ~DashboardListener() override { server_->Stop(); }  // before data_ goes away

  std::string address() const override { return server_->address(); }
  void Stop() override { server_->Stop(); }

 private:
  std::unique_ptr<StoreDashboardData> data_;
  std::unique_ptr<HttpServer> server_;
};

// Bearer token -> tenant through the server's Authenticator (user tokens only).
std::function<std::optional<std::string>(std::string_view)> TokenLookup(
    const service::Authenticator* auth) {
  return [auth](std::string_view token) -> std::optional<std::string> {
    const std::string value = StrCat("Bearer ", token);
    std::multimap<grpc::string_ref, grpc::string_ref> metadata;
    metadata.emplace("authorization", grpc::string_ref(value.data(), value.size()));
    absl::StatusOr<service::Principal> principal =
        auth->Authenticate(metadata, service::Role::kUser);
    if (!principal.ok()) return std::nullopt;
    return principal->tenant;
  };
}

}  // namespace

service::HttpListenerFactory MakeHttpListenerFactory(HookOptions options) {
  MP_CHECK(options.metrics != nullptr);
  return
      [options = std::move(options)](const std::string& listen, const service::HttpContext& context)
          -> absl::StatusOr<std::unique_ptr<service::HttpListener>> {
        if (context.store == nullptr || context.blobs == nullptr) {
          return absl::InvalidArgumentError("dashboard: the HTTP context has no store");
        }
        const bool auth_on = context.auth != nullptr && context.auth->enabled();
        StoreDataOptions data_options{.store = context.store, .blobs = context.blobs};
        data_options.tenants = options.tenants;
        if (data_options.tenants.empty() && !auth_on) {
          data_options.tenants = {std::string(service::kDefaultTenant)};
        }
        auto data = std::make_unique<StoreDashboardData>(std::move(data_options));
        DashboardOptions dashboard{.address = listen,
                                   .data = data.get(),
                                   .metrics = options.metrics,
                                   .threads = options.threads};
        dashboard.routes.default_tenant = std::string(service::kDefaultTenant);
        if (auth_on) dashboard.routes.authenticate = TokenLookup(context.auth);
        absl::StatusOr<std::unique_ptr<HttpServer>> server = StartDashboard(dashboard);
        if (!server.ok()) return Annotate(server.status(), StrCat("--http ", listen));
        return std::make_unique<DashboardListener>(std::move(data), *std::move(server));
      };
}

void AddMetricsInterceptor(grpc::ServerBuilder& builder, ServerMetrics* metrics) {
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> creators;
  creators.push_back(MakeMetricsInterceptorFactory(metrics));
  builder.experimental().SetInterceptorCreators(std::move(creators));
}

}  // namespace mp::dashboard
