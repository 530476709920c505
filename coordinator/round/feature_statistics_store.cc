#include "coordinator/round/feature_statistics_store.h"

#include <cstring>
#include <string>

#include "core/feature_statistics.h"

namespace cls::coordinator {

Result<std::optional<StoredFeatureStatistics>> LoadLatestFeatureStatistics(
    SqliteDb& db, int features) {
  auto stmt = db.Prepare(
      "SELECT round_id, sites, sums FROM feature_statistics WHERE features = ? "
      "ORDER BY round_id DESC LIMIT 1");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind({int64_t{features}}); !s) {
    return std::unexpected(s.error());
  }
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::nullopt;
  StoredFeatureStatistics out;
  out.round_id = stmt->Int(0);
  out.features = features;
  out.sites = static_cast<int>(stmt->Int(1));
  const Bytes blob = stmt->Blob(2);
  if (blob.size() != core::StatisticsLength(features) * sizeof(double)) {
    return DataLoss("feature statistics of round " +
                    std::to_string(out.round_id) + " have the wrong size");
  }
  out.sums.resize(blob.size() / sizeof(double));
  std::memcpy(out.sums.data(), blob.data(), blob.size());
  if (!core::FeatureStatistics::Unflatten(out.sums, features)) {
    return DataLoss("feature statistics of round " +
                    std::to_string(out.round_id) + " are inconsistent");
  }
  return out;
}

Status SaveFeatureStatistics(SqliteDb& db, const StoredFeatureStatistics& s,
                             const std::string& created_at) {
  Bytes blob(s.sums.size() * sizeof(double));
  if (!blob.empty()) std::memcpy(blob.data(), s.sums.data(), blob.size());
  return db.Run(
      "INSERT INTO feature_statistics (round_id, features, sites, sums, "
      "created_at) VALUES (?, ?, ?, ?, ?)",
      {s.round_id, int64_t{s.features}, int64_t{s.sites}, std::move(blob),
       created_at});
}

}  // namespace cls::coordinator
