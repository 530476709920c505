#ifndef CLS_COORDINATOR_PRIVACY_PRIVACY_HIGH_WATER_H_
#define CLS_COORDINATOR_PRIVACY_PRIVACY_HIGH_WATER_H_

#include <filesystem>
#include <optional>

#include "common/error.h"
#include "coordinator/privacy/privacy_ledger.h"

namespace cls::coordinator {

// The privacy high-water mark (docs/operations.md "Backup and restore"): a
// backup taken at time T lacks the epsilon spent after T, so a restore alone
// would put the ledger below what was really spent. With [backup] dir set,
// the coordinator rewrites this file in the backup folder after every
// committed spend, and at start raises a ledger that is below it
// (PrivacyLedger::RaiseToHighWater).
inline constexpr const char* kPrivacyHighWaterFile = "privacy-spent.json";

// {"period_id", "epsilon_budget", "delta", "period_started_at",
//  "spent_epsilon", "last_round_id", "orders", "rdp", "updated_at"},
// written durably (a crash leaves the old file or the new one).
Status WritePrivacyHighWater(const std::filesystem::path& file,
                             const PrivacySpendMark& mark);

// nullopt when there is no file; DataLoss naming the file when it cannot be
// read as a mark (the coordinator then refuses to start: it cannot know that
// the ledger is not below what was spent).
Result<std::optional<PrivacySpendMark>> ReadPrivacyHighWater(
    const std::filesystem::path& file);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_PRIVACY_PRIVACY_HIGH_WATER_H_
