#ifndef CLS_COORDINATOR_ROUND_ROUND_SCHEDULER_H_
#define CLS_COORDINATOR_ROUND_ROUND_SCHEDULER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/error.h"
#include "coordinator/config.h"
#include "coordinator/monitoring/coordinator_metrics.h"
#include "coordinator/round/grouped_round.h"
#include "coordinator/round/round_finalizer.h"
#include "coordinator/round/round_planner.h"
#include "coordinator/sites/site_registry.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// The live state of the round in progress, for operators.
struct RoundProgress {
  RoundRecord record;
  std::string stage;  // a protocol stage, or "finalizing"
};

// The queue of requested rounds and the round in progress: starts each
// round the planner plans over the registry's active sites, routes the
// sites' round messages and losses to it, arms the stage deadline, and
// hands a finished round to the finalizer; the next queued round starts
// after the pause only once the finalizer is done.
// Single-threaded: every call on the io_context thread. Borrows everything.
class RoundScheduler {
 public:
  // `workers` (may be null) is for the round's own heavy work (its unmask).
  RoundScheduler(boost::asio::io_context& io, const CoordinatorConfig& config,
                 CoordinatorStore& store, SiteRegistry& sites,
                 RoundPlanner& planner, RoundFinalizer& finalizer,
                 cls::WorkerPool* workers = nullptr);
  ~RoundScheduler();

  // At start: aborts rounds a crash or stop left "running" (audited).
  static Status AbortInterruptedRounds(CoordinatorStore& store);

  // Queues `count` (1..1000) training rounds and starts the first; the id
  // of the first. Refused while a round runs or finalizes, while rounds are
  // queued, with too few active sites, or when the privacy budget cannot
  // pay for the next round.
  Result<int64_t> StartRounds(int count, const Actor& actor);

  // The operator's abort of the running round (audited as
  // round_abort_requested with the actor): the round ends "aborted" with
  // reason "aborted by operator NAME", the sites told, nothing committed or
  // charged; queued rounds still run after it. The round's id;
  // FailedPrecondition when no round is running, or when the round is
  // already finalizing (its result is being committed). `reason` replaces
  // the operator's when given (a stopping coordinator).
  Result<int64_t> AbortRound(const Actor& actor, std::string reason = "");
  // Drops the requested rounds not started yet (audited as
  // training_rounds_cleared); the running round is left alone. How many.
  int ClearQueue(const Actor& actor);

  // A round message from a site (ignored unless it takes part in the
  // running round).
  void OnRoundMessage(const std::string& site_id,
                      const protocol::Message& message);
  // The site's connection is gone (or replaced).
  void OnSiteLost(const std::string& site_id);

  std::optional<RoundProgress> CurrentRound() const;
  // Stage durations and round outcomes go here from now on (null: none).
  // Must outlive the scheduler.
  void SetMetrics(CoordinatorMetrics* metrics) { metrics_ = metrics; }
  int queued_rounds() const { return queued_rounds_; }
  bool finalizing() const { return finalizing_.has_value(); }

 private:
  void StartNextRound();
  // Stops the queue with a logged and audited reason.
  void StopQueue(const std::string& reason);
  void ScheduleNextRound();
  void ArmDeadline();
  // After anything that may have moved the round: a site message, a lost
  // site, a deadline. The round's progress without a site message (a
  // background unmask finishing, coordinator/round/) comes here too.
  void AfterRoundEvent();
  void FinishRound();
  // The stage seen so far ended (its duration to the metrics); `next` began.
  void EnterStage(RoundStage next);
  void OnFinalized(const RoundRecord& record);

  // What the round sends through: the registry's connections, and this
  // thread as the place where its background unmask reports back.
  class RoundLink final : public RoundSender {
   public:
    RoundLink(SiteRegistry& sites, boost::asio::any_io_executor executor)
        : sites_(sites), executor_(std::move(executor)) {}
    void Send(const std::string& site_id, protocol::Message message) override;
    void Disconnect(const std::string& site_id,
                    std::string_view reason) override;
    boost::asio::any_io_executor executor() override { return executor_; }

   private:
    SiteRegistry& sites_;
    boost::asio::any_io_executor executor_;
  };

  boost::asio::io_context& io_;
  const CoordinatorConfig& config_;
  CoordinatorStore& store_;
  SiteRegistry& sites_;
  RoundLink link_;
  RoundPlanner& planner_;
  RoundFinalizer& finalizer_;
  cls::WorkerPool* workers_;
  int queued_rounds_ = 0;
  // One group unless [robust] is enabled.
  std::unique_ptr<GroupedRound> round_;
  PlannedRound plan_;  // of the running round
  RoundRecord round_record_;
  std::chrono::steady_clock::time_point round_started_;
  int round_transitions_seen_ = 0;
  // The running round's stage as last seen, and since when.
  RoundStage stage_ = RoundStage::kAdvertiseKeys;
  std::chrono::steady_clock::time_point stage_started_;
  CoordinatorMetrics* metrics_ = nullptr;
  // The round being finalized (stage "finalizing").
  std::optional<RoundRecord> finalizing_;
  boost::asio::steady_timer deadline_;
  boost::asio::steady_timer next_round_timer_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_SCHEDULER_H_
