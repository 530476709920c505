#include "coordinator/round/round_history.h"

namespace cls::coordinator {
namespace {

constexpr const char* kCompletedTraining =
    "FROM rounds WHERE status = 'completed' AND model_version != ''";

}  // namespace

Result<int64_t> RoundHistory::CompletedTrainingRounds() {
  auto stmt =
      store_.db().Prepare(std::string("SELECT COUNT(*) ") + kCompletedTraining);
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  return *row ? stmt->Int(0) : 0;
}

Result<std::optional<RoundRecord>> RoundHistory::LastCompletedTrainingRound() {
  auto stmt = store_.db().Prepare(std::string("SELECT MAX(round_id) ") +
                                  kCompletedTraining);
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  const int64_t round_id = *row ? stmt->Int(0) : 0;
  if (round_id <= 0) return std::nullopt;  // MAX of nothing is NULL (0)
  return store_.FindRound(round_id);
}

Result<std::optional<RoundPrivacyCharge>> RoundHistory::PrivacyCharge(
    int64_t round_id) {
  SqliteDb& db = store_.db();
  auto table = db.Prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
      "'privacy_charges'");
  if (!table) return std::unexpected(table.error());
  auto exists = table->Step();
  if (!exists) return std::unexpected(exists.error());
  if (!*exists) return std::nullopt;
  auto stmt = db.Prepare(
      "SELECT period_id, mode, round_epsilon, epsilon_after, "
      "sites_contributed FROM privacy_charges WHERE round_id = ? ORDER BY "
      "charge_id DESC LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind({round_id}); !s) return std::unexpected(s.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::nullopt;
  return RoundPrivacyCharge{stmt->Int(0), stmt->Text(1), stmt->Double(2),
                            stmt->Double(3), stmt->Int(4)};
}

}  // namespace cls::coordinator
