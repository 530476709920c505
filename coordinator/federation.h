#ifndef CLS_COORDINATOR_FEDERATION_H_
#define CLS_COORDINATOR_FEDERATION_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>

#include "common/error.h"
#include "common/worker_pool.h"
#include "coordinator/config.h"
#include "coordinator/deployment_manager.h"
#include "coordinator/feature_statistics_store.h"
#include "coordinator/round/grouped_round.h"
#include "coordinator/round/secure_round.h"
#include "coordinator/round_privacy.h"
#include "coordinator/store.h"
#include "core/robust/robust_pipeline.h"
#include "core/server_optimizer.h"
#include "crypto/signature.h"
#include "crypto/tls_context.h"

namespace cls::coordinator {

// A live connection to a site agent, as the federation sees it.
class SiteConnection {
 public:
  virtual ~SiteConnection() = default;
  // Queues an encoded frame; never blocks.
  virtual void Send(std::shared_ptr<const Bytes> frame) = 0;
  virtual void Close(std::string_view reason) = 0;
};

// Who asked, for the audit log.
struct Actor {
  std::string name;
  std::string role;
};

// The live state of the round in progress, for operators.
struct RoundProgress {
  RoundRecord record;
  std::string stage;
};

// The coordinator's federation logic: which sites are connected and approved,
// the queue of requested rounds, the round in progress, and what happens when
// a round ends (new model version, records, audit entries, result to the
// sites). It sends through the sessions; the round logic sends through it.
// Single-threaded: every call on the io_context thread.
class Federation final : public RoundSender {
 public:
  Federation(boost::asio::io_context& io, const CoordinatorConfig& config,
             CoordinatorStore& store);
  ~Federation() override;

  // Aborts a round a crash left running and loads (or creates) the model.
  Status Initialize();

  // Site protocol. OnHello returns the Welcome, or the reason to refuse.
  Result<protocol::Welcome> OnHello(std::shared_ptr<SiteConnection> connection,
                                    const crypto::PeerIdentity& peer,
                                    const protocol::Hello& hello);
  void OnSiteMessage(const std::string& site_id,
                     const protocol::Message& message);
  void OnSiteDisconnected(const std::string& site_id,
                          const SiteConnection* connection);

  // Operator actions.
  Status ApproveSite(const std::string& site_id, const Actor& actor);
  // Lifts a trust quarantine: clears the site's evidence, sets the
  // operator's trust score and lets it join rounds again (audited).
  // FailedPrecondition unless the site is quarantined.
  Status ReinstateSite(const std::string& site_id, double trust_score,
                       const Actor& actor);
  Result<int64_t> StartRounds(int count, const Actor& actor);

  // Queries.
  bool IsConnected(const std::string& site_id) const {
    return connections_.count(site_id) > 0;
  }
  size_t connected_count() const { return connections_.size(); }
  std::optional<RoundProgress> CurrentRound() const;
  int queued_rounds() const { return queued_rounds_; }
  const ModelRecord& model() const { return model_; }
  const CoordinatorConfig& config() const { return config_; }
  CoordinatorStore& store() { return store_; }
  // Null when [privacy] mode = "off".
  RoundPrivacy* privacy() { return privacy_.get(); }

  // Audit checkpoints (docs/audit.md): each new one goes to every connected
  // site, and the latest to each site right after its Welcome.
  void PublishAuditCheckpoint(std::string checkpoint_json);
  void SendLatestAuditCheckpoint(const std::string& site_id);

  // Deployments and drift (issue 5): the latest deployment goes to each site
  // right after its Welcome, so a site that was offline catches up.
  void SendLatestDeployment(const std::string& site_id);
  DeploymentManager& deployments() { return *deployments_; }

  // RoundSender.
  void Send(const std::string& site_id, protocol::Message message) override;
  void Disconnect(const std::string& site_id, std::string_view reason) override;
  boost::asio::any_io_executor executor() override {
    return io_.get_executor();
  }

