#ifndef CLS_COORDINATOR_ROUND_ROUND_PLANNER_H_
#define CLS_COORDINATOR_ROUND_ROUND_PLANNER_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "coordinator/config.h"
#include "coordinator/privacy/round_privacy.h"
#include "coordinator/round/feature_statistics_store.h"
#include "coordinator/storage/store.h"
#include "core/robust/trust.h"
#include "secagg/server/round_context.h"

namespace cls::coordinator {

// The model kind of a secure feature-statistics round.
inline constexpr std::string_view kFeatureStatisticsKind = "feature_statistics";

// "Insufficient active sites: 2 < 3" (the original guide's wording, so
// existing runbooks still match).
std::string InsufficientSites(size_t have, int need);

// standardisation = "federation" for a logistic regression: a secure
// statistics round runs before the first training round.
bool UsesFederationStatistics(const CoordinatorConfig& config);
// Features of the model (parameters minus the bias).
int ModelFeatureCount(const CoordinatorConfig& config);
// The core::ModelSpec text announced with rounds and deployments; "" for a
// logistic regression configured by parameter count alone.
std::string ModelSpecText(const CoordinatorConfig& config);

// Everything decided before a round starts.
struct PlannedRound {
  RoundSettings settings;
  std::vector<RoundParticipant> participants;  // weights sum to 1
  // Indices into participants; one group unless [robust] is enabled.
  std::vector<std::vector<int>> groups;
  int min_groups = 1;
  // [robust] training rounds: each participant's trust, by index.
  std::vector<core::robust::SiteTrust> trust;
  // Set by PlanPrivacy ([privacy] on, training rounds).
  std::optional<RoundPrivacy::Plan> privacy_plan;
  bool statistics_round = false;
};

// The round's settings, weights, robust groups and DP plan, from the
// config, the current model and the sites taking part. Touches no site and
// no round record; the privacy ledger is only read (Check audits a refusal).
// Single-threaded (io thread). Borrows the config and the privacy service
// (null when [privacy] mode = "off").
class RoundPlanner {
 public:
  using CertificateLookup =
      std::function<std::shared_ptr<const crypto::Certificate>(
          const std::string& site_id)>;

  RoundPlanner(const CoordinatorConfig& config, RoundPrivacy* privacy);

  // The next round over `active` (approved, connected sites). `trust`:
  // their trust, by index, for a [robust] training round (else empty).
  // Without DP; call PlanPrivacy next.
  Result<PlannedRound> Plan(
      int64_t round_id, const std::vector<SiteRecord>& active,
      std::vector<core::robust::SiteTrust> trust,
      const CertificateLookup& certificate, const ModelRecord& model,
      const std::optional<StoredFeatureStatistics>& statistics,
      bool statistics_round);

  // The DP plan of a training round, checked against the budget
  // (ResourceExhausted with the ledger's message when it cannot pay); sets
  // the round's ring and the sites' noise. No-op without [privacy] or for a
  // statistics round.
  Status PlanPrivacy(PlannedRound& round);

  // At request time: whether the budget can pay for a round over `active`
  // (weights by samples), so the operator hears it at once.
  Status CheckBudget(int64_t round_id, const std::vector<SiteRecord>& active,
                     const ModelRecord& model);

  // The CN of the coordinator's certificate (bound into the sites'
  // signatures), read from [tls] cert the first time.
  Result<std::string> CoordinatorId();

 private:
  Result<RoundPrivacy::Plan> PrivacyPlan(
      int64_t round_id, const std::vector<RoundParticipant>& participants,
      const RoundSettings& settings) const;

  const CoordinatorConfig& config_;
  RoundPrivacy* privacy_;
  std::string coordinator_id_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_PLANNER_H_
