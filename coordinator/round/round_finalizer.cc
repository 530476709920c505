#include "coordinator/round/round_finalizer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

#include "coordinator/round/round_planner.h"
#include "core/feature_statistics.h"
#include "core/model.h"
#include "core/robust/robust_pipeline.h"
#include "crypto/sha256.h"
#include "protocol/frame.h"

namespace cls::coordinator {
namespace {

double Accuracy(const RoundRecord& record) {
  return record.val_count ? double(record.val_correct) / record.val_count : 0;
}

// The federated_round_completed entry: what the round did and released.
nlohmann::json CompletedRoundFields(const FinishedRound& round,
                                    const nlohmann::json& privacy,
                                    const nlohmann::json& robust) {
  const RoundRecord& record = round.record;
  nlohmann::json fields = {{"round", record.round_id},
                           {"sites", record.contributors},
                           {"dropped", record.dropped},
                           {"version_id", record.model_version},
                           {"accuracy", Accuracy(record)}};
  // Every training round says whether the coordinator saw only sums.
  fields["secure_aggregation"] = round.secure_aggregation;
  if (!privacy.is_null()) fields["privacy"] = privacy;
  if (!robust.is_null()) fields["robust"] = robust;
  return fields;
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

// The inputs of the heavy part, by value: the worker touches nothing else
// except the privacy service's noise generator, which only this (one at a
// time) job uses.
struct RoundFinalizer::ReleaseJob {
  bool robust = false;
  core::robust::PipelineConfig pipeline;
  core::robust::TrustConfig trust_config;
  bool secure_aggregation = true;
  std::vector<FinishedRound::GroupSum> groups;
  std::vector<RoundParticipant> participants;
  std::vector<core::robust::SiteTrust> trust;
  std::vector<float> previous;
  std::vector<float> mean;
  // DP ([privacy] on, with the round's plan).
  RoundPrivacy* privacy = nullptr;
  std::optional<RoundPrivacy::Plan> plan;
  std::vector<uint32_t> ring_sum;
  int contributed = 0;
  core::QuantizationSpec quantization;
  double contributor_weight = 0;
  // The next model: read in place (see the class comment).
  const ModelRecord* current = nullptr;
  const core::ServerOptimizer* optimizer = nullptr;
  int64_t round_id = 0;
  std::string model_type;
  std::shared_ptr<const ModelVault> vault;  // null: stored in plaintext
};

RoundFinalizer::RoundFinalizer(boost::asio::any_io_executor io,
                               const CoordinatorConfig& config,
                               CoordinatorStore& store, SiteRegistry& sites,
                               EvaluationIntake& evaluations,
                               RoundPrivacy* privacy, cls::WorkerPool* workers)
    : io_(std::move(io)),
      config_(config),
      store_(store),
      sites_(sites),
      evaluations_(evaluations),
      privacy_(privacy),
      workers_(workers) {}

Status RoundFinalizer::Load() {
  if (UsesFederationStatistics(config_)) {
    auto stored =
        LoadLatestFeatureStatistics(store_.db(), ModelFeatureCount(config_));
    if (!stored) return std::unexpected(stored.error());
    feature_statistics_ = std::move(*stored);
    if (feature_statistics_) {
      spdlog::info(
          "federation-wide feature statistics from round {} ({} sites)",
          feature_statistics_->round_id, feature_statistics_->sites);
    }
  }
  core::ServerOptimizer::Options server;
  auto kind = core::ServerOptimizer::ParseKind(config_.server_optimizer);
  if (!kind) return std::unexpected(kind.error());
  server.kind = *kind;
  server.learning_rate = config_.server_learning_rate;
  auto optimizer = core::ServerOptimizer::Create(
      server, static_cast<size_t>(config_.model_parameters));
  if (!optimizer) return std::unexpected(optimizer.error());
  server_optimizer_ = std::move(*optimizer);

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
  // First start: an all-zero model (logistic regression predicts 0.5), or
  // the kind's own initial parameters (an MLP's seeded He weights: all-zero
  // hidden weights would never learn).
  model_.sequence = 1;
  model_.version_id = MakeVersionId(1);
  model_.parameters.assign(static_cast<size_t>(config_.model_parameters), 0.0f);
  if (config_.model_spec.num_features > 0) {
    auto initial =
        core::Model::Create(config_.model_spec, config_.training.seed);
    if (!initial) return std::unexpected(initial.error());
    model_.parameters.assign(initial->parameters().begin(),
                             initial->parameters().end());
  }
  model_.hash = ParameterHash(model_.parameters);
  model_.created_at = UtcNow();
  model_.model_type = config_.model_type;
  if (auto s = store_.InsertModel(model_); !s) return s;
  AuditOrLog(store_, kSystemActor, "model_created",
             {{"version_id", model_.version_id},
              {"model_type", config_.model_type},
              {"parameters", config_.model_parameters}});
  spdlog::info("created initial model {}", model_.version_id);
  return {};
}

void RoundFinalizer::Finalize(FinishedRound round, Done done) {
  busy_ = true;
  done_ = std::move(done);
  if (!round.completed) {
    round.record.status = "aborted";
    round.record.abort_reason = round.abort_reason;
    return Conclude(round, Released{});
  }
  if (round.statistics_round) return Conclude(round, Released{});
  auto job = std::make_shared<ReleaseJob>();
  job->robust = config_.robust.enabled;
  job->pipeline = config_.robust.pipeline;
  job->pipeline.clip = config_.clip;
  job->trust_config = config_.robust.trust;
  job->secure_aggregation = config_.robust.secure_aggregation;
  job->groups = std::move(round.groups);
  job->participants = round.participants;
  job->trust = round.trust;
  job->previous = previous_update_;
  job->mean = round.outcome.mean_delta;
  job->current = &model_;
  job->optimizer = &*server_optimizer_;
  job->round_id = round.record.round_id;
  job->model_type = config_.model_type;
  job->vault = store_.shared_vault();
  if (privacy_ && round.privacy_plan) {
    job->privacy = privacy_;
    job->plan = round.privacy_plan;
    job->ring_sum = round.outcome.ring_sum;
    job->contributed = static_cast<int>(round.outcome.contributors.size());
    job->quantization = round.quantization;
    job->contributor_weight = round.outcome.contributor_weight;
  }
  if (workers_ == nullptr) return Conclude(round, Release(*job));
  auto pending = std::make_shared<FinishedRound>(std::move(round));
  const std::string what =
      "round " + std::to_string(pending->record.round_id) + ": finalize";
  workers_->Run(
      io_, what, [job] { return Release(*job); },
      [this, pending,
       alive = std::weak_ptr<bool>(alive_)](Result<Released> released) {
        if (alive.expired()) return;
        Conclude(*pending, std::move(released));
      });
}

Result<RoundFinalizer::Released> RoundFinalizer::Release(ReleaseJob& job) {
  Released out;
  out.mean = std::move(job.mean);
  if (!job.robust && job.groups.size() > 1) {
    return Internal("a round of several groups without the robust rule");
  }
  if (job.robust) {
    std::vector<double> weights;
    std::map<std::string, int> index_of;
    for (size_t i = 0; i < job.participants.size(); ++i) {
      weights.push_back(job.participants[i].weight);
      index_of[job.participants[i].site_id] = static_cast<int>(i);
    }
    // Each completed group's weighted sum, in the round's weight scale.
    std::vector<core::robust::Group> groups;
    std::vector<std::vector<float>> sums;
    for (auto& g : job.groups) {
      core::robust::Group members;
      for (const auto& id : g.contributors) members.push_back(index_of[id]);
      std::sort(members.begin(), members.end());
      std::vector<float> sum = std::move(g.mean_delta);
      for (float& v : sum) {
        v = static_cast<float>(v * g.contributor_weight);
      }
      groups.push_back(std::move(members));
      sums.push_back(std::move(sum));
    }
    std::vector<std::span<const float>> spans(sums.begin(), sums.end());
    std::span<const float> previous;
    if (!sums.empty() && job.previous.size() == sums.front().size()) {
      previous = job.previous;
    }
    auto outcome = core::robust::AggregateGroupSums(job.pipeline, groups, spans,
                                                    weights, previous);
    if (!outcome) {
      out.robust_error = outcome.error();
      return out;
    }
    nlohmann::json group_fields = nlohmann::json::array();
    for (size_t k = 0; k < groups.size(); ++k) {
      nlohmann::json members = nlohmann::json::array();
      for (int i : groups[k]) members.push_back(job.participants[i].site_id);
      const auto& g = outcome->groups[k];
      group_fields.push_back({{"members", members},
                              {"anomaly", g.anomaly},
                              {"norm", g.norm},
                              {"rejected", g.rejected},
                              {"reason", g.reason}});
    }
    out.robust = {{"rule", core::robust::RobustRuleName(outcome->rule_used)},
                  {"secure_aggregation", job.secure_aggregation},
                  {"accepted_groups", outcome->accepted},
                  {"groups", group_fields}};
    // Trust learns from the evidence; nothing is written yet. The new states
    // are stored with the model, in its transaction, so a round whose
    // privacy charge or commit fails leaves trust and quarantine as they
    // were. A round the rule rejected entirely stores them alone: the
    // evidence is why it aborted.
    auto changes = core::robust::ApplyGroupEvidence(job.trust, groups, *outcome,
                                                    job.trust_config);
    if (!changes) {
      out.robust_error = changes.error();
      return out;
    }
    nlohmann::json trust_fields = nlohmann::json::object();
    for (size_t i = 0; i < job.participants.size() && i < job.trust.size();
         ++i) {
      const double trust =
          core::robust::TrustScore(job.trust[i], job.trust_config);
      trust_fields[job.participants[i].site_id] = trust;
      out.trust.push_back({job.participants[i].site_id, job.trust[i], trust,
                           (*changes)[i].quarantined_now});
    }
    out.robust["trust"] = trust_fields;
    if (outcome->accepted == 0) {
      out.robust_error =
          Error{ErrorCode::kFailedPrecondition, "every group sum was rejected"};
      return out;
    }
    out.mean = std::move(outcome->update);
  }
  if (job.privacy != nullptr && job.plan) {
    // Decoded with the sites' noise (distributed) or noised here (central).
    Status noised =
        job.privacy->distributed()
            ? DecodeNoisedMean(job.ring_sum, job.contributed, job.quantization,
                               job.contributor_weight, out.mean)
            : job.privacy->AddCentralNoise(*job.plan, out.mean,
                                           job.contributor_weight);
    if (!noised) {
      out.noise_error = noised.error();
      return out;
    }
  }
  out.next = BuildNextModel(job, out.mean);
  return out;
}

Result<RoundFinalizer::NextModel> RoundFinalizer::BuildNextModel(
    const ReleaseJob& job, std::span<const float> mean_delta) {
  std::vector<float> parameters = job.current->parameters;
  // The optimizer's state advances only with a committed model.
  core::ServerOptimizer optimizer = *job.optimizer;
  if (auto s = optimizer.Apply(parameters, mean_delta); !s) {
    return std::unexpected(s.error());
  }
  for (float v : parameters) {
    if (!std::isfinite(v)) {
      return Internal("aggregate has a non-finite parameter");
    }
  }
  ModelRecord model;
  model.sequence = job.current->sequence + 1;
  model.version_id = MakeVersionId(model.sequence);
  model.round_id = job.round_id;
  model.parent_version = job.current->version_id;
  model.parameters = std::move(parameters);
  model.hash = ParameterHash(model.parameters);
  model.created_at = UtcNow();
  model.model_type = job.model_type;
  std::optional<SealedArtifact> sealed;
  if (job.vault) {
    auto s = SealModel(*job.vault, model);
    if (!s) return std::unexpected(s.error());
    sealed = std::move(*s);
  }
  return NextModel{std::move(model), std::move(sealed), std::move(optimizer)};
}

void RoundFinalizer::Conclude(FinishedRound& round, Result<Released> released) {
  RoundRecord& record = round.record;
  if (round.completed && round.statistics_round) {
    FinishStatisticsRound(round);
  } else if (round.completed) {
    const RoundOutcome& out = round.outcome;
    record.status = "completed";
    record.contributors = out.contributors;
    record.val_count = static_cast<int64_t>(out.metrics.count);
    record.val_correct = static_cast<int64_t>(out.metrics.correct);
    record.val_loss_sum = out.metrics.loss_sum;
    nlohmann::json privacy_fields;
    if (!released) {
      record.status = "aborted";
      record.abort_reason = "finalizing: " + released.error().message;
    } else if (released->robust_error) {
      record.status = "aborted";
      record.abort_reason =
          "robust aggregation: " + released->robust_error->message;
      // Every group rejected: nothing is released or charged, and the
      // evidence that caused it is kept (alone, in one transaction).
      if (!released->trust.empty()) {
        if (auto s = store_.db().Transaction(
                [&] { return sites_.SaveTrust(released->trust); });
            s) {
          sites_.AnnounceQuarantines(record.round_id, released->trust);
        } else {
          spdlog::error("round {}: storing trust: {}", record.round_id,
                        s.error().message);
        }
      }
    } else if (released->noise_error) {
      record.status = "aborted";
      record.abort_reason = "privacy: " + released->noise_error->message;
    } else if (auto s = Charge(round, privacy_fields); !s) {
      record.status = "aborted";
      record.abort_reason = "privacy: " + s.error().message;
    } else if (auto c = Commit(round, *released, privacy_fields); !c) {
      record.status = "aborted";
      record.abort_reason =
          "could not commit the aggregate: " + c.error().message;
    }
    if (record.status == "completed") {
      Complete(round);
    } else {
      Abort(record);
    }
  } else {
    Abort(record);
  }
  // Proven breaches count whether or not the round completed; last, so the
  // blame lands on top of the trust this round's robust rule stored.
  sites_.RecordMisbehaviours(record.round_id, round.misbehaviours);
  busy_ = false;
  Done done = std::move(done_);
  done_ = nullptr;
  if (done) done(record);
}

Status RoundFinalizer::Charge(const FinishedRound& round,
                              nlohmann::json& fields) {
  if (!privacy_ || !round.privacy_plan) return {};
  // Durable before anything is released: the model is committed and the
  // result sent only after this charge is in the ledger.
  auto charged = privacy_->Charge(
      *round.privacy_plan, static_cast<int>(round.outcome.contributors.size()));
  if (!charged) return std::unexpected(charged.error());
  fields = {{"mode", config_.privacy.mode},
            {"noise_multiplier", charged->noise_multiplier},
            {"effective_noise_multiplier", charged->effective_noise_multiplier},
            {"round_epsilon", charged->round_epsilon},
            {"epsilon_spent", charged->epsilon_after},
            {"epsilon_budget", privacy_->ledger().period().epsilon_budget},
            {"delta", privacy_->ledger().period().delta}};
  return {};
}

Status RoundFinalizer::Commit(FinishedRound& round, Released& released,
                              const nlohmann::json& privacy) {
  if (!released.next) return std::unexpected(released.next.error());
  RoundRecord& record = round.record;
  NextModel& next = *released.next;
  record.model_version = next.record.version_id;
  Status committed = store_.AuditedChange(
      kSystemActor.name, kSystemActor.role, "federated_round_completed",
      WithMode(CompletedRoundFields(round, privacy, released.robust)),
      [&]() -> Status {
        // [robust]: the round's trust and quarantines commit with its model.
        if (auto s = sites_.SaveTrust(released.trust); !s) return s;
        Status inserted = next.sealed
                              ? store_.InsertModel(next.record, *next.sealed)
                              : store_.InsertModel(next.record);
        if (!inserted) return inserted;
        record.duration_ms = ElapsedMs(round.started);  // includes the commit
        return store_.UpdateRound(record);
      });
  if (!committed) {
    record.model_version.clear();
    return committed;
  }
  sites_.AnnounceQuarantines(record.round_id, released.trust);
  model_ = std::move(next.record);
  server_optimizer_ = std::move(next.optimizer);
  previous_update_ = std::move(released.mean);
  return {};
}

void RoundFinalizer::Complete(FinishedRound& round) {
  RoundRecord& record = round.record;
  const double accuracy = Accuracy(record);
  spdlog::info(
      "round {} completed: {} of {} sites, model {}, validation accuracy "
      "{:.4f}",
      record.round_id, record.contributors.size(), record.participants.size(),
      record.model_version, accuracy);
  BroadcastResult(record);
  evaluations_.Expect(record.round_id, model_.version_id,
                      sites_.ConnectedSites());
}

void RoundFinalizer::BroadcastResult(const RoundRecord& record) {
  protocol::RoundResult result{
      static_cast<uint64_t>(record.round_id),
      model_.version_id,
      model_.hash,
      model_.parameters,
      static_cast<uint32_t>(record.contributors.size()),
      feature_statistics_ ? feature_statistics_->sums : std::vector<double>{}};
  sites_.Broadcast(
      std::make_shared<const Bytes>(protocol::EncodeFrame(result)));
}

void RoundFinalizer::Abort(RoundRecord& record) {
  record.status = "aborted";
  (void)store_.UpdateRound(record);
  AuditOrLog(
      store_, kSystemActor, "federated_round_aborted",
      WithMode({{"round", record.round_id}, {"reason", record.abort_reason}}));
  spdlog::warn("round {} aborted: {}", record.round_id, record.abort_reason);
}

void RoundFinalizer::FinishStatisticsRound(FinishedRound& round) {
  RoundRecord& record = round.record;
  const RoundOutcome& out = round.outcome;
  record.contributors = out.contributors;
  record.model_version = model_.version_id;
  const int features = ModelFeatureCount(config_);
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
    record.abort_reason =
        "feature statistics: " +
        (!stats ? stats.error().message : saved.error().message);
    Abort(record);
    return;
  }
  // Aggregates over all contributing sites only.
  AuditOrLog(store_, kSystemActor, "feature_statistics_computed",
             WithMode({{"round", record.round_id},
                       {"sites", record.contributors},
                       {"dropped", record.dropped},
                       {"features", features}}));
  spdlog::info(
      "round {} completed: federation-wide feature statistics from {} of {} "
      "sites",
      record.round_id, record.contributors.size(), record.participants.size());
  BroadcastResult(record);
}

}  // namespace cls::coordinator
