#include "coordinator/federation.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>
#include <ctime>

#include "crypto/random.h"
#include "crypto/sha256.h"
#include "protocol/frame.h"

namespace cls::coordinator {
namespace {

const Actor kSystem{"coordinator", "system"};

bool IsSiteToCoordinator(const protocol::Message& m) {
  return std::holds_alternative<protocol::AdvertiseKeys>(m) ||
         std::holds_alternative<protocol::ShareKeys>(m) ||
         std::holds_alternative<protocol::MaskedInput>(m) ||
         std::holds_alternative<protocol::UnmaskResponse>(m) ||
         std::holds_alternative<protocol::EvaluationReport>(m) ||
         std::holds_alternative<protocol::DeploymentAck>(m) ||
         std::holds_alternative<protocol::DriftReport>(m);
}

int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - since)
      .count();
}

std::string InsufficientSites(size_t have, int need) {
  // Wording from the original guide, so existing runbooks still match.
  return "Insufficient active sites: " + std::to_string(have) + " < " +
         std::to_string(need);
}

}  // namespace

std::string MakeVersionId(int64_t sequence) {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
  return "v" + std::to_string(sequence) + "_" + stamp;
}

std::string ParameterHash(const std::vector<float>& parameters) {
  return crypto::Sha256Hex(
      ByteSpan(reinterpret_cast<const uint8_t*>(parameters.data()),
               parameters.size() * sizeof(float)));
}

Federation::Federation(boost::asio::io_context& io,
                       const CoordinatorConfig& config, CoordinatorStore& store)
    : io_(io),
      config_(config),
      store_(store),
      deadline_(io),
      next_round_timer_(io) {}

Federation::~Federation() = default;

Status Federation::Initialize() {
  auto aborted =
      store_.AbortInterruptedRounds("coordinator restarted mid-round");
  if (!aborted) return std::unexpected(aborted.error());
  if (*aborted > 0) {
    spdlog::warn("aborted {} round(s) left running by an earlier stop",
                 *aborted);
    AuditOrLog(
        kSystem, "federated_round_aborted",
        {{"reason", "coordinator restarted mid-round"}, {"rounds", *aborted}});
  }
  auto latest = store_.LatestModel();
  if (!latest) return std::unexpected(latest.error());
  if (*latest) {
    if (static_cast<int64_t>((*latest)->parameters.size()) !=
        config_.model_parameters) {
      return FailedPrecondition(
          "stored model " + (*latest)->version_id + " has " +
          std::to_string((*latest)->parameters.size()) +
          " parameters but the config says model.parameters = " +
          std::to_string(config_.model_parameters));
    }
    model_ = std::move(**latest);
    spdlog::info("global model {} (round {})", model_.version_id,
                 model_.round_id);
    return {};
  }
  // First start: an all-zero model (logistic regression predicts 0.5).
  model_.sequence = 1;
  model_.version_id = MakeVersionId(1);
  model_.parameters.assign(static_cast<size_t>(config_.model_parameters), 0.0f);
  model_.hash = ParameterHash(model_.parameters);
  model_.created_at = UtcNow();
  if (auto s = store_.InsertModel(model_); !s) return s;
  AuditOrLog(kSystem, "model_created",
             {{"version_id", model_.version_id},
              {"model_type", config_.model_type},
              {"parameters", config_.model_parameters}});
  spdlog::info("created initial model {}", model_.version_id);
  return {};
}