 private:
  std::vector<SiteRecord> ActiveSites();
  void StartNextRound();
  void ScheduleNextRound();
  void ArmDeadline();
  void AfterRoundEvent();
  void FinishRound();
  void FinishStatisticsRound(RoundRecord& record);
  Status LoadFeatureStatistics();
  Status OpenDeployments();
  bool UsesFederationStatistics() const;
  int ModelFeatureCount() const;
  Status CommitCompletedRound(RoundRecord& record,
                              std::span<const float> mean_delta);
  // The DP plan of a training round over `participants` (weights sum to 1).
  Result<RoundPrivacy::Plan> PlanPrivacy(
      int64_t round_id, const std::vector<RoundParticipant>& participants,
      const RoundSettings& settings) const;
  // The released mean delta of the completed round: decoded with the sites'
  // noise (distributed) or noised here (central), and charged to the ledger
  // before anything leaves; `privacy` receives the audit fields.
  Result<std::vector<float>> PrivateMeanDelta(std::vector<float> mean,
                                              nlohmann::json& privacy);
  // [robust]: the robust rule across the group sums replaces the mean, and
  // the groups' anomalies update the participants' trust in memory
  // (pending_trust_; written only by SavePendingTrust). `robust` receives
  // the audit fields.
  Status ApplyRobustAggregation(std::vector<float>& mean,
                                nlohmann::json& robust);
  // Writes pending_trust_ (trust states, new quarantines); call inside the
  // transaction that commits the round's outcome.
  Status SavePendingTrust();
  // After that commit: audits and logs the new quarantines, clears
  // pending_trust_.
  void AnnounceQuarantines();
  // Trust x samples weights of the sites about to take part (robust on).
  Result<std::vector<core::robust::SiteTrust>> LoadTrust(
      const std::vector<SiteRecord>& sites);
  void AuditOrLog(const Actor& actor, const std::string& event,
                  const nlohmann::json& fields);
  // [robust] at start-up: logged (warn when secure aggregation is off) and
  // audited as robust_aggregation_configured.
  void AnnounceRobustMode();
  // The CN of the coordinator's certificate (bound into the sites'
  // signatures), read from [tls] cert the first time.
  Result<std::string> CoordinatorId();
  // Sites whose own signatures proved a protocol breach in this round:
  // audited, logged and given full blame in their trust.
  void RecordMisbehaviours(const std::vector<Misbehaviour>& misbehaviours);

  boost::asio::io_context& io_;
  const CoordinatorConfig& config_;
  CoordinatorStore& store_;
  std::map<std::string, std::shared_ptr<SiteConnection>> connections_;
  ModelRecord model_;
  // The round's unmask arithmetic runs here (issue 13).
  std::unique_ptr<WorkerPool> workers_ = std::make_unique<WorkerPool>();
  // One group unless [robust] is enabled.
  std::unique_ptr<GroupedRound> round_;
  RoundRecord round_record_;
  std::chrono::steady_clock::time_point round_started_;
  int round_transitions_seen_ = 0;
  // Sites that received the last completed round's model and may report its
  // evaluation, once each; a late or repeated report is ignored.
  int64_t evaluated_round_ = 0;
  std::set<std::string> awaiting_evaluation_;
  int queued_rounds_ = 0;
  // Federation-wide feature statistics (standardisation = "federation").
  std::optional<StoredFeatureStatistics> feature_statistics_;
  bool statistics_round_ = false;        // the running round sums statistics
  std::string latest_audit_checkpoint_;  // JSON; empty until the first
  std::optional<core::ServerOptimizer> server_optimizer_;
  std::unique_ptr<RoundPrivacy> privacy_;
  std::unique_ptr<DeploymentManager> deployments_;
  std::optional<RoundPrivacy::Plan> privacy_plan_;  // of the running round
  // [robust]: the running round's participants' trust (by participant
  // index) and the last released update (centered clipping's centre).
  std::vector<core::robust::SiteTrust> round_trust_;
  // Each connected site's certificate, from its TLS session: the round relays
  // it to the site's neighbours and checks its signatures with it.
  std::map<std::string, std::shared_ptr<const crypto::Certificate>>
      certificates_;
  std::string coordinator_id_;  // CN of our certificate; read on first round
  // The finishing round's new trust, stored only if the round commits.
  struct PendingTrust {
    std::string site_id;
    core::robust::SiteTrust state;
    double trust = 0;
    bool quarantined_now = false;
  };
  std::vector<PendingTrust> pending_trust_;
  std::vector<float> previous_update_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer next_round_timer_;
};

// The model kind of a secure feature-statistics round.
inline constexpr std::string_view kFeatureStatisticsKind = "feature_statistics";

// v{N}_{YYYYMMDD_HHMMSS}
std::string MakeVersionId(int64_t sequence);
std::string ParameterHash(const std::vector<float>& parameters);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_FEDERATION_H_
