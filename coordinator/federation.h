#ifndef CLS_COORDINATOR_FEDERATION_H_
#define CLS_COORDINATOR_FEDERATION_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "common/worker_pool.h"
#include "coordinator/admin/admin_api.h"
#include "coordinator/config.h"
#include "coordinator/deployment/deployment_manager.h"
#include "coordinator/deployment/drift_responder.h"
#include "coordinator/deployment/drift_webhook.h"
#include "coordinator/privacy/round_privacy.h"
#include "coordinator/round/evaluation_intake.h"
#include "coordinator/round/round_finalizer.h"
#include "coordinator/round/round_history.h"
#include "coordinator/round/round_planner.h"
#include "coordinator/round/round_scheduler.h"
#include "coordinator/sites/site_registry.h"
#include "coordinator/storage/backup_service.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// The coordinator's services wired together (docs/architecture.md): the
// SiteRegistry (admission, connections, trust), the RoundScheduler (queue,
// timers, the round in progress), the RoundPlanner (settings, groups, DP
// plan), the RoundFinalizer (robust rule, charge, commit, broadcast; owns
// the current model), the EvaluationIntake, the privacy service and the
// DeploymentManager. It owns them and routes the site sessions' calls;
// it decides nothing itself.
// Single-threaded: every call on the io_context thread. The worker pool
// (may be null: heavy work then runs inline) is borrowed and must be joined
// before the Federation is destroyed.
class Federation final {
 public:
  Federation(boost::asio::io_context& io, const CoordinatorConfig& config,
             CoordinatorStore& store, cls::WorkerPool* workers = nullptr);
  ~Federation();

  // Aborts rounds a crash left running, opens the services and loads (or
  // creates) the model. The accessors below need it to have succeeded.
  Status Initialize();

  // Site protocol, from the site sessions. OnHello returns the Welcome, or
  // the reason to refuse.
  Result<protocol::Welcome> OnHello(std::shared_ptr<SiteConnection> connection,
                                    const crypto::PeerIdentity& peer,
                                    const protocol::Hello& hello);
  void OnSiteMessage(const std::string& site_id,
                     const protocol::Message& message);
  void OnSiteDisconnected(const std::string& site_id,
                          const SiteConnection* connection);
  // Right after a Welcome: the latest audit checkpoint and deployment, so a
  // site that was offline catches up.
  void SendLatestAuditCheckpoint(const std::string& site_id) {
    sites_.SendLatestAuditCheckpoint(site_id);
  }
  void SendLatestDeployment(const std::string& site_id);
  void PublishAuditCheckpoint(std::string checkpoint_json) {
    sites_.PublishAuditCheckpoint(std::move(checkpoint_json));
  }

  // The services.
  SiteRegistry& sites() { return sites_; }
  RoundScheduler& rounds() { return *scheduler_; }
  const ModelRecord& model() const { return finalizer_->model(); }
  const CoordinatorConfig& config() const { return config_; }
  // Null when [privacy] mode = "off".
  RoundPrivacy* privacy() { return privacy_.get(); }
  DeploymentManager& deployments() { return *deployments_; }
  // The metrics the services report to (null: none); must outlive the
  // federation.
  void SetMetrics(CoordinatorMetrics* metrics);
  CoordinatorMetrics* metrics() { return metrics_; }
  // Null when [backup] dir is not set.
  BackupService* backup() { return backup_.get(); }
  // What the admin API is handed.
  AdminServices admin_services();

 private:
  Status OpenDeployments();
  // [drift]: the severity responses (webhook, retraining), after the
  // deployments.
  Status OpenDriftResponder();
  // [robust] at start-up: logged (warn when secure aggregation is off) and
  // audited as robust_aggregation_configured.
  void AnnounceRobustMode();
  // [backup] set: raises the ledger to the high-water mark in the backup
  // folder (privacy_high_water.h) and keeps the mark current from now on.
  Status KeepPrivacyHighWater();
  // [backup] set: a warning when the KEK is a file inside data_dir.
  void WarnIfKekIsOnlyInDataDir();

  boost::asio::io_context& io_;
  const CoordinatorConfig& config_;
  CoordinatorStore& store_;
  cls::WorkerPool* workers_;
  SiteRegistry sites_;
  EvaluationIntake evaluations_;
  RoundHistory history_;
  VersionImporter importer_;
  std::unique_ptr<RoundPrivacy> privacy_;
  std::unique_ptr<DeploymentManager> deployments_;
  std::unique_ptr<DriftWebhook> drift_webhook_;
  std::unique_ptr<DriftResponder> drift_responder_;
  std::unique_ptr<RoundPlanner> planner_;
  std::unique_ptr<RoundFinalizer> finalizer_;
  std::unique_ptr<RoundScheduler> scheduler_;
  CoordinatorMetrics* metrics_ = nullptr;
  std::unique_ptr<BackupService> backup_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_FEDERATION_H_
