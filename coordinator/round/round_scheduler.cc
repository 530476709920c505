#include "coordinator/round/round_scheduler.h"

#include <spdlog/spdlog.h>

namespace cls::coordinator {
namespace {

// What the finalizer needs of a finished round, taken out of it on the
// round's thread: copies of the small parts, the group means moved (a round
// of 100 sites x 1M parameters would otherwise copy 400 MB here). With
// several groups the cross-group mean is left to the finalizer.
FinishedRound CollectFinishedRound(
    GroupedRound& round, PlannedRound& plan, RoundRecord record,
    std::chrono::steady_clock::time_point started) {
  FinishedRound out;
  out.record = std::move(record);
  out.started = started;
  out.completed = round.stage() == RoundStage::kCompleted;
  out.abort_reason = out.completed ? "" : round.abort_reason();
  out.participants = round.all_participants();
  out.misbehaviours = round.misbehaviours();
  out.quantization = round.settings().quantization;
  out.secure_aggregation = !round.settings().allow_single_site;
  out.statistics_round = plan.statistics_round;
  out.privacy_plan = std::move(plan.privacy_plan);
  out.trust = std::move(plan.trust);
  if (!out.completed) return out;
  out.outcome =
      round.group_count() == 1 ? round.outcome() : round.SummaryOutcome();
  for (size_t k = 0; k < round.group_count(); ++k) {
    const SecureRound& group = round.group(k);
    if (group.stage() != RoundStage::kCompleted) continue;
    out.groups.push_back({group.outcome().contributors, round.TakeGroupMean(k),
                          round.ContributorWeight(k)});
  }
  return out;
}

}  // namespace

void RoundScheduler::RoundLink::Send(const std::string& site_id,
                                     protocol::Message message) {
  sites_.Send(site_id, std::move(message));
}

void RoundScheduler::RoundLink::Disconnect(const std::string& site_id,
                                           std::string_view reason) {
  sites_.Disconnect(site_id, reason);
}

RoundScheduler::RoundScheduler(boost::asio::io_context& io,
                               const CoordinatorConfig& config,
                               CoordinatorStore& store, SiteRegistry& sites,
                               RoundPlanner& planner, RoundFinalizer& finalizer,
                               cls::WorkerPool* workers)
    : io_(io),
      config_(config),
      store_(store),
      sites_(sites),
      link_(sites, io.get_executor()),
      planner_(planner),
      finalizer_(finalizer),
      workers_(workers),
      deadline_(io),
      next_round_timer_(io) {}

RoundScheduler::~RoundScheduler() = default;

Status RoundScheduler::AbortInterruptedRounds(CoordinatorStore& store) {
  auto aborted =
      store.AbortInterruptedRounds("coordinator restarted mid-round");
  if (!aborted) return std::unexpected(aborted.error());
  if (*aborted > 0) {
    spdlog::warn("aborted {} round(s) left running by an earlier stop",
                 *aborted);
    AuditOrLog(
        store, kSystemActor, "federated_round_aborted",
        {{"reason", "coordinator restarted mid-round"}, {"rounds", *aborted}});
  }
  return {};
}

Result<int64_t> RoundScheduler::StartRounds(int count, const Actor& actor) {
  if (count < 1 || count > 1000) {
    return InvalidArgument("rounds must be 1..1000, got " +
                           std::to_string(count));
  }
  if (round_ && !round_->finished()) {
    return FailedPrecondition("round " +
                              std::to_string(round_record_.round_id) +
                              " is running; wait for it to finish");
  }
  if (finalizing_) {
    return FailedPrecondition("round " + std::to_string(finalizing_->round_id) +
                              " is finalizing; wait for it to finish");
  }
  if (queued_rounds_ > 0) {
    return FailedPrecondition(
        std::to_string(queued_rounds_) +
        " requested rounds are still queued; wait for them");
  }
  auto active = sites_.ActiveSites();
  if (static_cast<int>(active.size()) < config_.min_sites) {
    return FailedPrecondition(
        InsufficientSites(active.size(), config_.min_sites));
  }
  auto next_id = store_.NextRoundId();
  if (!next_id) return std::unexpected(next_id.error());
  // The operator hears at once when the budget cannot pay for the next
  // round (the ledger audits the refusal); nothing is queued.
  if (auto s = planner_.CheckBudget(*next_id, active, finalizer_.model()); !s) {
    return std::unexpected(s.error());
  }
  nlohmann::json fields = {{"rounds", count}, {"first_round", *next_id}};
  if (!config_.federated) fields["federated"] = false;
  AuditOrLog(store_, actor, "training_rounds_requested", fields);
  queued_rounds_ = count;
  StartNextRound();
  return *next_id;
}

Result<int64_t> RoundScheduler::AbortRound(const Actor& actor,
                                           std::string reason) {
  if (finalizing_) {
    return FailedPrecondition(
        "round " + std::to_string(finalizing_->round_id) +
        " is finalizing (its result is being committed); it can no longer "
        "be aborted");
  }
  if (!round_ || round_->finished()) {
    return FailedPrecondition("no round is running");
  }
  const int64_t round_id = round_record_.round_id;
  if (reason.empty()) reason = "aborted by operator " + actor.name;
  AuditOrLog(store_, actor, "round_abort_requested",
             {{"round", round_id},
              {"stage", std::string(RoundStageName(round_->stage()))},
              {"reason", reason}});
  spdlog::warn("round {}: {} in stage {}", round_id, reason,
               RoundStageName(round_->stage()));
  round_->Abort(reason);
  // Finished now, or (its unmask on the pool) when that result returns.
  AfterRoundEvent();
  return round_id;
}

int RoundScheduler::ClearQueue(const Actor& actor) {
  const int cleared = queued_rounds_;
  queued_rounds_ = 0;
  next_round_timer_.cancel();
  AuditOrLog(store_, actor, "training_rounds_cleared", {{"cleared", cleared}});
  spdlog::info("{} cleared the round queue ({} rounds not run)", actor.name,
               cleared);
  return cleared;
}

void RoundScheduler::StopQueue(const std::string& reason) {
  AuditOrLog(store_, kSystemActor, "training_rounds_stopped",
             {{"reason", reason}, {"rounds_not_run", queued_rounds_ + 1}});
  queued_rounds_ = 0;
}

void RoundScheduler::StartNextRound() {
  if (queued_rounds_ <= 0 || round_ || finalizing_) return;
  // Without federation-wide statistics yet, a statistics round comes first;
  // it does not count as one of the requested training rounds.
  const bool statistics_round =
      UsesFederationStatistics(config_) && !finalizer_.feature_statistics();
  if (!statistics_round) --queued_rounds_;
  auto active = sites_.ActiveSites();
  if (static_cast<int>(active.size()) < config_.min_sites) {
    std::string why = InsufficientSites(active.size(), config_.min_sites);
    spdlog::warn("not starting the next round: {}", why);
    StopQueue(why);
    return;
  }
  std::vector<core::robust::SiteTrust> trust;
  if (config_.robust.enabled && !statistics_round) {
    auto loaded = sites_.LoadTrust(active);
    if (!loaded) {
      spdlog::error("loading site trust: {}", loaded.error().message);
      queued_rounds_ = 0;
      return;
    }
    trust = std::move(*loaded);
  }
  auto round_id = store_.NextRoundId();
  if (!round_id) {
    spdlog::error("starting round: {}", round_id.error().message);
    queued_rounds_ = 0;
    return;
  }
  auto plan = planner_.Plan(
      *round_id, active, std::move(trust),
      [this](const std::string& id) { return sites_.CertificateOf(id); },
      finalizer_.model(), finalizer_.feature_statistics(), statistics_round);
  if (!plan) {
    spdlog::error("starting round: {}", plan.error().message);
    queued_rounds_ = 0;
    return;
  }
  // Refused before it starts: no round record, nothing sent to the sites.
  if (auto s = planner_.PlanPrivacy(*plan); !s) {
    spdlog::warn("not starting round {}: {}", *round_id, s.error().message);
    StopQueue(s.error().message);
    return;
  }
  plan_ = std::move(*plan);

  round_record_ = RoundRecord{};
  round_record_.round_id = *round_id;
  round_record_.status = "running";
  round_record_.started_at = UtcNow();
  for (const auto& p : plan_.participants) {
    round_record_.participants.push_back(p.site_id);
  }
  if (auto s = store_.InsertRound(round_record_); !s) {
    spdlog::error("recording round {}: {}", *round_id, s.error().message);
    queued_rounds_ = 0;
    return;
  }
  spdlog::info("round {} starting with {} sites, model {}{}", *round_id,
               plan_.participants.size(), finalizer_.model().version_id,
               statistics_round ? " (secure feature statistics)" : "");
  round_transitions_seen_ = 0;
  round_started_ = std::chrono::steady_clock::now();
  stage_ = RoundStage::kAdvertiseKeys;
  stage_started_ = round_started_;
  if (plan_.settings.allow_single_site) {
    spdlog::warn(
        "round {}: secure aggregation off, {} sites aggregated "
        "one by one",
        *round_id, plan_.groups.size());
  } else if (plan_.groups.size() > 1) {
    spdlog::info("round {}: {} groups of at least {} sites", *round_id,
                 plan_.groups.size(), config_.robust.group_size);
  }
  // The round takes workers_ for its unmask and reports progress that came
  // without a site message (the unmask finished); that progress goes to
  // AfterRoundEvent like any other.
  auto round = GroupedRound::Start(plan_.settings, plan_.participants,
                                   plan_.groups, plan_.min_groups, &link_,
                                   workers_, [this] { AfterRoundEvent(); });
  if (!round) {
    round_record_.status = "aborted";
    round_record_.abort_reason = round.error().message;
    round_record_.finished_at = UtcNow();
    (void)store_.UpdateRound(round_record_);
    spdlog::error("round {} could not start: {}", *round_id,
                  round.error().message);
    if (metrics_ != nullptr) metrics_->RoundEnded("aborted");
    queued_rounds_ = 0;
    return;
  }
  round_ = std::move(*round);
  ArmDeadline();
}

void RoundScheduler::ScheduleNextRound() {
  next_round_timer_.expires_after(config_.pause_between_rounds);
  next_round_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) StartNextRound();
  });
}

