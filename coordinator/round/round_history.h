#ifndef CLS_COORDINATOR_ROUND_ROUND_HISTORY_H_
#define CLS_COORDINATOR_ROUND_ROUND_HISTORY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

// A round's charge in the privacy ledger.
struct RoundPrivacyCharge {
  int64_t period_id = 0;
  std::string mode;
  double round_epsilon = 0;
  double epsilon_spent_after = 0;
  int64_t sites_contributed = 0;
};

// What past rounds left, read-only, for operators: the round records, the
// model versions they made with the sites' evaluations, and each round's
// privacy charge. Single-threaded (io thread). Borrows the store.
class RoundHistory {
 public:
  explicit RoundHistory(CoordinatorStore& store) : store_(store) {}

  Result<std::vector<RoundRecord>> ListRounds(int limit) {
    return store_.ListRounds(limit);
  }
  Result<std::optional<RoundRecord>> FindRound(int64_t round_id) {
    return store_.FindRound(round_id);
  }
  // Newest first; metadata only.
  Result<std::vector<ModelSummary>> ListModels() { return store_.ListModels(); }
  Result<VersionEvaluation> FindVersionEvaluation(
      const std::string& version_id) {
    return store_.FindVersionEvaluation(version_id);
  }
  // Completed training rounds (a round that made a model version; the
  // feature-statistics round is not one), and the newest of them.
  Result<int64_t> CompletedTrainingRounds();
  Result<std::optional<RoundRecord>> LastCompletedTrainingRound();
  // nullopt: privacy off, or a round before the ledger existed, or a round
  // that was not charged.
  Result<std::optional<RoundPrivacyCharge>> PrivacyCharge(int64_t round_id);

 private:
  CoordinatorStore& store_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_HISTORY_H_