Result<protocol::Welcome> Federation::OnHello(
    std::shared_ptr<SiteConnection> connection,
    const crypto::PeerIdentity& peer, const protocol::Hello& hello) {
  if (hello.site_id != peer.common_name) {
    return PermissionDenied("certificate is for '" + peer.common_name +
                            "' but hello names '" + hello.site_id + "'");
  }
  auto found = store_.FindSite(hello.site_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    SiteRecord site{hello.site_id,
                    hello.site_name,
                    hello.location,
                    static_cast<int64_t>(hello.num_samples),
                    1.0,
                    SiteStatus::kPending,
                    UtcNow(),
                    UtcNow()};
    if (auto s = store_.InsertSite(site); !s) return std::unexpected(s.error());
    AuditOrLog(
        {hello.site_id, "site"}, "site_registered",
        {{"site_id", hello.site_id}, {"num_samples", hello.num_samples}});
    spdlog::info("site {} registered; awaiting operator approval",
                 hello.site_id);
  } else if ((*found)->status == SiteStatus::kRevoked) {
    return PermissionDenied("site " + hello.site_id + " is revoked");
  }
  if (!*found || (*found)->status == SiteStatus::kPending) {
    (void)store_.UpdateSiteHello(hello.site_id, hello.site_name, hello.location,
                                 static_cast<int64_t>(hello.num_samples));
    return FailedPrecondition(
        "site " + hello.site_id +
        " awaits operator approval (clsctl sites approve " + hello.site_id +
        ")");
  }
  if (hello.num_samples == 0) {
    return InvalidArgument("site " + hello.site_id +
                           " reports no training samples");
  }
  if (auto s =
          store_.UpdateSiteHello(hello.site_id, hello.site_name, hello.location,
                                 static_cast<int64_t>(hello.num_samples));
      !s) {
    return std::unexpected(s.error());
  }
  if (auto old = connections_.find(hello.site_id); old != connections_.end()) {
    old->second->Close("replaced by a new connection");
    connections_.erase(old);
    if (round_ && !round_->finished()) {
      round_->OnSiteLost(hello.site_id);
      AfterRoundEvent();
    }
  }
  connections_[hello.site_id] = std::move(connection);
  spdlog::info("site {} connected ({} connected)", hello.site_id,
               connections_.size());
  return protocol::Welcome{hello.site_id, true};
}

void Federation::OnSiteMessage(const std::string& site_id,
                               const protocol::Message& message) {
  if (!IsSiteToCoordinator(message)) {
    Disconnect(site_id, std::string(protocol::MessageName(message)) +
                            " is not a site message");
    return;
  }
  // Serving (issue 5): recorded by the coordinator's versions component once
  // it exists; until then logged so a site's acks and reports do not drop it.
  if (const auto* ack = std::get_if<protocol::DeploymentAck>(&message)) {
    spdlog::info("site {} {} deployment {}", site_id,
                 ack->accepted ? "installed" : "refused", ack->deployment_id);
    return;
  }
  if (const auto* drift = std::get_if<protocol::DriftReport>(&message)) {
    spdlog::info("site {} drift report: {} versions, {} alerts", site_id,
                 drift->summaries.size(), drift->alerts.size());
    return;
  }
  if (const auto* report = std::get_if<protocol::EvaluationReport>(&message)) {
    const auto& m = report->metrics;
    if (m.correct > m.count || m.count > (uint64_t{1} << 40)) {
      Disconnect(site_id, "evaluation_report with impossible counts");
      return;
    }
    if (static_cast<int64_t>(report->round_id) != evaluated_round_ ||
        awaiting_evaluation_.erase(site_id) == 0) {
      spdlog::debug("ignoring evaluation of round {} from {}: not expected",
                    report->round_id, site_id);
      return;
    }
    if (auto s = store_.AddEvaluation(static_cast<int64_t>(report->round_id),
                                      static_cast<int64_t>(m.count),
                                      static_cast<int64_t>(m.correct));
        !s) {
      spdlog::error("recording evaluation of round {}: {}", report->round_id,
                    s.error().message);
    }
    return;
  }
  if (!round_ || round_->finished() || !round_->IsParticipant(site_id)) {
    spdlog::debug("ignoring {} from {}: not in a running round",
                  protocol::MessageName(message), site_id);
    return;
  }
  round_->OnMessage(site_id, message);
  AfterRoundEvent();
}

void Federation::OnSiteDisconnected(const std::string& site_id,
                                    const SiteConnection* connection) {
  auto it = connections_.find(site_id);
  if (it == connections_.end() || it->second.get() != connection) return;
  connections_.erase(it);
  spdlog::info("site {} disconnected ({} connected)", site_id,
               connections_.size());
  if (round_ && !round_->finished()) {
    round_->OnSiteLost(site_id);
    AfterRoundEvent();
  }
}

Status Federation::ApproveSite(const std::string& site_id, const Actor& actor) {
  auto found = store_.FindSite(site_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) {
    return NotFound(
        "no site '" + site_id +
        "' has connected yet; start its agent first, then approve it");
  }
  if ((*found)->status == SiteStatus::kRevoked) {
    return FailedPrecondition("site " + site_id + " is revoked");
  }
  if ((*found)->status == SiteStatus::kApproved) return {};
  if (auto s = store_.SetSiteStatus(site_id, SiteStatus::kApproved); !s)
    return s;
  AuditOrLog(actor, "site_approved", {{"site_id", site_id}});
  spdlog::info("site {} approved by {}", site_id, actor.name);
  return {};
}