void RoundScheduler::ArmDeadline() {
  deadline_.expires_after(config_.stage_timeout);
  round_->MarkArmed();
  const uint64_t round_id = round_->round_id();
  const int transitions = round_->transitions();
  deadline_.async_wait(
      [this, round_id, transitions](const boost::system::error_code& ec) {
        if (ec || !round_ || round_->round_id() != round_id ||
            round_->transitions() != transitions || round_->finished()) {
          return;
        }
        spdlog::warn("round {}: {} deadline passed", round_id,
                     RoundStageName(round_->stage()));
        round_->OnDeadline();
        AfterRoundEvent();
      });
}

void RoundScheduler::OnRoundMessage(const std::string& site_id,
                                    const protocol::Message& message) {
  if (!round_ || round_->finished() || !round_->IsParticipant(site_id)) {
    spdlog::debug("ignoring {} from {}: not in a running round",
                  protocol::MessageName(message), site_id);
    return;
  }
  round_->OnMessage(site_id, message);
  AfterRoundEvent();
}

void RoundScheduler::OnSiteLost(const std::string& site_id) {
  if (round_ && !round_->finished()) {
    round_->OnSiteLost(site_id);
    AfterRoundEvent();
  }
}

void RoundScheduler::AfterRoundEvent() {
  if (!round_) return;
  if (round_->finished()) {
    FinishRound();
  } else if (round_->transitions() != round_transitions_seen_) {
    round_transitions_seen_ = round_->transitions();
    EnterStage(round_->stage());
    spdlog::info("round {}: stage {}", round_->round_id(),
                 RoundStageName(round_->stage()));
    ArmDeadline();
  }
}

