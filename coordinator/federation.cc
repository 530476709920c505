#include "coordinator/federation.h"

#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "coordinator/privacy/privacy_high_water.h"
#include "core/robust/robust_pipeline.h"

namespace cls::coordinator {
namespace {

bool IsSiteToCoordinator(const protocol::Message& m) {
  return std::holds_alternative<protocol::AdvertiseKeys>(m) ||
         std::holds_alternative<protocol::ShareKeys>(m) ||
         std::holds_alternative<protocol::MaskedInput>(m) ||
         std::holds_alternative<protocol::SurvivorSetSignature>(m) ||
         std::holds_alternative<protocol::UnmaskResponse>(m) ||
         std::holds_alternative<protocol::EvaluationReport>(m) ||
         std::holds_alternative<protocol::DeploymentAck>(m) ||
         std::holds_alternative<protocol::DriftReport>(m);
}

}  // namespace

Federation::Federation(boost::asio::io_context& io,
                       const CoordinatorConfig& config, CoordinatorStore& store,
                       cls::WorkerPool* workers)
    : io_(io),
      config_(config),
      store_(store),
      workers_(workers),
      sites_(config, store),
      evaluations_(store),
      history_(store),
      importer_(store, {config.model_type, config.model_kind,
                        config.model_parameters}) {}

Federation::~Federation() = default;

void Federation::SetMetrics(CoordinatorMetrics* metrics) {
  metrics_ = metrics;
  if (scheduler_) scheduler_->SetMetrics(metrics);
}

Status Federation::Initialize() {
  if (auto s = RoundScheduler::AbortInterruptedRounds(store_); !s) return s;
  if (auto s = OpenDeployments(); !s) return s;
  if (config_.privacy.enabled()) {
    auto privacy = RoundPrivacy::Open(
        config_.privacy, store_.db(),
        [this](const std::string& actor, const std::string& event,
               const nlohmann::json& fields) -> Status {
          return store_.Audit(actor, "system", event, fields);
        });
    if (!privacy) return std::unexpected(privacy.error());
    privacy_ = std::move(*privacy);
    spdlog::info(
        "differential privacy: {} mode, noise multiplier {:.4f} (per-round "
        "epsilon {} at delta {}), budget period {} of epsilon {}",
        config_.privacy.mode, privacy_->noise_multiplier(),
        config_.privacy.privacy_epsilon, config_.privacy.delta,
        privacy_->ledger().period().period_id,
        privacy_->ledger().period().epsilon_budget);
  }
  if (config_.backup.enabled()) {
    if (auto s = KeepPrivacyHighWater(); !s) return s;
    WarnIfKekIsOnlyInDataDir();
    backup_ = std::make_unique<BackupService>(
        io_, config_.backup, config_.data_dir + "/coordinator.db", store_,
        workers_);
    backup_->Start();
  }
  planner_ = std::make_unique<RoundPlanner>(config_, privacy_.get());
  finalizer_ = std::make_unique<RoundFinalizer>(io_.get_executor(), config_,
                                                store_, sites_, evaluations_,
                                                privacy_.get(), workers_);
  scheduler_ = std::make_unique<RoundScheduler>(
      io_, config_, store_, sites_, *planner_, *finalizer_, workers_);
  scheduler_->SetMetrics(metrics_);
  sites_.SetOnConnectionReplaced(
      [this](const std::string& site_id) { scheduler_->OnSiteLost(site_id); });
  if (config_.robust.enabled) AnnounceRobustMode();
  if (!config_.federated) {
    // What the coordinator may see changes: loud in the log and the audit
    // trail at every start.
    spdlog::warn(
        "single hospital mode ([federation] federated = false): rounds of one "
        "site, secure aggregation and cross-site differential privacy OFF; "
        "the coordinator sees the site's clipped update");
    AuditOrLog(store_, kSystemActor, "federation_mode_configured",
               {{"federated", false},
                {"secure_aggregation", false},
                {"min_sites", config_.min_sites}});
  }
  return finalizer_->Load();
}

void Federation::WarnIfKekIsOnlyInDataDir() {
  // A backup never holds the KEK; one kept only in data_dir is lost with it.
  const char* env = std::getenv("CLS_MODEL_KEK");
  if (env != nullptr && *env != '\0') return;
  const auto rel =
      std::filesystem::path(config_.versions.kek_file)
          .lexically_normal()
          .lexically_relative(
              std::filesystem::path(config_.data_dir).lexically_normal());
  if (rel.empty() || *rel.begin() == "..") return;
  spdlog::warn(
      "[versions] kek_file {} is inside data_dir and is not in any backup: "
      "copy it to a secret store (docs/operations.md \"Backup and "
      "restore\"), or no restored version can be read",
      config_.versions.kek_file);
}

Status Federation::KeepPrivacyHighWater() {
  if (!privacy_) return {};
  PrivacyLedger& ledger = privacy_->ledger();
  const std::filesystem::path file =
      std::filesystem::path(config_.backup.dir) / kPrivacyHighWaterFile;
  auto mark = ReadPrivacyHighWater(file);
  if (!mark) return std::unexpected(mark.error());
  if (*mark) {
    // After a restore the database may predate spends the mark recorded.
    auto raised = ledger.RaiseToHighWater(**mark);
    if (!raised) return std::unexpected(raised.error());
    if (*raised) {
      spdlog::warn(
          "privacy ledger raised to the high-water mark in {}: epsilon spent "
          "{} in period {} (the database predates some spends, e.g. after a "
          "restore from backup)",
          file.string(), (*mark)->spent_epsilon, (*mark)->period_id);
    }
  }
  // From now on the mark follows every committed spend. Written on the io
  // thread: one small fsynced file per round, like the charge's own commit.
  auto write = [file](const PrivacySpendMark& m) {
    if (auto s = WritePrivacyHighWater(file, m); !s) {
      spdlog::error(
          "privacy high-water mark not written ({}): a restore from backup "
          "could under-count this spend; check [backup] dir",
          s.error().message);
    }
  };
  ledger.OnSpend(write);
  auto now = ledger.Mark();
  if (!now) return std::unexpected(now.error());
  if (!*mark || (*mark)->period_id != now->period_id ||
      (*mark)->spent_epsilon != now->spent_epsilon) {
    write(*now);
  }
  return {};
}

void Federation::AnnounceRobustMode() {
  const auto& rc = config_.robust;
  const std::string rule(core::robust::RobustRuleName(rc.pipeline.rule.rule));
  if (rc.secure_aggregation) {
    spdlog::info(
        "robust aggregation: rule {} across secure-aggregation groups of at "
        "least {} sites",
        rule, rc.group_size);
  } else {
    // An operator's choice that changes what the coordinator may see: loud
    // in the log and in the audit trail at every start.
    spdlog::warn(
        "robust aggregation PER SITE: secure aggregation is OFF for training "
        "rounds ([robust] secure_aggregation = false); the coordinator sees "
        "each site's clipped update; rule {}",
        rule);
  }
  // Central noise is calibrated to the weighted mean's sensitivity
  // (2 C w_max / W on the update, plus rounding); only the mean is proven
  // to have it.
  const bool sensitivity_proven =
      !config_.privacy.enabled() ||
      rc.pipeline.rule.rule == core::robust::RobustRule::kMean;
  if (!sensitivity_proven) {
    spdlog::warn(
        "central DP noise is calibrated to the weighted mean's sensitivity; "
        "rule {} can move further when one site changes, so the charged "
        "epsilon is not a proven bound for it (docs/privacy.md)",
        rule);
  }
  AuditOrLog(store_, kSystemActor, "robust_aggregation_configured",
             {{"secure_aggregation", rc.secure_aggregation},
              {"rule", rule},
              {"group_size", rc.secure_aggregation ? rc.group_size : 1},
              {"trust_floor", rc.trust.floor},
              {"privacy_mode", config_.privacy.mode},
              {"dp_sensitivity_proven", sensitivity_proven}});
}

Result<protocol::Welcome> Federation::OnHello(
    std::shared_ptr<SiteConnection> connection,
    const crypto::PeerIdentity& peer, const protocol::Hello& hello) {
  return sites_.Admit(std::move(connection), peer, hello);
}

void Federation::OnSiteMessage(const std::string& site_id,
                               const protocol::Message& message) {
  if (!IsSiteToCoordinator(message)) {
    sites_.Disconnect(site_id, std::string(protocol::MessageName(message)) +
                                   " is not a site message");
    return;
  }
  if (const auto* input = std::get_if<protocol::MaskedInput>(&message)) {
    sites_.NoteRecordPrivacy(site_id, input->record_privacy);
  }
  // Serving (issue 5): acks and drift reports go to the deployment manager.
  // A malformed report is dropped whole and logged; the site stays connected
  // (its predictions keep being served) but nothing of the report is kept.
  if (const auto* ack = std::get_if<protocol::DeploymentAck>(&message)) {
    deployments_->OnAck(site_id, *ack);
    return;
  }
  if (const auto* drift = std::get_if<protocol::DriftReport>(&message)) {
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
    const auto& before = deployments_->current();
    const std::string before_id = before ? before->deployment_id : "";
    if (auto s = deployments_->OnDriftReport(site_id, *drift, now_s); !s) {
      spdlog::warn("site {}: drift report dropped: {}", site_id,
                   s.error().message);
      return;
    }
    if (metrics_ != nullptr) {
      for (const auto& alert : drift->alerts)
        metrics_->DriftAlert(alert.drift_type);
    }
    const auto& after = deployments_->current();
    const bool rolled_back = after && after->deployment_id != before_id &&
                             after->automatic && after->action == "rollback";
    drift_responder_->OnReport(site_id, deployments_->last_report_alerts(),
                               rolled_back);
    return;
  }
  if (const auto* report = std::get_if<protocol::EvaluationReport>(&message)) {
    if (auto s = evaluations_.OnReport(site_id, *report); !s) {
      sites_.Disconnect(site_id, s.error().message);
    }
    return;
  }
  scheduler_->OnRoundMessage(site_id, message);
}

void Federation::OnSiteDisconnected(const std::string& site_id,
                                    const SiteConnection* connection) {
  if (sites_.Remove(site_id, connection)) scheduler_->OnSiteLost(site_id);
}

Status Federation::OpenDeployments() {
  DeploymentSender sender;
  sender.connected_sites = [this] { return sites_.ConnectedSites(); };
  sender.send = [this](const std::string& site_id, protocol::Message message) {
    sites_.Send(site_id, std::move(message));
  };
  sender.feature_statistics = [this] {
    return finalizer_ && finalizer_->feature_statistics()
               ? finalizer_->feature_statistics()->sums
               : std::vector<double>{};
  };
  // [drift]: every site's monitors use the coordinator's settings.
  sender.drift.performance_threshold = config_.drift.performance_threshold;
  sender.drift.window_size = static_cast<uint32_t>(config_.drift.window_size);
  sender.drift.baseline_validation = config_.drift.baseline == "validation";
  sender.drift.baseline =
      config_.drift.baseline == "fixed" ? config_.drift.baseline_value : -1;
  auto manager = DeploymentManager::Open(
      store_, config_.model_kind, std::move(sender),
      config_.deployment.rollback, config_.deployment.test);
  if (!manager) return std::unexpected(manager.error());
  deployments_ = std::move(*manager);
  deployments_->set_model_spec(ModelSpecText(config_));
  return OpenDriftResponder();
}

Status Federation::OpenDriftResponder() {
  DriftResponseActions actions;
  if (!config_.drift.notify_webhook.empty()) {
    auto url = ParseWebhookUrl(config_.drift.notify_webhook);
    if (!url) return std::unexpected(url.error());
    drift_webhook_ = std::make_unique<DriftWebhook>(
        io_, *url, std::chrono::milliseconds(config_.drift.webhook_timeout_ms));
    actions.notify = [this](std::string body,
                            std::function<void(Status)> done) {
      drift_webhook_->Post(std::move(body), std::move(done));
    };
  }
  actions.queue_training_round = [this]() -> Result<int64_t> {
    return scheduler_->StartRounds(1, kSystemActor);
  };
  actions.count_response = [this](DriftResponse response) {
    if (metrics_ != nullptr) {
      metrics_->DriftResponseTaken(DriftResponseName(response));
    }
  };
  actions.count_notification = [this](bool sent) {
    if (metrics_ != nullptr) metrics_->DriftNotification(sent);
  };
  drift_responder_ =
      std::make_unique<DriftResponder>(config_, store_, std::move(actions));
  return {};
}

AdminServices Federation::admin_services() {
  return {config_,       sites_,         *scheduler_,
          *finalizer_,   history_,       store_.audit_log(),
          *deployments_, privacy_.get(), backup_.get(),
          &importer_};
}

void Federation::SendLatestDeployment(const std::string& site_id) {
  deployments_->OnSiteConnected(site_id);
}

}  // namespace cls::coordinator
