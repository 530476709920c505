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
    const std::optional<GlobalModel>& latest,
    std::shared_ptr<const drift::DataDriftDetector> input_reference) {
  if (!config.serve) return FailedPrecondition("serve: no [serve] listen");
  if (!config.data) return FailedPrecondition("serve: [serve] needs [data]");
  PredictionServiceOptions options;
  options.retention_s =
      static_cast<int64_t>(config.serve->retention_hours * 3600.0);
  if (options.retention_s < 1) options.retention_s = 1;
  options.max_tracked = config.serve->max_tracked;
  if (config.online && config.online->serve_candidate != "off") {
    auto mode = ParseLocalCandidateMode(config.online->serve_candidate);
    if (!mode) return std::unexpected(mode.error());
    options.local_candidate.mode = *mode;
    options.local_candidate.share = config.online->candidate_share;
  }
  if (config.serve->input_drift_window > 0) {
    options.input_reference = std::move(input_reference);
    options.input_drift.window = config.serve->input_drift_window;
    options.input_drift.interval_s = config.serve->input_drift_interval_s;
  }
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

Standardisation::Standardisation(core::Preprocessor initial)
    : current_(std::make_shared<const core::Preprocessor>(std::move(initial))) {
}

void Standardisation::Set(core::Preprocessor preprocessor) {
  auto next =
      std::make_shared<const core::Preprocessor>(std::move(preprocessor));
  std::lock_guard lock(mu_);
  current_ = std::move(next);
}

std::shared_ptr<const core::Preprocessor> Standardisation::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

PredictionService::Standardiser Standardisation::Standardiser(
    std::shared_ptr<const Standardisation> standardisation) {
  return [standardisation =
              std::move(standardisation)](const core::RawTable& table) {
    const std::shared_ptr<const core::Preprocessor> pre =
        standardisation->current();
    std::vector<int> rows(table.rows.size());
    for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int>(i);
    return pre->Transform(table, rows);
  };
}

SiteServing::~SiteServing() { Stop(); }

Result<uint16_t> SiteServing::Start() {
  if (io_) return FailedPrecondition("serve: already started");
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
  io_ = std::make_unique<boost::asio::io_context>(
      static_cast<int>(config_.threads));
  server_ = std::make_unique<PredictionServer>(*io_, std::move(*context),
                                               *service_, options);
  auto port = server_->Listen();
  if (!port) {
    server_.reset();
    io_.reset();
    return port;
  }
  for (uint32_t i = 0; i < config_.threads; ++i) {
    threads_.emplace_back([io = io_.get()] { io->run(); });
  }
  spdlog::info("serve: {} serving thread(s)", config_.threads);
  return port;
}

void SiteServing::Stop() {
  if (!io_) return;
  io_->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  // No thread runs the io_context now: the server (its acceptor) goes
  // first, then the io_context with the connections it still holds.
  server_.reset();
  io_.reset();
}

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
