#ifndef CLS_COORDINATOR_ROUND_FEATURE_STATISTICS_STORE_H_
#define CLS_COORDINATOR_ROUND_FEATURE_STATISTICS_STORE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "common/error.h"
#include "common/sqlite_db.h"

namespace cls::coordinator {

// The federation-wide feature statistics (core/feature_statistics.h layout)
// each secure statistics round produced, in the coordinator's database:
// table feature_statistics (round_id, features, sites, sums as float64
// little-endian, created_at). Only sums over all contributing sites are
// stored; no site's own statistics ever reach the coordinator. The table is
// created by coordinator/storage/schema.cc.

struct StoredFeatureStatistics {
  int64_t round_id = 0;
  int features = 0;
  int sites = 0;
  std::vector<double> sums;
};

// The latest statistics for models with `features` features, if any.
Result<std::optional<StoredFeatureStatistics>> LoadLatestFeatureStatistics(
    SqliteDb& db, int features);

Status SaveFeatureStatistics(SqliteDb& db, const StoredFeatureStatistics& s,
                             const std::string& created_at);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_FEATURE_STATISTICS_STORE_H_