void RoundScheduler::EnterStage(RoundStage next) {
  const auto now = std::chrono::steady_clock::now();
  if (metrics_ != nullptr) {
    metrics_->StageEnded(
        RoundStageName(stage_),
        std::chrono::duration<double>(now - stage_started_).count());
  }
  stage_ = next;
  stage_started_ = now;
}

void RoundScheduler::FinishRound() {
  deadline_.cancel();
  EnterStage(round_->stage());
  RoundRecord record = round_record_;
  record.finished_at = UtcNow();
  record.duration_ms = ElapsedMs(round_started_);
  // Dropped = its input is not in the sum (a site lost during unmask still
  // contributed).
  for (const auto& p : round_->participants()) {
    if (p.dropped && !p.masked) {
      record.dropped.push_back(
          {{"site_id", p.site_id}, {"reason", p.drop_reason}});
    }
  }
  FinishedRound finished =
      CollectFinishedRound(*round_, plan_, record, round_started_);
  round_.reset();
  plan_ = PlannedRound{};
  finalizing_ = std::move(record);
  finalizer_.Finalize(std::move(finished),
                      [this](const RoundRecord& done) { OnFinalized(done); });
}

void RoundScheduler::OnFinalized(const RoundRecord& record) {
  if (metrics_ != nullptr) metrics_->RoundEnded(record.status);
  finalizing_.reset();
  if (queued_rounds_ > 0) ScheduleNextRound();
}

std::optional<RoundProgress> RoundScheduler::CurrentRound() const {
  if (finalizing_) return RoundProgress{*finalizing_, "finalizing"};
  if (!round_) return std::nullopt;
  RoundProgress progress{round_record_,
                         std::string(RoundStageName(round_->stage()))};
  for (const auto& p : round_->participants()) {
    if (p.dropped) {
      progress.record.dropped.push_back(
          {{"site_id", p.site_id}, {"reason", p.drop_reason}});
    }
  }
  return progress;
}

}  // namespace cls::coordinator
