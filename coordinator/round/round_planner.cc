#include "coordinator/round/round_planner.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "core/feature_statistics.h"
#include "core/robust/grouping.h"
#include "core/robust/robust_pipeline.h"
#include "crypto/random.h"
#include "secagg/common/secagg.h"

namespace cls::coordinator {

std::string InsufficientSites(size_t have, int need) {
  return "Insufficient active sites: " + std::to_string(have) + " < " +
         std::to_string(need);
}

RoundPlanner::RoundPlanner(const CoordinatorConfig& config,
                           RoundPrivacy* privacy)
    : config_(config), privacy_(privacy) {}

bool UsesFederationStatistics(const CoordinatorConfig& config) {
  return config.model_kind != "benchmark_vector" &&
         config.standardisation == "federation";
}

int ModelFeatureCount(const CoordinatorConfig& config) {
  if (config.model_spec.num_features > 0) return config.model_spec.num_features;
  return static_cast<int>(config.model_parameters - 1);
}

std::string ModelSpecText(const CoordinatorConfig& config) {
  // Without [model] features (logistic regression by parameter count) the
  // sites use their default, as before model kinds.
  if (config.model_spec.num_features == 0) return {};
  return config.model_spec.ToString();
}

Result<PlannedRound> RoundPlanner::Plan(
    int64_t round_id, const std::vector<SiteRecord>& active,
    std::vector<core::robust::SiteTrust> trust,
    const CertificateLookup& certificate, const ModelRecord& model,
    const std::optional<StoredFeatureStatistics>& statistics,
    bool statistics_round) {
  if (active.empty()) return FailedPrecondition(InsufficientSites(0, 1));
  if (!config_.federated && active.size() > 1) {
    return FailedPrecondition(
        "federated = false: one hospital trains alone, but " +
        std::to_string(active.size()) +
        " sites are approved and connected (revoke the others, or set "
        "[federation] federated = true)");
  }
  PlannedRound plan;
  plan.statistics_round = statistics_round;
  // FedAvg weights n_i / N; with [robust], trust x samples (a distrusted
  // site counts for less) for training rounds.
  const bool robust = config_.robust.enabled && !statistics_round;
  if (robust && trust.size() != active.size()) {
    return Internal("planning round: trust of " + std::to_string(trust.size()) +
                    " sites for " + std::to_string(active.size()));
  }
  std::vector<double> raw;
  for (size_t i = 0; i < active.size(); ++i) {
    raw.push_back(
        robust ? core::robust::ContributionWeight(
                     trust[i], active[i].num_samples, config_.robust.trust)
               : static_cast<double>(active[i].num_samples));
  }
  if (robust) plan.trust = std::move(trust);
  double total = 0;
  for (double w : raw) total += w;
  for (size_t i = 0; i < active.size(); ++i) {
    plan.participants.push_back(
        {active[i].site_id, raw[i] / total, certificate(active[i].site_id)});
  }
  auto coordinator_id = CoordinatorId();
  if (!coordinator_id) return std::unexpected(coordinator_id.error());

  RoundSettings& settings = plan.settings;
  settings.round_id = static_cast<uint64_t>(round_id);
  settings.coordinator_id = *coordinator_id;
  // No stage may close with fewer live sites than the federation's minimum.
  settings.min_sites = static_cast<size_t>(config_.min_sites);
  settings.model_version = model.version_id;
  settings.model_hash = model.hash;
  settings.model_kind = config_.model_kind;
  settings.model_spec = ModelSpecText(config_);
  settings.global_parameters = model.parameters;
  settings.training = config_.training;
  settings.quantization.clip = config_.clip;
  settings.quantization.value_bits = config_.value_bits;
  const int n = static_cast<int>(plan.participants.size());
  auto ring = core::RingBitsFor(config_.value_bits, n);
  settings.quantization.ring_bits = ring ? *ring : 32;
  settings.stage_timeout = config_.stage_timeout;
  settings.complete_graph_up_to = config_.complete_graph_up_to;
  if (statistics_round) {
    // Limbs of at most 16 bits each; the ring holds the sum of n of them.
    settings.model_kind = std::string(kFeatureStatisticsKind);
    settings.quantization.value_bits = core::kStatisticsLimbBits;
    auto stats_ring = core::RingBitsFor(core::kStatisticsLimbBits, n);
    settings.quantization.ring_bits = stats_ring ? *stats_ring : 32;
    settings.input_length =
        core::EncodedStatisticsLength(ModelFeatureCount(config_));
  } else if (statistics) {
    settings.feature_statistics = statistics->sums;
  }
  Key32 seed = crypto::RandomKey32();
  std::memcpy(&settings.graph_seed, seed.data(), sizeof settings.graph_seed);

  if (!config_.federated) {
    // One hospital alone: no one to hide its update from. The site must
    // agree ([secure_aggregation] allow_single_site = true in its config)
    // or it refuses the round.
    settings.allow_single_site = true;
  }
  if (robust) {
    // Per-site mode: groups of one, so the rule sees every site's update.
    const bool per_site = !config_.robust.secure_aggregation;
    settings.allow_single_site = per_site;
    auto assigned = core::robust::AssignGroups(
        n, per_site ? 1 : config_.robust.group_size, settings.graph_seed);
    if (assigned) plan.groups = std::move(*assigned);
    // A majority of groups must complete: the robust rule needs company.
    plan.min_groups = static_cast<int>(plan.groups.size() / 2 + 1);
  }
  if (plan.groups.empty()) {
    plan.groups.emplace_back();
    for (int i = 0; i < n; ++i) plan.groups.back().push_back(i);
    plan.min_groups = 1;
  }
  return plan;
}

Status RoundPlanner::PlanPrivacy(PlannedRound& round) {
  round.privacy_plan.reset();
  if (!privacy_ || round.statistics_round) return {};
  auto plan = PrivacyPlan(static_cast<int64_t>(round.settings.round_id),
                          round.participants, round.settings);
  if (!plan) return std::unexpected(plan.error());
  if (auto s = privacy_->Check(*plan); !s) return s;
  round.settings.quantization.ring_bits = plan->ring_bits;
  round.settings.noise_variance = plan->per_site_variance;
  round.privacy_plan = std::move(*plan);
  return {};
}

Status RoundPlanner::CheckBudget(int64_t round_id,
                                 const std::vector<SiteRecord>& active,
                                 const ModelRecord& model) {
  if (!privacy_) return {};
  double total = 0;
  for (const auto& s : active) total += static_cast<double>(s.num_samples);
  std::vector<RoundParticipant> planned;
  for (const auto& s : active) {
    planned.push_back(
        {s.site_id, static_cast<double>(s.num_samples) / total, nullptr});
  }
  RoundSettings settings;
  settings.global_parameters = model.parameters;
  settings.quantization.clip = config_.clip;
  settings.quantization.value_bits = config_.value_bits;
  auto ring =
      core::RingBitsFor(config_.value_bits, static_cast<int>(planned.size()));
  settings.quantization.ring_bits = ring ? *ring : 32;
  settings.complete_graph_up_to = config_.complete_graph_up_to;
  auto plan = PrivacyPlan(round_id, planned, settings);
  if (!plan) return std::unexpected(plan.error());
  return privacy_->Check(*plan);
}

Result<RoundPrivacy::Plan> RoundPlanner::PrivacyPlan(
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

Result<std::string> RoundPlanner::CoordinatorId() {
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

}  // namespace cls::coordinator