std::vector<SiteRecord> Federation::ActiveSites() {
  std::vector<SiteRecord> active;
  auto sites = store_.ListSites();
  if (!sites) {
    spdlog::error("listing sites: {}", sites.error().message);
    return active;
  }
  for (auto& site : *sites) {
    if (site.status == SiteStatus::kApproved &&
        connections_.count(site.site_id)) {
      active.push_back(std::move(site));
    }
  }
  return active;
}

Result<int64_t> Federation::StartRounds(int count, const Actor& actor) {
  if (count < 1 || count > 1000) {
    return InvalidArgument("rounds must be 1..1000, got " +
                           std::to_string(count));
  }
  if (round_ && !round_->finished()) {
    return FailedPrecondition("round " +
                              std::to_string(round_record_.round_id) +
                              " is running; wait for it to finish");
  }
  if (queued_rounds_ > 0) {
    return FailedPrecondition(
        std::to_string(queued_rounds_) +
        " requested rounds are still queued; wait for them");
  }
  auto active = ActiveSites();
  if (static_cast<int>(active.size()) < config_.min_sites) {
    return FailedPrecondition(
        InsufficientSites(active.size(), config_.min_sites));
  }
  auto next_id = store_.NextRoundId();
  if (!next_id) return std::unexpected(next_id.error());
  AuditOrLog(actor, "training_rounds_requested",
             {{"rounds", count}, {"first_round", *next_id}});
  queued_rounds_ = count;
  StartNextRound();
  return *next_id;
}

void Federation::ScheduleNextRound() {
  next_round_timer_.expires_after(config_.pause_between_rounds);
  next_round_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) StartNextRound();
  });
}

void Federation::StartNextRound() {
  if (queued_rounds_ <= 0) return;
  --queued_rounds_;
  auto active = ActiveSites();
  if (static_cast<int>(active.size()) < config_.min_sites) {
    std::string why = InsufficientSites(active.size(), config_.min_sites);
    spdlog::warn("not starting the next round: {}", why);
    AuditOrLog(kSystem, "training_rounds_stopped",
               {{"reason", why}, {"rounds_not_run", queued_rounds_ + 1}});
    queued_rounds_ = 0;
    return;
  }
  double total = 0;
  for (const auto& s : active) total += static_cast<double>(s.num_samples);
  std::vector<RoundParticipant> participants;
  for (const auto& s : active) {
    participants.push_back(
        {s.site_id, static_cast<double>(s.num_samples) / total});
  }
  auto round_id = store_.NextRoundId();
  if (!round_id) {
    spdlog::error("starting round: {}", round_id.error().message);
    queued_rounds_ = 0;
    return;
  }

  RoundSettings settings;
  settings.round_id = static_cast<uint64_t>(*round_id);
  settings.model_version = model_.version_id;
  settings.model_hash = model_.hash;
  settings.model_kind = config_.model_kind;
  settings.global_parameters = model_.parameters;
  settings.training = config_.training;
  settings.quantization.clip = config_.clip;
  settings.quantization.value_bits = config_.value_bits;
  auto ring = core::RingBitsFor(config_.value_bits,
                                static_cast<int>(participants.size()));
  settings.quantization.ring_bits = ring ? *ring : 32;
  settings.stage_timeout = config_.stage_timeout;
  settings.complete_graph_up_to = config_.complete_graph_up_to;
  Key32 seed = crypto::RandomKey32();
  std::memcpy(&settings.graph_seed, seed.data(), sizeof settings.graph_seed);

  round_record_ = RoundRecord{};
  round_record_.round_id = *round_id;
  round_record_.status = "running";
  round_record_.started_at = UtcNow();
  for (const auto& p : participants)
    round_record_.participants.push_back(p.site_id);
  if (auto s = store_.InsertRound(round_record_); !s) {
    spdlog::error("recording round {}: {}", *round_id, s.error().message);
    queued_rounds_ = 0;
    return;
  }
  spdlog::info("round {} starting with {} sites, model {}", *round_id,
               participants.size(), model_.version_id);
  round_transitions_seen_ = 0;
  round_started_ = std::chrono::steady_clock::now();
  auto round = SecureRound::Start(std::move(settings), participants, this);
  if (!round) {
    round_record_.status = "aborted";
    round_record_.abort_reason = round.error().message;
    round_record_.finished_at = UtcNow();
    (void)store_.UpdateRound(round_record_);
    spdlog::error("round {} could not start: {}", *round_id,
                  round.error().message);
    queued_rounds_ = 0;
    return;
  }
  round_ = std::move(*round);
  ArmDeadline();
}

