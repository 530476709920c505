#ifndef CLS_COORDINATOR_ROUND_ROUND_FINALIZER_H_
#define CLS_COORDINATOR_ROUND_ROUND_FINALIZER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/worker_pool.h"
#include "coordinator/config.h"
#include "coordinator/privacy/round_privacy.h"
#include "coordinator/round/evaluation_intake.h"
#include "coordinator/round/feature_statistics_store.h"
#include "coordinator/sites/site_registry.h"
#include "coordinator/storage/store.h"
#include "core/robust/trust.h"
#include "core/server_optimizer.h"
#include "secagg/server/round_context.h"

namespace cls::coordinator {

// What a finished round leaves for the finalizer, copied out of the
// GroupedRound (which is gone by then).
struct FinishedRound {
  // As started (id, participants, started_at), with finished_at, duration
  // and the dropped sites filled in.
  RoundRecord record;
  std::chrono::steady_clock::time_point started;
  bool completed = false;  // false: aborted, for abort_reason
  std::string abort_reason;
  // Completed: every completed group together. With several groups (only
  // [robust] plans them) mean_delta is empty: the robust rule works from
  // `groups`.
  RoundOutcome outcome;
  // Completed groups' weighted means ([robust] training rounds).
  struct GroupSum {
    std::vector<std::string> contributors;
    std::vector<float> mean_delta;
    double contributor_weight = 0;  // round-scale weight of its contributors
  };
  std::vector<GroupSum> groups;
  std::vector<RoundParticipant> participants;  // round-scale weights
  std::vector<Misbehaviour> misbehaviours;
  core::QuantizationSpec quantization;
  bool secure_aggregation = true;  // false: per-site robust mode
  bool statistics_round = false;
  std::optional<RoundPrivacy::Plan> privacy_plan;
  std::vector<core::robust::SiteTrust> trust;  // [robust], by participant
};

// Turns a finished round into the federation's next state: the robust rule
// across the group sums and the trust it teaches, the DP noise and its
// charge, the new model version, the round record, the audit entries and
// the result to the sites. It owns the current model (and the server
// optimizer's state and the federation-wide feature statistics).
//
// Threads: the heavy part (robust aggregation, DP noise, the next model with
// its hash and sealed artifact) runs on the worker pool with its inputs
// copied (the current model and optimizer state are read in place: they
// change only in the commit, after the pool's answer); everything that
// touches the database or the sites (charge, commit, audit, broadcast) runs
// on the io thread when the result comes back. One finalization at a time. A
// stop while it runs commits nothing: the round stays "running" and is aborted
// at the next start. Without a pool the heavy part runs inline. The pool must
// be joined before the finalizer is destroyed.
class RoundFinalizer {
 public:
  using Done = std::function<void(const RoundRecord&)>;

  // `privacy`, `workers` may be null. Borrows everything.
  RoundFinalizer(boost::asio::any_io_executor io,
                 const CoordinatorConfig& config, CoordinatorStore& store,
                 SiteRegistry& sites, EvaluationIntake& evaluations,
                 RoundPrivacy* privacy, cls::WorkerPool* workers);

  // At start: the stored feature statistics, the server optimizer, and the
  // latest model (an all-zero one is created and audited on first start).
  Status Load();

  // Finalizes `round`; `done(record)` runs on the io thread once the record
  // is final (committed or aborted) and the sites have the result.
  void Finalize(FinishedRound round, Done done);
  bool busy() const { return busy_; }

  const ModelRecord& model() const { return model_; }
  const std::optional<StoredFeatureStatistics>& feature_statistics() const {
    return feature_statistics_;
  }

 private:
  // A round's audit fields, with "federated": false in single-hospital
  // mode ([federation] federated = false) so every entry of such a round
  // says so.
  nlohmann::json WithMode(nlohmann::json fields) const {
    if (!config_.federated) fields["federated"] = false;
    return fields;
  }
  // The next version as the commit stores it, built on the pool: the
  // current model plus the released update, its hash and sealed artifact,
  // and the server optimizer's state after it.
  struct NextModel {
    ModelRecord record;
    std::optional<SealedArtifact> sealed;  // with a vault attached
    core::ServerOptimizer optimizer;
  };
  // The pool's answer: the released mean and the model it makes, or why
  // not.
  struct Released {
    std::vector<float> mean;
    nlohmann::json robust;  // audit fields ([robust])
    std::vector<TrustUpdate> trust;
    std::optional<Error> robust_error;
    std::optional<Error> noise_error;
    Result<NextModel> next = std::unexpected(Error{});
  };
  struct ReleaseJob;
  static Result<Released> Release(ReleaseJob& job);
  static Result<NextModel> BuildNextModel(const ReleaseJob& job,
                                          std::span<const float> mean_delta);

  void Conclude(FinishedRound& round, Result<Released> released);
  void FinishStatisticsRound(FinishedRound& round);
  // The new version, the round record, trust and the round's audit entry
  // (with `privacy` and released.robust), in one transaction.
  Status Commit(FinishedRound& round, Released& released,
                const nlohmann::json& privacy);
  // The durable DP charge for the round's contributors; `fields` receives
  // the audit fields.
  Status Charge(const FinishedRound& round, nlohmann::json& fields);
  void Abort(RoundRecord& record);
  // After the commit: the log line and the result to the sites.
  void Complete(FinishedRound& round);
  // The current model, with the federation's feature statistics, to every
  // connected site.
  void BroadcastResult(const RoundRecord& record);

  boost::asio::any_io_executor io_;
  const CoordinatorConfig& config_;
  CoordinatorStore& store_;
  SiteRegistry& sites_;
  EvaluationIntake& evaluations_;
  RoundPrivacy* privacy_;
  cls::WorkerPool* workers_;
  ModelRecord model_;
  std::optional<core::ServerOptimizer> server_optimizer_;
  // [robust]: the last released update (centered clipping's centre).
  std::vector<float> previous_update_;
  // Federation-wide feature statistics (standardisation = "federation").
  std::optional<StoredFeatureStatistics> feature_statistics_;
  bool busy_ = false;
  Done done_;
  // Completions after the finalizer is gone are dropped.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// v{N}_{YYYYMMDD_HHMMSS}
std::string MakeVersionId(int64_t sequence);
std::string ParameterHash(const std::vector<float>& parameters);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_FINALIZER_H_
