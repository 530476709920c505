#include "site-agent/round_participant.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <random>

#include "core/feature_statistics.h"
#include "core/prior_shift.h"
#include "core/quantization.h"

namespace cls::site {
namespace {

bool AllFinite(std::span<const float> values) {
  for (float v : values) {
    if (!std::isfinite(v)) return false;
  }
  return true;
}

std::string RoundPrefix(uint64_t round_id) {
  return "round " + std::to_string(round_id) + ": ";
}

// SecAggClient's messages name the round already.
std::string InRound(uint64_t round_id, const std::string& message) {
  const std::string prefix = RoundPrefix(round_id);
  return message.starts_with(prefix) ? message : prefix + message;
}

std::optional<MetricsSummary> Summary(const Result<core::BinaryMetrics>& m) {
  if (!m) return std::nullopt;
  return MetricsSummary{m->accuracy, m->auc, static_cast<uint64_t>(m->count)};
}

}  // namespace

RoundParticipant::RoundParticipant(ParticipantOptions options,
                                   LocalModel* model)
    : options_(std::move(options)), model_(model) {}

Status RoundParticipant::LoadState() {
  if (options_.data_dir.empty()) return {};
  auto loaded = LoadGlobalModel(options_.data_dir / kGlobalModelFile);
  if (!loaded) return std::unexpected(loaded.error());
  if (*loaded) {
    global_ = std::move(**loaded);
    // The stored spec (DecodeGlobalModel checked it parses), so the status
    // file evaluates a softmax or MLP model as what it is after a restart.
    if (!global_.spec.empty()) {
      if (auto spec = core::ModelSpec::Parse(global_.spec); spec) {
        spec_ = *spec;
      }
    }
    spdlog::info("loaded global model {} ({} parameters, {}) from round {}",
                 global_.version, global_.parameters.size(),
                 global_.spec.empty() ? "logistic_regression" : global_.spec,
                 global_.round_id);
  }
  auto stats =
      LoadFeatureStatistics(options_.data_dir / kFeatureStatisticsFile);
  if (!stats) return std::unexpected(stats.error());
  if (*stats && model_) {
    if (auto s = model_->UseFederationStatistics(**stats); !s) {
      spdlog::warn("stored feature statistics not used: {}", s.error().message);
    } else {
      spdlog::info("standardising with the stored federation-wide statistics");
      if (options_.on_standardisation) options_.on_standardisation(*model_);
    }
  }
  return {};
}

uint64_t RoundParticipant::num_samples() const {
  // A benchmark agent has no data but must not look empty to FedAvg weighting.
  return model_ ? model_->num_samples() : 1;
}

std::optional<uint64_t> RoundParticipant::active_round() const {
  if (!round_ || !round_->secagg) return std::nullopt;
  return round_->round_id;
}

void RoundParticipant::OnDisconnected() {
  if (round_ && round_->secagg) {
    spdlog::info("{}connection lost; leaving the round",
                 RoundPrefix(round_->round_id));
    round_->secagg.reset();
    round_->input.clear();
  }
}

Result<std::optional<protocol::Message>> RoundParticipant::OnMessage(
    const protocol::Message& message) {
  auto begun = Begin(message);
  if (auto* job = std::get_if<TrainingJob>(&begun)) {
    return FinishTraining(job->round_id, job->work());
  }
  return std::get<Result<std::optional<protocol::Message>>>(std::move(begun));
}

RoundParticipant::Begun RoundParticipant::Begin(
    const protocol::Message& message) {
  using Reply = std::optional<protocol::Message>;
  if (const auto* a = std::get_if<protocol::RoundAnnounce>(&message)) {
    auto announced = OnAnnounce(*a);
    if (auto* job = std::get_if<TrainingJob>(&announced)) {
      return std::move(*job);
    }
    return Result<Reply>(std::get<Reply>(std::move(announced)));
  }
  if (const auto* d = std::get_if<protocol::KeyDirectory>(&message)) {
    Round* round = ActiveRound(d->round_id, "key_directory");
    if (!round) return Reply{};
    auto shares = round->secagg->OnKeyDirectory(*d);
    if (!shares) {
      LeaveRound(shares.error());
      return Reply{};
    }
    spdlog::debug("{}sending {} encrypted shares", RoundPrefix(d->round_id),
                  shares->shares.size());
    return Reply{std::move(*shares)};
  }
  if (const auto* s = std::get_if<protocol::ShareDelivery>(&message)) {
    Round* round = ActiveRound(s->round_id, "share_delivery");
    if (!round) return Reply{};
    auto masked =
        round->secagg->OnShareDelivery(*s, round->input, round->metrics);
    for (const auto& warning : round->secagg->TakeWarnings()) {
      spdlog::warn("{}", warning);
    }
    if (!masked) {
      LeaveRound(masked.error());
      return Reply{};
    }
    spdlog::info("{}sending masked input", RoundPrefix(s->round_id));
    // With this round's DP-SGD charge, committed before training.
    masked->record_privacy = record_privacy();
    return Reply{std::move(*masked)};
  }
  if (const auto* v = std::get_if<protocol::SurvivorSet>(&message)) {
    Round* round = ActiveRound(v->round_id, "survivor_set");
    if (!round) return Reply{};
    auto signature = round->secagg->OnSurvivorSet(*v);
    if (!signature) {
      LeaveRound(signature.error());
      return Reply{};
    }
    return Reply{std::move(*signature)};
  }
  if (const auto* u = std::get_if<protocol::UnmaskRequest>(&message)) {
    Round* round = ActiveRound(u->round_id, "unmask_request");
    if (!round) return Reply{};
    auto response = round->secagg->OnUnmaskRequest(*u);
    if (!response) {
      LeaveRound(response.error());
      return Reply{};
    }
    spdlog::debug("{}sending unmask response ({} survivors, {} dropped)",
                  RoundPrefix(u->round_id), u->survivors.size(),
                  u->dropped.size());
    return Reply{std::move(*response)};
  }
  if (const auto* r = std::get_if<protocol::RoundResult>(&message)) {
    return OnResult(*r);
  }
  if (const auto* a = std::get_if<protocol::RoundAborted>(&message)) {
    if (round_ && round_->round_id == a->round_id) {
      spdlog::info("{}aborted by the coordinator: {}", RoundPrefix(a->round_id),
                   a->reason);
      round_.reset();
    } else {
      spdlog::debug("{}abort ignored: not the current round",
                    RoundPrefix(a->round_id));
    }
    return Reply{};
  }
  return FailedPrecondition("unexpected message '" +
                            std::string(protocol::MessageName(message)) +
                            "' from the coordinator");
}

RoundParticipant::Round* RoundParticipant::ActiveRound(
    uint64_t round_id, std::string_view message) {
  if (!round_ || round_->round_id != round_id) {
    spdlog::debug("{}{} ignored: not the current round", RoundPrefix(round_id),
                  message);
    return nullptr;
  }
  if (!round_->secagg) {
    spdlog::debug("{}{} ignored: this site left the round",
                  RoundPrefix(round_id), message);
    return nullptr;
  }
  return &*round_;
}

protocol::RecordPrivacyReport RoundParticipant::record_privacy() const {
  protocol::RecordPrivacyReport r;
  if (!options_.record_privacy) return r;
  const RecordPrivacyStatus s = options_.record_privacy->Current();
  r.dp_sgd = s.dp_sgd;
  r.epsilon = s.epsilon;
  r.delta = s.delta;
  r.target_epsilon = s.target_epsilon;
  r.refusals = s.refusals;
  return r;
}

void RoundParticipant::LeaveRound(const Error& error) {
  if (!round_) return;
  spdlog::warn("leaving the round: {}",
               InRound(round_->round_id, error.message));
  round_->secagg.reset();
  round_->input.clear();
}

void RoundParticipant::AdoptFeatureStatistics(const std::vector<double>& sums,
                                              uint64_t round_id) {
  if (sums.empty() || !model_) return;
  const bool was = model_->uses_federation_statistics();
  if (auto s = model_->UseFederationStatistics(sums); !s) {
    spdlog::warn("{}federation-wide feature statistics not usable: {}",
                 RoundPrefix(round_id), s.error().message);
    return;
  }
  if (options_.on_standardisation) options_.on_standardisation(*model_);
  if (!options_.data_dir.empty()) {
    if (auto s = SaveFeatureStatistics(
            options_.data_dir / kFeatureStatisticsFile, sums);
        !s) {
      spdlog::error("cannot store the feature statistics: {}",
                    s.error().message);
    }
  }
  if (!was) {
    spdlog::info(
        "{}now standardising with federation-wide statistics; federation "
        "positive rate {:.3f}, this site {:.3f}",
        RoundPrefix(round_id), model_->federation_positive_rate(),
        model_->train_positive_rate());
  }
}

std::optional<protocol::Message> RoundParticipant::AnnounceStatistics(
    const protocol::RoundAnnounce& a) {
  auto leave = [&](const Error& error) -> std::optional<protocol::Message> {
    spdlog::error("not taking part: {}", InRound(a.round_id, error.message));
    round_->secagg.reset();
    return std::nullopt;
  };
  if (!model_) {
    return leave({ErrorCode::kFailedPrecondition,
                  "feature statistics round, but this agent has no data "
                  "(benchmark mode)"});
  }
  // The statistics round carries the global model of the kind trained next
  // (its spec when the coordinator sends one).
  size_t expected = static_cast<size_t>(model_->num_parameters());
  if (!a.model_spec.empty()) {
    auto spec = core::ModelSpec::Parse(a.model_spec);
    if (!spec) return leave(spec.error());
    if (auto s = model_->CheckSpec(*spec); !s) return leave(s.error());
    expected = spec->NumParameters();
  }
  if (a.parameters.size() != expected) {
    return leave({ErrorCode::kInvalidArgument,
                  "model: " + std::to_string(a.parameters.size()) +
                      " parameters, expected " + std::to_string(expected)});
  }
  if (a.ring_bits < core::kStatisticsLimbBits) {
    return leave({ErrorCode::kInvalidArgument,
                  "feature statistics need a ring of at least 16 bits"});
  }
  auto encoded =
      core::EncodeStatisticsForSum(model_->train_statistics().Flatten());
  if (!encoded) return leave(encoded.error());
  round_->input = std::move(*encoded);
  round_->metrics = protocol::ValidationMetrics{};
  round_->metrics.train_samples = num_samples();
  auto secagg = SecAggClient::Start(a, options_.secagg);
  if (!secagg) return leave(secagg.error());
  round_->secagg = std::move(*secagg);
  spdlog::info("{}feature sums of {} train rows ready; advertising keys",
               RoundPrefix(a.round_id), model_->num_samples());
  return protocol::Message{round_->secagg->advertise_keys()};
}

RoundParticipant::Announced RoundParticipant::OnAnnounce(
    const protocol::RoundAnnounce& a) {
  if (round_ && round_->secagg) {
    spdlog::info("{}abandoned for round {}", RoundPrefix(round_->round_id),
                 a.round_id);
  }
  round_ = Round{};
  round_->round_id = a.round_id;
  round_->model_kind = a.model_kind;
  spdlog::info("{}announced: model {} ({}, {} parameters), {} neighbours",
               RoundPrefix(a.round_id), a.model_version, a.model_kind,
               a.parameters.size(), a.neighbours.size());

  auto leave = [&](Error error) -> Announced {
    spdlog::error("not taking part: {}", InRound(a.round_id, error.message));
    round_->secagg.reset();
    return std::nullopt;
  };

  // Cheap checks first, then integrity, then the work.
  const core::QuantizationSpec spec{a.clip, a.value_bits, a.ring_bits};
  if (auto s = core::ValidateQuantizationSpec(spec); !s)
    return leave(s.error());
  if (!std::isfinite(a.weight) || a.weight < 0 || a.weight > 1) {
    return leave({ErrorCode::kInvalidArgument,
                  "weight " + std::to_string(a.weight) + " outside [0, 1]"});
  }
  if (a.parameters.empty()) {
    return leave({ErrorCode::kInvalidArgument, "model has no parameters"});
  }
  if (model_ && core::ParseModelKind(a.model_kind)) {
    // A model this site cannot build (kind, features, classes) is refused
    // here, before any work.
    auto spec = ModelSpecFor(*model_, a.model_kind, a.model_spec);
    if (!spec) return leave(spec.error());
    if (a.parameters.size() != spec->NumParameters()) {
      return leave({ErrorCode::kInvalidArgument,
                    "model: " + std::to_string(a.parameters.size()) +
                        " parameters, expected " +
                        std::to_string(spec->NumParameters()) + " for " +
                        spec->ToString()});
    }
    round_->spec = *spec;
  }
  if (ModelHash(a.parameters) != a.model_hash) {
    return leave({ErrorCode::kDataLoss,
                  "model hash mismatch: the parameters are not model " +
                      a.model_version});
  }
  if (!AllFinite(a.parameters)) {
    return leave(
        {ErrorCode::kInvalidArgument, "model has non-finite parameters"});
  }
  if (a.model_kind == kFeatureStatisticsKind) return AnnounceStatistics(a);
  AdoptFeatureStatistics(a.feature_statistics, a.round_id);

  // The work runs on the agent's model worker: it gets the announcement
  // and a copy of what it needs, and reads the LocalModel, which nothing
  // else touches meanwhile (site-agent/model_lane.h).
  auto announce = std::make_shared<const protocol::RoundAnnounce>(a);
  round_->announce = announce;
  TrainingSetup setup;
  setup.model = model_;
  setup.site_id = options_.site_id;
  setup.num_samples = num_samples();
  setup.benchmark_parameters = options_.benchmark_parameters;
  setup.test_scale_delta = options_.test_scale_delta;
  setup.expose_deltas_dir = options_.expose_deltas_dir;
  setup.record_privacy = options_.record_privacy;
  return TrainingJob{a.round_id, [announce, setup = std::move(setup)] {
                       return TrainRoundInput(*announce, setup);
                     }};
}

Result<std::optional<protocol::Message>> RoundParticipant::FinishTraining(
    uint64_t round_id, Result<RoundInput> trained) {
  using Reply = std::optional<protocol::Message>;
  if (!round_ || round_->round_id != round_id || !round_->announce) {
    spdlog::debug("{}training result ignored: not the current round",
                  RoundPrefix(round_id));
    return Reply{};
  }
  std::shared_ptr<const protocol::RoundAnnounce> announce =
      std::move(round_->announce);
  if (!trained) {
    spdlog::error("not taking part: {}",
                  InRound(round_id, trained.error().message));
    round_->secagg.reset();
    return Reply{};
  }
  round_->input = std::move(trained->input);
  round_->metrics = trained->metrics;
  auto secagg = SecAggClient::Start(*announce, options_.secagg);
  if (!secagg) {
    spdlog::error("not taking part: {}",
                  InRound(round_id, secagg.error().message));
    round_->secagg.reset();
    round_->input.clear();
    return Reply{};
  }
  round_->secagg = std::move(*secagg);
  spdlog::info("{}trained; advertising keys", RoundPrefix(round_id));
  return Reply{protocol::Message{round_->secagg->advertise_keys()}};
}

std::optional<protocol::Message> RoundParticipant::OnResult(
    const protocol::RoundResult& r) {
  if (!round_ || round_->round_id != r.round_id) {
    spdlog::debug("{}result ignored: not the current round",
                  RoundPrefix(r.round_id));
    return std::nullopt;
  }
  const std::string kind = round_->model_kind;
  const std::optional<core::ModelSpec> spec = round_->spec;
  round_.reset();
  if (ModelHash(r.parameters) != r.model_hash) {
    spdlog::warn("{}result ignored: model hash mismatch for {}",
                 RoundPrefix(r.round_id), r.model_version);
    return std::nullopt;
  }
  if (!AllFinite(r.parameters) || r.parameters.empty()) {
    spdlog::warn("{}result ignored: empty or non-finite parameters",
                 RoundPrefix(r.round_id));
    return std::nullopt;
  }
  AdoptFeatureStatistics(r.feature_statistics, r.round_id);
  if (kind == kFeatureStatisticsKind) {
    spdlog::info("{}federation-wide feature statistics received ({} sites)",
                 RoundPrefix(r.round_id), r.participants);
    if (auto s = WriteStatusFile(); !s) {
      spdlog::error("cannot write status: {}", s.error().message);
    }
    return std::nullopt;
  }
  const bool evaluable = model_ && spec.has_value();
  if (evaluable && r.parameters.size() != spec->NumParameters()) {
    spdlog::warn("{}result ignored: {} parameters, expected {}",
                 RoundPrefix(r.round_id), r.parameters.size(),
                 spec->NumParameters());
    return std::nullopt;
  }

  global_ =
      GlobalModel{r.round_id, r.model_version, r.model_hash, r.parameters};
  if (spec) global_.spec = spec->ToString();
  if (spec) spec_ = *spec;
  if (!options_.data_dir.empty()) {
    if (auto s = SaveGlobalModel(options_.data_dir / kGlobalModelFile, global_);
        !s) {
      spdlog::error("cannot store the global model: {}", s.error().message);
    }
  }

  if (evaluable && options_.on_global_model) {
    options_.on_global_model(global_);
  }
  protocol::EvaluationReport report;
  report.round_id = r.round_id;
  report.model_version = r.model_version;
  report.metrics.train_samples = num_samples();
  if (evaluable) {
    auto metrics = model_->Validate(*spec, r.parameters);
    if (metrics) report.metrics = *metrics;
    if (auto scores = spec->num_classes == 2
                          ? model_->ScoreCounts(*spec, r.parameters)
                          : Result<core::BinaryScoreCounts>(
                                FailedPrecondition("multi-class"))) {
      report.scores.true_positives = scores->true_positives;
      report.scores.false_positives = scores->false_positives;
      report.scores.true_negatives = scores->true_negatives;
      report.scores.false_negatives = scores->false_negatives;
      report.scores.positive_histogram = std::move(scores->positive_histogram);
      report.scores.negative_histogram = std::move(scores->negative_histogram);
    }
  }
  if (report.metrics.count > 0) {
    spdlog::info(
        "{}new global model {} ({} participants): held-out accuracy "
        "{:.3f} on {} rows",
        RoundPrefix(r.round_id), r.model_version, r.participants,
        static_cast<double>(report.metrics.correct) /
            static_cast<double>(report.metrics.count),
        report.metrics.count);
  } else {
    spdlog::info("{}new global model {} ({} participants)",
                 RoundPrefix(r.round_id), r.model_version, r.participants);
  }
  if (auto s = WriteStatusFile(); !s) {
    spdlog::error("cannot write status: {}", s.error().message);
  }
  return protocol::Message{std::move(report)};
}

SiteStatus RoundParticipant::CurrentStatus() const {
  SiteStatus status;
  status.site_id = options_.site_id;
  status.model_version = global_.version;
  status.round_id = global_.round_id;
  status.num_samples = num_samples();
  status.rows_rejected = options_.rows_rejected;
  status.updated_at = std::chrono::system_clock::now();
  if (model_) {
    const core::BinaryMetrics& b = model_->baseline();
    status.local_only =
        MetricsSummary{b.accuracy, b.auc, static_cast<uint64_t>(b.count)};
    const core::ModelSpec spec = spec_ ? *spec_ : model_->DefaultSpec();
    if (global_.parameters.size() == spec.NumParameters()) {
      status.federated = Summary(model_->Evaluate(spec, global_.parameters));
      // The intercept shift is logistic regression's (one bias).
      if (model_->uses_federation_statistics() &&
          spec.kind == core::ModelKind::kLogisticRegression) {
        auto shifted = core::ShiftInterceptToSitePrior(
            global_.parameters, model_->train_positive_rate(),
            model_->federation_positive_rate());
        if (shifted) {
          status.federated_site_prior = Summary(model_->Evaluate(*shifted));
        }
      }
    }
    status.standardisation =
        model_->uses_federation_statistics() ? "federation" : "site";
  }
  return status;
}

Status RoundParticipant::WriteStatusFile() const {
  if (options_.data_dir.empty()) return {};
  return WriteStatus(options_.data_dir / kStatusFile, CurrentStatus());
}

}  // namespace cls::site
