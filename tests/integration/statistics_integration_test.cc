// The secure feature-statistics round over real processes: the coordinator
// learns only the federation-wide sums, they equal the sum of what each site
// computed on its own train rows, and every site then standardises with
// them.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/sqlite_db.h"
#include "core/dataset.h"
#include "core/feature_statistics.h"
#include "tests/integration/cluster.h"
#include "tests/integration/example_templates.h"

namespace cls::testing {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The synthetic cohort's schema, as Cluster::StartSite configures it.
core::DatasetSchema CohortSchema() {
  core::DatasetSchema schema;
  for (const char* f : {"f1", "f2", "f3", "f4"}) {
    schema.features.push_back({f, core::ColumnSpec::Kind::kNumeric, {}, false});
  }
  schema.features.push_back(
      {"group", core::ColumnSpec::Kind::kCategorical, {1, 2, 3}, false});
  schema.label = {"y", 0.5};
  return schema;
}

// What one site computes on its train rows (site defaults: 80/20, seed 7).
std::vector<double> SiteSums(const std::string& csv) {
  const core::DatasetSchema schema = CohortSchema();
  auto loaded = core::LoadCsv(csv, schema);
  EXPECT_TRUE(loaded.has_value());
  const core::Split split = core::StratifiedSplit(loaded->table.labels, 0.2, 7);
  auto stats =
      core::ComputeFeatureStatistics(schema, loaded->table, split.train);
  EXPECT_TRUE(stats.has_value());
  return stats->Flatten();
}

std::vector<std::vector<double>> StoredStatistics(Cluster& cluster) {
  auto db = SqliteDb::Open(cluster.Path("coordinator-state/coordinator.db"));
  EXPECT_TRUE(db.has_value());
  auto stmt =
      (*db)->Prepare("SELECT sums FROM feature_statistics ORDER BY round_id");
  EXPECT_TRUE(stmt.has_value());
  std::vector<std::vector<double>> out;
  while (*stmt->Step()) {
    Bytes blob = stmt->Blob(0);
    std::vector<double> v(blob.size() / 8);
    std::memcpy(v.data(), blob.data(), blob.size());
    out.push_back(std::move(v));
  }
  return out;
}

TEST(StatisticsIntegrationTest, SecureSumsEqualSiteSumsAndSitesAdoptThem) {
  Cluster cluster;
  cluster.StartCoordinator("min_sites = 3", "",
                           "standardisation = \"federation\"");
  const std::vector<std::string> ids = {"HOSP_A", "HOSP_B", "HOSP_C"};
  const double shifts[] = {0.0, 1.5, -2.0};
  for (size_t i = 0; i < ids.size(); ++i) {
    SiteOptions options;
    options.rows = 100 + 40 * static_cast<int>(i);
    options.shift = shifts[i];
    cluster.StartSite(ids[i], options);
  }
  cluster.ApproveAll(ids);

  // One requested training round: the statistics round runs first.
  auto rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 2u) << rounds.dump();
  for (const auto& r : rounds) {
    ASSERT_EQ(r["status"], "completed") << r.dump();
    EXPECT_EQ(r["contributors"].size(), 3u);
  }

  std::vector<double> expected;
  for (const auto& id : ids) {
    auto sums = SiteSums(cluster.Path(id + ".csv"));
    if (expected.empty()) expected.assign(sums.size(), 0.0);
    ASSERT_EQ(sums.size(), expected.size());
    for (size_t k = 0; k < sums.size(); ++k) expected[k] += sums[k];
  }
  auto stored = StoredStatistics(cluster);
  ASSERT_EQ(stored.size(), 1u);
  ASSERT_EQ(stored[0].size(), expected.size());
  EXPECT_EQ(expected.size(), core::StatisticsLength(kSyntheticParameters - 1));
  for (size_t k = 0; k < expected.size(); ++k) {
    // Each site rounds its sums to 2^-16 before masking.
    EXPECT_NEAR(stored[0][k], expected[k],
                3 * 1e-5 + 1e-9 * std::abs(expected[k]))
        << "sum " << k;
  }
  // Row counts are exact.
  EXPECT_EQ(stored[0][0], expected[0]);
  EXPECT_EQ(stored[0][1], expected[1]);

  for (const auto& id : ids) {
    EXPECT_TRUE(fs::exists(cluster.Path(id + "-state/feature_statistics.bin")))
        << id;
    EXPECT_TRUE(WaitUntil(
        [&] {
          return ReadText(cluster.Path(id + "-state/status.json"))
                     .find("\"standardisation\": \"federation\"") !=
                 std::string::npos;
        },
        10s))
        << id;
  }
  // Each site keeps the coordinator's latest signed audit checkpoint (one is
  // made after every completed round).
  for (const auto& id : ids) {
    EXPECT_TRUE(WaitUntil(
        [&] {
          const std::string c =
              ReadText(cluster.Path(id + "-state/audit_checkpoint.json"));
          return c.find("\"signature\"") != std::string::npos &&
                 c.find("\"seq\"") != std::string::npos;
        },
        10s))
        << id;
  }
  const std::string log = cluster.coordinator()->Log();
  EXPECT_NE(log.find("federation-wide feature statistics from 3 of 3 sites"),
            std::string::npos);

  // The statistics are durable: after a restart no second statistics round.
  cluster.StopCoordinator();
  cluster.StartCoordinator("min_sites = 3", "",
                           "standardisation = \"federation\"");
  ASSERT_TRUE(cluster.WaitConnected(3, 60s));
  auto more = cluster.RunRounds(1, 120s);
  ASSERT_EQ(more.size(), 1u) << more.dump();
  EXPECT_EQ(more[0]["status"], "completed") << more[0].dump();
  EXPECT_EQ(StoredStatistics(cluster).size(), 1u);
}

}  // namespace
}  // namespace cls::testing