void Federation::ArmDeadline() {
  deadline_.expires_after(config_.stage_timeout);
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

void Federation::AfterRoundEvent() {
  if (!round_) return;
  if (round_->finished()) {
    FinishRound();
  } else if (round_->transitions() != round_transitions_seen_) {
    round_transitions_seen_ = round_->transitions();
    spdlog::info("round {}: stage {}", round_->round_id(),
                 RoundStageName(round_->stage()));
    ArmDeadline();
  }
}

Status Federation::CommitCompletedRound(RoundRecord& record) {
  const RoundOutcome& out = round_->outcome();
  std::vector<float> next = model_.parameters;
  const float lr = static_cast<float>(config_.server_learning_rate);
  for (size_t i = 0; i < next.size(); ++i) {
    next[i] += lr * out.mean_delta[i];
    if (!std::isfinite(next[i])) {
      return Internal("aggregate has a non-finite parameter");
    }
  }
  ModelRecord model;
  model.sequence = model_.sequence + 1;
  model.version_id = MakeVersionId(model.sequence);
  model.round_id = static_cast<int64_t>(round_->round_id());
  model.parent_version = model_.version_id;
  model.parameters = std::move(next);
  model.hash = ParameterHash(model.parameters);
  model.created_at = UtcNow();
  record.model_version = model.version_id;
  Status committed = store_.db().Transaction([&]() -> Status {
    if (auto s = store_.InsertModel(model); !s) return s;
    record.duration_ms =
        ElapsedMs(round_started_);  // includes storing the model
    return store_.UpdateRound(record);
  });
  if (!committed) return committed;
  model_ = std::move(model);
  return {};
}

void Federation::FinishRound() {
  deadline_.cancel();
  RoundRecord& record = round_record_;
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
  if (round_->stage() == RoundStage::kCompleted) {
    const RoundOutcome& out = round_->outcome();
    record.status = "completed";
    record.contributors = out.contributors;
    record.val_count = static_cast<int64_t>(out.metrics.count);
    record.val_correct = static_cast<int64_t>(out.metrics.correct);
    record.val_loss_sum = out.metrics.loss_sum;
    if (auto s = CommitCompletedRound(record); !s) {
      record.status = "aborted";
      record.abort_reason =
          "could not commit the aggregate: " + s.error().message;
    }
  } else {
    record.status = "aborted";
    record.abort_reason = round_->abort_reason();
  }

  if (record.status == "completed") {
    double accuracy =
        record.val_count ? double(record.val_correct) / record.val_count : 0;
    AuditOrLog(kSystem, "federated_round_completed",
               {{"round", record.round_id},
                {"sites", record.contributors},
                {"dropped", record.dropped},
                {"version_id", record.model_version},
                {"accuracy", accuracy}});
    spdlog::info(
        "round {} completed: {} of {} sites, model {}, validation accuracy "
        "{:.4f}",
        record.round_id, record.contributors.size(), record.participants.size(),
        record.model_version, accuracy);
    protocol::RoundResult result{
        round_->round_id(), model_.version_id, model_.hash, model_.parameters,
        static_cast<uint32_t>(record.contributors.size())};
    auto frame = std::make_shared<const Bytes>(protocol::EncodeFrame(result));
    evaluated_round_ = record.round_id;
    awaiting_evaluation_.clear();
    for (auto& [site_id, connection] : connections_) {
      connection->Send(frame);
      awaiting_evaluation_.insert(site_id);
    }
  } else {
    (void)store_.UpdateRound(record);
    AuditOrLog(kSystem, "federated_round_aborted",
               {{"round", record.round_id}, {"reason", record.abort_reason}});
    spdlog::warn("round {} aborted: {}", record.round_id, record.abort_reason);
  }
  round_.reset();
  if (queued_rounds_ > 0) ScheduleNextRound();
}

std::optional<RoundProgress> Federation::CurrentRound() const {
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

void Federation::Send(const std::string& site_id, protocol::Message message) {
  auto it = connections_.find(site_id);
  if (it == connections_.end()) return;  // the stage deadline will drop it
  it->second->Send(
      std::make_shared<const Bytes>(protocol::EncodeFrame(message)));
}

void Federation::Disconnect(const std::string& site_id,
                            std::string_view reason) {
  spdlog::warn("dropping site {}: {}", site_id, reason);
  auto it = connections_.find(site_id);
  if (it != connections_.end()) it->second->Close(reason);
}

void Federation::AuditOrLog(const Actor& actor, const std::string& event,
                            const nlohmann::json& fields) {
  if (auto s = store_.Audit(actor.name, actor.role, event, fields); !s) {
    spdlog::error("audit entry {} could not be written: {}", event,
                  s.error().message);
  }
}

}  // namespace cls::coordinator
