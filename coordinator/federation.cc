#include "coordinator/federation.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>

#include "coordinator/site_trust_store.h"
#include "coordinator/version_evaluation.h"
#include "core/feature_statistics.h"
#include "core/server_optimizer.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "protocol/frame.h"
#include "protocol/secagg.h"

namespace cls::coordinator {
namespace {

const Actor kSystem{"coordinator", "system"};

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
  if (auto s = LoadFeatureStatistics(); !s) return s;
  core::ServerOptimizer::Options server;
  auto kind = core::ServerOptimizer::ParseKind(config_.server_optimizer);
  if (!kind) return std::unexpected(kind.error());
  server.kind = *kind;
  server.learning_rate = config_.server_learning_rate;
  auto optimizer = core::ServerOptimizer::Create(
      server, static_cast<size_t>(config_.model_parameters));
  if (!optimizer) return std::unexpected(optimizer.error());
  server_optimizer_ = std::move(*optimizer);
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
  if (config_.robust.enabled) AnnounceRobustMode();
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
  model_.model_type = config_.model_type;
  if (auto s = store_.InsertModel(model_); !s) return s;
  AuditOrLog(kSystem, "model_created",
             {{"version_id", model_.version_id},
              {"model_type", config_.model_type},
              {"parameters", config_.model_parameters}});
  spdlog::info("created initial model {}", model_.version_id);
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
  AuditOrLog(kSystem, "robust_aggregation_configured",
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
  auto certificate = crypto::Certificate::FromDer(peer.certificate_der);
  if (!certificate) return std::unexpected(certificate.error());
  certificates_[hello.site_id] =
      std::make_shared<const crypto::Certificate>(std::move(*certificate));
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
    if (auto s = deployments_->OnDriftReport(site_id, *drift, now_s); !s) {
      spdlog::warn("site {}: drift report dropped: {}", site_id,
                   s.error().message);
    }
    return;
  }
  if (const auto* report = std::get_if<protocol::EvaluationReport>(&message)) {
    const auto& m = report->metrics;
    if (m.correct > m.count || m.count > (uint64_t{1} << 40) ||
        !CheckEvaluationScores(*report)) {
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
    if (auto s = RecordVersionEvaluation(store_, model_.version_id, *report);
        !s) {
      spdlog::error("recording {}'s evaluation of {}: {}", site_id,
                    report->model_version, s.error().message);
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
  if ((*found)->status == SiteStatus::kQuarantined) {
    return FailedPrecondition("site " + site_id +
                              " is quarantined for low trust; reinstate it "
                              "(clsctl sites reinstate " +
                              site_id + ")");
  }
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
  if (privacy_) {
    // The operator hears at once when the budget cannot pay for the next
    // round (the ledger audits the refusal); nothing is queued.
    double total = 0;
    for (const auto& s : active) total += static_cast<double>(s.num_samples);
    std::vector<RoundParticipant> planned;
    for (const auto& s : active) {
      planned.push_back(
          {s.site_id, static_cast<double>(s.num_samples) / total, nullptr});
    }
    RoundSettings settings;
    settings.global_parameters = model_.parameters;
    settings.quantization.clip = config_.clip;
    settings.quantization.value_bits = config_.value_bits;
    auto ring =
        core::RingBitsFor(config_.value_bits, static_cast<int>(planned.size()));
    settings.quantization.ring_bits = ring ? *ring : 32;
    settings.complete_graph_up_to = config_.complete_graph_up_to;
    auto plan = PlanPrivacy(*next_id, planned, settings);
    if (!plan) return std::unexpected(plan.error());
    if (auto s = privacy_->Check(*plan); !s) return std::unexpected(s.error());
  }
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

Status Federation::LoadFeatureStatistics() {
  if (!UsesFederationStatistics()) return {};
  auto stored = LoadLatestFeatureStatistics(store_.db(), ModelFeatureCount());
  if (!stored) return std::unexpected(stored.error());
  feature_statistics_ = std::move(*stored);
  if (feature_statistics_) {
    spdlog::info("federation-wide feature statistics from round {} ({} sites)",
                 feature_statistics_->round_id, feature_statistics_->sites);
  }
  return {};
}

bool Federation::UsesFederationStatistics() const {
  return config_.model_kind == "logistic_regression" &&
         config_.standardisation == "federation";
}

int Federation::ModelFeatureCount() const {
  return static_cast<int>(config_.model_parameters - 1);
}

void Federation::StartNextRound() {
  if (queued_rounds_ <= 0) return;
  // Without federation-wide statistics yet, a statistics round comes first;
  // it does not count as one of the requested training rounds.
  const bool statistics_round =
      UsesFederationStatistics() && !feature_statistics_;
  if (!statistics_round) --queued_rounds_;
  auto active = ActiveSites();
  if (static_cast<int>(active.size()) < config_.min_sites) {
    std::string why = InsufficientSites(active.size(), config_.min_sites);
    spdlog::warn("not starting the next round: {}", why);
    AuditOrLog(kSystem, "training_rounds_stopped",
               {{"reason", why}, {"rounds_not_run", queued_rounds_ + 1}});
    queued_rounds_ = 0;
    return;
  }
  // FedAvg weights n_i / N; with [robust], trust x samples (a distrusted
  // site counts for less) for training rounds.
  std::vector<double> raw;
  round_trust_.clear();
  if (config_.robust.enabled && !statistics_round) {
    auto trust = LoadTrust(active);
    if (!trust) {
      spdlog::error("loading site trust: {}", trust.error().message);
      queued_rounds_ = 0;
      return;
    }
    for (size_t i = 0; i < active.size(); ++i) {
      raw.push_back(core::robust::ContributionWeight(
          (*trust)[i], active[i].num_samples, config_.robust.trust));
    }
    round_trust_ = std::move(*trust);
  } else {
    for (const auto& s : active) {
      raw.push_back(static_cast<double>(s.num_samples));
    }
  }
  double total = 0;
  for (double w : raw) total += w;
  std::vector<RoundParticipant> participants;
  for (size_t i = 0; i < active.size(); ++i) {
    participants.push_back(
        {active[i].site_id, raw[i] / total, certificates_[active[i].site_id]});
  }
  auto coordinator_id = CoordinatorId();
  if (!coordinator_id) {
    spdlog::error("starting round: {}", coordinator_id.error().message);
    queued_rounds_ = 0;
    return;
  }
  auto round_id = store_.NextRoundId();
  if (!round_id) {
    spdlog::error("starting round: {}", round_id.error().message);
    queued_rounds_ = 0;
    return;
  }

  RoundSettings settings;
  settings.round_id = static_cast<uint64_t>(*round_id);
  settings.coordinator_id = *coordinator_id;
  // No stage may close with fewer live sites than the federation's minimum.
  settings.min_sites = static_cast<size_t>(config_.min_sites);
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
  if (statistics_round) {
    // Limbs of at most 16 bits each; the ring holds the sum of n of them.
    settings.model_kind = std::string(kFeatureStatisticsKind);
    settings.quantization.value_bits = core::kStatisticsLimbBits;
    auto stats_ring = core::RingBitsFor(core::kStatisticsLimbBits,
                                        static_cast<int>(participants.size()));
    settings.quantization.ring_bits = stats_ring ? *stats_ring : 32;
    settings.input_length = core::EncodedStatisticsLength(ModelFeatureCount());
  } else if (feature_statistics_) {
    settings.feature_statistics = feature_statistics_->sums;
  }
  statistics_round_ = statistics_round;
  privacy_plan_.reset();
  if (privacy_ && !statistics_round) {
    // Refused before it starts: no round record, nothing sent to the sites.
    auto plan = PlanPrivacy(*round_id, participants, settings);
    Status ok =
        plan ? privacy_->Check(*plan) : Status(std::unexpected(plan.error()));
    if (!ok) {
      spdlog::warn("not starting round {}: {}", *round_id, ok.error().message);
      AuditOrLog(kSystem, "training_rounds_stopped",
                 {{"reason", ok.error().message},
                  {"rounds_not_run", queued_rounds_ + 1}});
      queued_rounds_ = 0;
      return;
    }
    privacy_plan_ = std::move(*plan);
    settings.quantization.ring_bits = privacy_plan_->ring_bits;
    settings.noise_variance = privacy_plan_->per_site_variance;
  }
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
  spdlog::info("round {} starting with {} sites, model {}{}", *round_id,
               participants.size(), model_.version_id,
               statistics_round ? " (secure feature statistics)" : "");
  round_transitions_seen_ = 0;
  round_started_ = std::chrono::steady_clock::now();
  std::vector<std::vector<int>> groups;
  int min_groups = 1;
  if (config_.robust.enabled && !statistics_round) {
    // Per-site mode: groups of one, so the rule sees every site's update.
    const bool per_site = !config_.robust.secure_aggregation;
    settings.allow_single_site = per_site;
    auto assigned = core::robust::AssignGroups(
        static_cast<int>(participants.size()),
        per_site ? 1 : config_.robust.group_size, settings.graph_seed);
    if (assigned) groups = std::move(*assigned);
    // A majority of groups must complete: the robust rule needs company.
    min_groups = static_cast<int>(groups.size() / 2 + 1);
  }
  if (groups.empty()) {
    groups.emplace_back();
    for (size_t i = 0; i < participants.size(); ++i) {
      groups.back().push_back(static_cast<int>(i));
    }
    min_groups = 1;
  }
  if (settings.allow_single_site) {
    spdlog::warn(
        "round {}: secure aggregation off, {} sites aggregated "
        "one by one",
        *round_id, groups.size());
  } else if (groups.size() > 1) {
    spdlog::info("round {}: {} groups of at least {} sites", *round_id,
                 groups.size(), config_.robust.group_size);
  }
  auto round =
      GroupedRound::Start(settings, participants, groups, min_groups, this,
                          workers_.get(), [this] { AfterRoundEvent(); });
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

Result<RoundPrivacy::Plan> Federation::PlanPrivacy(
    int64_t round_id, const std::vector<RoundParticipant>& participants,
    const RoundSettings& settings) const {
  std::vector<double> weights;
  for (const auto& p : participants) weights.push_back(p.weight);
  // The fewest contributors a round can complete with: the round's secure
  // aggregation threshold t (every contributor's self mask needs t shares
  // from surviving members of its neighbourhood, so at least t survive).
  // A sparse graph's t is below the complete graph's, so it must be this
  // round's own t for the check to bound the real charge.
  const int fewest =
      static_cast<int>(protocol::PlanNeighbourhood(
                           participants.size(), settings.complete_graph_up_to)
                           .threshold);
  return privacy_->PlanRound(round_id, weights, settings.quantization,
                             static_cast<int64_t>(settings.InputLength()),
                             fewest);
}

Result<std::vector<float>> Federation::PrivateMeanDelta(
    std::vector<float> mean, nlohmann::json& privacy) {
  const RoundOutcome& out = round_->outcome();
  if (!privacy_ || !privacy_plan_) return mean;
  const RoundPrivacy::Plan& plan = *privacy_plan_;
  const int contributed = static_cast<int>(out.contributors.size());
  if (privacy_->distributed()) {
    if (auto s = DecodeNoisedMean(out.ring_sum, contributed,
                                  round_->settings().quantization,
                                  out.contributor_weight, mean);
        !s) {
      return std::unexpected(s.error());
    }
  } else if (auto s =
                 privacy_->AddCentralNoise(plan, mean, out.contributor_weight);
             !s) {
    return std::unexpected(s.error());
  }
  // Durable before anything is released: the model is committed and the
  // result sent only after this charge is in the ledger.
  auto charged = privacy_->Charge(plan, contributed);
  if (!charged) return std::unexpected(charged.error());
  privacy = {
      {"mode", config_.privacy.mode},
      {"noise_multiplier", charged->noise_multiplier},
      {"effective_noise_multiplier", charged->effective_noise_multiplier},
      {"round_epsilon", charged->round_epsilon},
      {"epsilon_spent", charged->epsilon_after},
      {"epsilon_budget", privacy_->ledger().period().epsilon_budget},
      {"delta", privacy_->ledger().period().delta}};
  return mean;
}

Status Federation::CommitCompletedRound(RoundRecord& record,
                                        std::span<const float> mean_delta) {
  std::vector<float> next = model_.parameters;
  // The optimizer's state advances only with a committed model.
  core::ServerOptimizer optimizer = *server_optimizer_;
  if (auto s = optimizer.Apply(next, mean_delta); !s) return s;
  for (float v : next) {
    if (!std::isfinite(v)) {
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
  model.model_type = config_.model_type;
  record.model_version = model.version_id;
  Status committed = store_.db().Transaction([&]() -> Status {
    // [robust]: the round's trust and quarantines commit with its model.
    if (auto s = SavePendingTrust(); !s) return s;
    if (auto s = store_.InsertModel(model); !s) return s;
    record.duration_ms =
        ElapsedMs(round_started_);  // includes storing the model
    return store_.UpdateRound(record);
  });
  if (!committed) return committed;
  AnnounceQuarantines();
  model_ = std::move(model);
  server_optimizer_ = std::move(optimizer);
  previous_update_.assign(mean_delta.begin(), mean_delta.end());
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
  if (round_->stage() == RoundStage::kCompleted && statistics_round_) {
    FinishStatisticsRound(record);
    RecordMisbehaviours(round_->misbehaviours());
    round_.reset();
    if (queued_rounds_ > 0) ScheduleNextRound();
    return;
  }
  nlohmann::json privacy_fields;
  nlohmann::json robust_fields;
  if (round_->stage() == RoundStage::kCompleted) {
    const RoundOutcome& out = round_->outcome();
    record.status = "completed";
    record.contributors = out.contributors;
    record.val_count = static_cast<int64_t>(out.metrics.count);
    record.val_correct = static_cast<int64_t>(out.metrics.correct);
    record.val_loss_sum = out.metrics.loss_sum;
    std::vector<float> robust_mean = out.mean_delta;
    pending_trust_.clear();
    Status robust = config_.robust.enabled
                        ? ApplyRobustAggregation(robust_mean, robust_fields)
                        : Status{};
    auto mean =
        robust ? PrivateMeanDelta(std::move(robust_mean), privacy_fields)
               : Result<std::vector<float>>(std::unexpected(robust.error()));
    if (!robust) {
      record.status = "aborted";
      record.abort_reason = "robust aggregation: " + robust.error().message;
      // Every group rejected: nothing is released or charged, and the
      // evidence that caused it is kept (alone, in one transaction).
      if (!pending_trust_.empty()) {
        if (auto s =
                store_.db().Transaction([&] { return SavePendingTrust(); });
            s) {
          AnnounceQuarantines();
        } else {
          spdlog::error("round {}: storing trust: {}", record.round_id,
                        s.error().message);
        }
      }
    } else if (!mean) {
      record.status = "aborted";
      record.abort_reason = "privacy: " + mean.error().message;
    } else if (auto s = CommitCompletedRound(record, *mean); !s) {
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
    nlohmann::json fields = {{"round", record.round_id},
                             {"sites", record.contributors},
                             {"dropped", record.dropped},
                             {"version_id", record.model_version},
                             {"accuracy", accuracy}};
    // Every training round says whether the coordinator saw only sums.
    fields["secure_aggregation"] = !round_->settings().allow_single_site;
    if (!privacy_fields.is_null()) fields["privacy"] = privacy_fields;
    if (!robust_fields.is_null()) fields["robust"] = robust_fields;
    AuditOrLog(kSystem, "federated_round_completed", fields);
    spdlog::info(
        "round {} completed: {} of {} sites, model {}, validation accuracy "
        "{:.4f}",
        record.round_id, record.contributors.size(), record.participants.size(),
        record.model_version, accuracy);
    protocol::RoundResult result{
        round_->round_id(),
        model_.version_id,
        model_.hash,
        model_.parameters,
        static_cast<uint32_t>(record.contributors.size()),
        feature_statistics_ ? feature_statistics_->sums
                            : std::vector<double>{}};
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
  // Proven breaches count whether or not the round completed; last, so the
  // blame lands on top of the trust this round's robust rule stored.
  RecordMisbehaviours(round_->misbehaviours());
  round_.reset();
  if (queued_rounds_ > 0) ScheduleNextRound();
}

void Federation::FinishStatisticsRound(RoundRecord& record) {
  const RoundOutcome& out = round_->outcome();
  record.contributors = out.contributors;
  record.model_version = model_.version_id;
  const int features = ModelFeatureCount();
  // Every site adopts what is stored here: never sums of fewer than the
  // federation's minimum (the round enforces it; this keeps it true).
  Result<std::vector<double>> sums =
      static_cast<int>(out.contributors.size()) < config_.min_sites
          ? Result<std::vector<double>>(InvalidArgument(
                InsufficientSites(out.contributors.size(), config_.min_sites)))
          : core::DecodeStatisticsSum(out.ring_sum);
  Result<core::FeatureStatistics> stats =
      sums ? core::FeatureStatistics::Unflatten(*sums, features)
           : Result<core::FeatureStatistics>(std::unexpected(sums.error()));
  Status saved = {};
  if (stats) {
    StoredFeatureStatistics stored{record.round_id, features,
                                   static_cast<int>(out.contributors.size()),
                                   std::move(*sums)};
    saved = store_.db().Transaction([&]() -> Status {
      if (auto s = SaveFeatureStatistics(store_.db(), stored, UtcNow()); !s)
        return s;
      record.status = "completed";
      return store_.UpdateRound(record);
    });
    if (saved) feature_statistics_ = std::move(stored);
  }
  if (!stats || !saved) {
    record.status = "aborted";
    record.abort_reason =
        "feature statistics: " +
        (!stats ? stats.error().message : saved.error().message);
    (void)store_.UpdateRound(record);
    AuditOrLog(kSystem, "federated_round_aborted",
               {{"round", record.round_id}, {"reason", record.abort_reason}});
    spdlog::warn("round {} aborted: {}", record.round_id, record.abort_reason);
    return;
  }
  // Aggregates over all contributing sites only.
  AuditOrLog(kSystem, "feature_statistics_computed",
             {{"round", record.round_id},
              {"sites", record.contributors},
              {"dropped", record.dropped},
              {"features", features}});
  spdlog::info(
      "round {} completed: federation-wide feature statistics from {} of {} "
      "sites",
      record.round_id, record.contributors.size(), record.participants.size());
  protocol::RoundResult result{
      round_->round_id(),
      model_.version_id,
      model_.hash,
      model_.parameters,
      static_cast<uint32_t>(record.contributors.size()),
      feature_statistics_->sums};
  auto frame = std::make_shared<const Bytes>(protocol::EncodeFrame(result));
  for (auto& [site_id, connection] : connections_) connection->Send(frame);
}

Result<std::vector<core::robust::SiteTrust>> Federation::LoadTrust(
    const std::vector<SiteRecord>& sites) {
  std::vector<core::robust::SiteTrust> trust;
  for (const auto& s : sites) {
    auto t = LoadSiteTrust(store_.db(), s.site_id, s.trust_score,
                           s.status == SiteStatus::kQuarantined);
    if (!t) return std::unexpected(t.error());
    trust.push_back(*t);
  }
  return trust;
}

Status Federation::ApplyRobustAggregation(std::vector<float>& mean,
                                          nlohmann::json& robust) {
  const auto& parts = round_->all_participants();
  std::vector<double> weights;
  std::map<std::string, int> index_of;
  for (size_t i = 0; i < parts.size(); ++i) {
    weights.push_back(parts[i].weight);
    index_of[parts[i].site_id] = static_cast<int>(i);
  }
  // Each completed group's weighted sum, in the round's weight scale.
  std::vector<core::robust::Group> groups;
  std::vector<std::vector<float>> sums;
  for (size_t k = 0; k < round_->group_count(); ++k) {
    const SecureRound& group = round_->group(k);
    if (group.stage() != RoundStage::kCompleted) continue;
    const RoundOutcome& g = group.outcome();
    const double w = round_->ContributorWeight(k);
    core::robust::Group members;
    for (const auto& id : g.contributors) members.push_back(index_of[id]);
    std::sort(members.begin(), members.end());
    std::vector<float> sum(g.mean_delta.size());
    for (size_t i = 0; i < sum.size(); ++i) {
      sum[i] = static_cast<float>(g.mean_delta[i] * w);
    }
    groups.push_back(std::move(members));
    sums.push_back(std::move(sum));
  }
  std::vector<std::span<const float>> spans(sums.begin(), sums.end());
  core::robust::PipelineConfig pipeline = config_.robust.pipeline;
  pipeline.clip = config_.clip;
  std::span<const float> previous;
  if (previous_update_.size() == mean.size()) previous = previous_update_;
  auto outcome = core::robust::AggregateGroupSums(pipeline, groups, spans,
                                                  weights, previous);
  if (!outcome) return std::unexpected(outcome.error());
  nlohmann::json group_fields = nlohmann::json::array();
  for (size_t k = 0; k < groups.size(); ++k) {
    nlohmann::json members = nlohmann::json::array();
    for (int i : groups[k]) members.push_back(parts[i].site_id);
    const auto& g = outcome->groups[k];
    group_fields.push_back({{"members", members},
                            {"anomaly", g.anomaly},
                            {"norm", g.norm},
                            {"rejected", g.rejected},
                            {"reason", g.reason}});
  }
  robust = {{"rule", core::robust::RobustRuleName(outcome->rule_used)},
            {"secure_aggregation", config_.robust.secure_aggregation},
            {"accepted_groups", outcome->accepted},
            {"groups", group_fields}};
  // Trust learns from the evidence; nothing is written yet. The new states
  // are stored with the model, in its transaction (CommitCompletedRound), so
  // a round whose privacy charge or commit fails leaves trust and quarantine
  // as they were. A round the rule rejected entirely stores them alone:
  // the evidence is why it aborted (FinishRound).
  auto changes = core::robust::ApplyGroupEvidence(
      round_trust_, groups, *outcome, config_.robust.trust);
  if (!changes) return std::unexpected(changes.error());
  nlohmann::json trust_fields = nlohmann::json::object();
  pending_trust_.clear();
  for (size_t i = 0; i < parts.size() && i < round_trust_.size(); ++i) {
    const double trust =
        core::robust::TrustScore(round_trust_[i], config_.robust.trust);
    trust_fields[parts[i].site_id] = trust;
    pending_trust_.push_back({parts[i].site_id, round_trust_[i], trust,
                              (*changes)[i].quarantined_now});
  }
  robust["trust"] = trust_fields;
  if (outcome->accepted == 0) {
    return FailedPrecondition("every group sum was rejected");
  }
  mean = std::move(outcome->update);
  return {};
}

Result<std::string> Federation::CoordinatorId() {
  if (coordinator_id_.empty()) {
    auto own = crypto::Certificate::FromPemFile(config_.tls.cert_file);
    if (!own) return std::unexpected(own.error());
    if (own->common_name().empty()) {
      return InvalidArgument("the coordinator certificate " +
                             config_.tls.cert_file + " has no common name");
    }
    coordinator_id_ = own->common_name();
  }
  return coordinator_id_;
}

void Federation::RecordMisbehaviours(
    const std::vector<Misbehaviour>& misbehaviours) {
  const int64_t round = round_record_.round_id;
  for (const auto& m : misbehaviours) {
    spdlog::warn("round {}: site {} broke the protocol: {}", round, m.site_id,
                 m.what);
    AuditOrLog(kSystem, "site_misbehaved",
               {{"site_id", m.site_id}, {"round", round}, {"what", m.what}});
    auto site = store_.FindSite(m.site_id);
    if (!site || !*site) continue;
    auto trust = LoadSiteTrust(store_.db(), m.site_id, (*site)->trust_score,
                               (*site)->status == SiteStatus::kQuarantined);
    if (!trust) {
      spdlog::error("loading trust of {}: {}", m.site_id,
                    trust.error().message);
      continue;
    }
    // Signed proof, not a statistical guess: full blame for the round.
    auto change = core::robust::UpdateTrust(
        *trust, {.participated = true, .blame = 1.0, .clearance = 0.0},
        config_.robust.trust);
    if (!change) continue;
    if (auto s = SaveSiteTrust(store_.db(), m.site_id, *trust, change->after);
        !s) {
      spdlog::error("saving trust of {}: {}", m.site_id, s.error().message);
      continue;
    }
    if (change->quarantined_now) {
      (void)store_.SetSiteStatus(m.site_id, SiteStatus::kQuarantined);
      AuditOrLog(kSystem, "site_quarantined",
                 {{"site_id", m.site_id},
                  {"round", round},
                  {"trust", change->after},
                  {"floor", config_.robust.trust.floor}});
    }
  }
}

Status Federation::SavePendingTrust() {
  for (const PendingTrust& p : pending_trust_) {
    if (auto s = SaveSiteTrust(store_.db(), p.site_id, p.state, p.trust); !s) {
      return s;
    }
    if (p.quarantined_now) {
      if (auto s = store_.SetSiteStatus(p.site_id, SiteStatus::kQuarantined);
          !s) {
        return s;
      }
    }
  }
  return {};
}

void Federation::AnnounceQuarantines() {
  for (const PendingTrust& p : pending_trust_) {
    if (!p.quarantined_now) continue;
    AuditOrLog(kSystem, "site_quarantined",
               {{"site_id", p.site_id},
                {"round", round_record_.round_id},
                {"trust", p.trust},
                {"floor", config_.robust.trust.floor}});
    spdlog::warn(
        "site {} quarantined: trust {:.3f} below {} (clsctl sites reinstate "
        "{})",
        p.site_id, p.trust, config_.robust.trust.floor, p.site_id);
  }
  pending_trust_.clear();
}

Status Federation::ReinstateSite(const std::string& site_id, double trust_score,
                                 const Actor& actor) {
  if (!(trust_score >= 0 && trust_score <= 1)) {
    return InvalidArgument("trust_score must be a number from 0 to 1");
  }
  auto found = store_.FindSite(site_id);
  if (!found) return std::unexpected(found.error());
  if (!*found) return NotFound("no site '" + site_id + "'");
  if ((*found)->status != SiteStatus::kQuarantined) {
    return FailedPrecondition("site " + site_id + " is " +
                              std::string(SiteStatusName((*found)->status)) +
                              ", not quarantined");
  }
  auto trust = LoadSiteTrust(store_.db(), site_id, (*found)->trust_score, true);
  if (!trust) return std::unexpected(trust.error());
  if (auto s = core::robust::Reinstate(*trust, trust_score); !s) return s;
  const double now = core::robust::TrustScore(*trust, config_.robust.trust);
  Status saved = store_.db().Transaction([&]() -> Status {
    if (auto s = SaveSiteTrust(store_.db(), site_id, *trust, now); !s) return s;
    return store_.SetSiteStatus(site_id, SiteStatus::kApproved);
  });
  if (!saved) return saved;
  AuditOrLog(actor, "site_reinstated",
             {{"site_id", site_id},
              {"trust_score", trust_score},
              {"previous_trust", (*found)->trust_score}});
  spdlog::info("site {} reinstated by {} with trust {}", site_id, actor.name,
               trust_score);
  return {};
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

void Federation::PublishAuditCheckpoint(std::string checkpoint_json) {
  latest_audit_checkpoint_ = std::move(checkpoint_json);
  auto frame = std::make_shared<const Bytes>(protocol::EncodeFrame(
      protocol::AuditCheckpoint{latest_audit_checkpoint_}));
  for (auto& [site_id, connection] : connections_) connection->Send(frame);
}

void Federation::SendLatestAuditCheckpoint(const std::string& site_id) {
  if (latest_audit_checkpoint_.empty()) return;
  Send(site_id, protocol::AuditCheckpoint{latest_audit_checkpoint_});
}

Status Federation::OpenDeployments() {
  DeploymentSender sender;
  sender.connected_sites = [this] {
    std::vector<std::string> sites;
    for (const auto& [site_id, connection] : connections_) {
      sites.push_back(site_id);
    }
    return sites;
  };
  sender.send = [this](const std::string& site_id, protocol::Message message) {
    Send(site_id, std::move(message));
  };
  sender.feature_statistics = [this] {
    return feature_statistics_ ? feature_statistics_->sums
                               : std::vector<double>{};
  };
  auto manager =
      DeploymentManager::Open(store_, config_.model_kind, std::move(sender));
  if (!manager) return std::unexpected(manager.error());
  deployments_ = std::move(*manager);
  return {};
}

void Federation::SendLatestDeployment(const std::string& site_id) {
  deployments_->OnSiteConnected(site_id);
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
