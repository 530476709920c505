#include "site-agent/site_serving.h"

#include <spdlog/spdlog.h>

#include <variant>

namespace cls::site {

SiteServing::SiteServing(ServeConfig config,
                         std::unique_ptr<PredictionService> service,
                         TlsConfig tls, std::string site_id)
    : config_(std::move(config)),
      tls_(std::move(tls)),
      site_id_(std::move(site_id)),
      service_(std::move(service)) {}

Result<std::unique_ptr<SiteServing>> SiteServing::Create(
    const AgentConfig& config, PredictionService::Standardiser standardise,
    const std::optional<GlobalModel>& latest) {
  if (!config.serve) return FailedPrecondition("serve: no [serve] listen");
  if (!config.data) return FailedPrecondition("serve: [serve] needs [data]");
  PredictionServiceOptions options;
  options.retention_s =
      static_cast<int64_t>(config.serve->retention_hours * 3600.0);
  if (options.retention_s < 1) options.retention_s = 1;
  options.max_tracked = config.serve->max_tracked;
  auto service = PredictionService::Create(
      options, config.data->schema, std::move(standardise), config.data_dir);
  if (!service) return std::unexpected(service.error());
  if (auto s = (*service)->Restore(latest); !s) {
    spdlog::error(
        "serve: {}; serving the latest global model until the "
        "coordinator re-sends the deployment",
        s.error().message);
    if (latest) {
      if (auto d = (*service)->OnGlobalModel(*latest); !d) {
        return std::unexpected(d.error());
      }
    }
  }
  TlsConfig tls = config.tls;
  tls.cert = config.serve->cert;
  tls.key = config.serve->key;
  return std::unique_ptr<SiteServing>(new SiteServing(
      *config.serve, std::move(*service), std::move(tls), config.site_id));
}

Result<uint16_t> SiteServing::Start(boost::asio::io_context& io) {
  auto context = MakePredictionTlsContext(tls_, config_.require_client_cert);
  if (!context) return std::unexpected(context.error());
  PredictionServerOptions options;
  options.host = config_.host;
  options.port = config_.port;
  options.idle_timeout = std::chrono::seconds(config_.idle_timeout_s);
  if (config_.require_client_cert) {
    ClientPolicy policy;
    policy.roles = config_.client_roles;
    if (config_.allow_own_site_cert) policy.own_site_id = site_id_;
    options.client_policy = std::move(policy);
  } else {
    options.client_policy = std::nullopt;
  }
  server_ = std::make_unique<PredictionServer>(io, std::move(*context),
                                               *service_, options);
  return server_->Listen();
}

void SiteServing::Stop() { server_.reset(); }

std::optional<protocol::Message> SiteServing::OnMessage(
    const protocol::Message& message) {
  const auto* update = std::get_if<protocol::DeploymentUpdate>(&message);
  if (update == nullptr) return std::nullopt;
  return protocol::Message(service_->OnDeploymentUpdate(*update));
}

Status SiteServing::OnGlobalModel(const GlobalModel& model) {
  return service_->OnGlobalModel(model);
}

std::optional<protocol::DriftReport> SiteServing::DueReport(int64_t now_s) {
  if (now_s - last_report_s_ <
      static_cast<int64_t>(config_.report_interval_s)) {
    return std::nullopt;
  }
  last_report_s_ = now_s;
  protocol::DriftReport report = service_->TakeDriftReport(now_s);
  if (report.summaries.empty() && report.alerts.empty()) return std::nullopt;
  return report;
}

}  // namespace cls::site
