#include "coordinator/storage/schema.h"

#include <fstream>
#include <iterator>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "common/testing/temp_dir.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator::storage {
namespace {

class SchemaTest : public ::testing::Test {
 protected:
  std::string Path() const { return (dir_.path() / "coordinator.db").string(); }

  std::unique_ptr<SqliteDb> OpenRaw() {
    auto db = SqliteDb::Open(Path());
    EXPECT_TRUE(db) << db.error().ToString();
    return std::move(*db);
  }

  static std::set<std::string> Names(SqliteDb& db, const std::string& type) {
    auto rows = QueryRows<std::string>(
        db,
        "SELECT name FROM sqlite_master WHERE type = ? AND name NOT LIKE "
        "'sqlite_%'",
        {type}, [](const SqlStatement& s) { return s.Text(0); });
    EXPECT_TRUE(rows) << rows.error().ToString();
    return {rows->begin(), rows->end()};
  }

  static std::string SchemaDump(SqliteDb& db) {
    auto rows = QueryRows<std::string>(
        db,
        "SELECT type || ' ' || name || ' ' || ifnull(sql, '') FROM "
        "sqlite_master ORDER BY type, name",
        {}, [](const SqlStatement& s) { return s.Text(0); });
    EXPECT_TRUE(rows);
    std::string out;
    for (const auto& r : *rows) out += r + "\n";
    return out;
  }

  std::string FileBytes() const {
    std::ifstream in(Path(), std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
  }

  cls::testing::TempDir dir_{"cls-schema"};
};

TEST_F(SchemaTest, ANewDatabaseGetsEveryTableAndTheCurrentVersion) {
  auto db = OpenRaw();
  ASSERT_EQ(*SchemaVersion(*db), 0);
  ASSERT_TRUE(Migrate(*db).has_value());
  EXPECT_EQ(*SchemaVersion(*db), kSchemaVersion);
  EXPECT_EQ(Names(*db, "table"),
            (std::set<std::string>{
                "sites", "rounds", "models", "model_evaluations", "audit_log",
                "audit_checkpoints", "privacy_periods", "privacy_charges",
                "site_trust", "deployments", "deployment_acks", "drift_reports",
                "drift_summaries", "drift_alerts", "feature_statistics"}));
  EXPECT_EQ(
      Names(*db, "trigger"),
      (std::set<std::string>{
          "privacy_charges_no_update", "privacy_charges_no_delete",
          "privacy_periods_no_delete", "privacy_periods_spend_only_grows"}));
}

TEST_F(SchemaTest, MigratingAnUpToDateDatabaseChangesNothing) {
  auto db = OpenRaw();
  ASSERT_TRUE(Migrate(*db).has_value());
  const std::string before = SchemaDump(*db);
  ASSERT_TRUE(Migrate(*db).has_value());
  EXPECT_EQ(SchemaDump(*db), before);
  EXPECT_EQ(*SchemaVersion(*db), kSchemaVersion);
}

// A database as the coordinator wrote it before schema versions (and before
// artifact encryption): user_version 0, `models` without its encryption
// columns, some tables missing. Opening it brings it forward and keeps
// every row.
TEST_F(SchemaTest,
       AnUnversionedDatabaseFromAnOlderCoordinatorIsBroughtForward) {
  {
    auto db = OpenRaw();
    ASSERT_TRUE(db->Exec(R"sql(
CREATE TABLE sites (
  site_id TEXT PRIMARY KEY,
  site_name TEXT NOT NULL DEFAULT '',
  location TEXT NOT NULL DEFAULT '',
  num_samples INTEGER NOT NULL DEFAULT 0,
  trust_score REAL NOT NULL DEFAULT 1.0,
  status TEXT NOT NULL,
  registered_at TEXT NOT NULL,
  last_seen TEXT NOT NULL DEFAULT ''
);
CREATE TABLE models (
  version_id TEXT PRIMARY KEY,
  sequence INTEGER NOT NULL UNIQUE,
  round_id INTEGER NOT NULL,
  parent_version TEXT NOT NULL,
  hash TEXT NOT NULL,
  parameters BLOB NOT NULL,
  created_at TEXT NOT NULL
);
INSERT INTO sites (site_id, site_name, status, registered_at)
  VALUES ('SITE_CLEVELAND', 'Cleveland Clinic', 'approved', '2026-01-02T03:04:05Z');
INSERT INTO models VALUES ('v1_20260102_030405', 1, 0, '', 'abc', x'0000803f', '2026-01-02T03:04:05Z');
)sql")
                    .has_value());
  }
  auto store = CoordinatorStore::Open(Path());
  ASSERT_TRUE(store) << store.error().ToString();
  SqliteDb& db = (*store)->db();
  EXPECT_EQ(*SchemaVersion(db), kSchemaVersion);
  auto site = (*store)->FindSite("SITE_CLEVELAND");
  ASSERT_TRUE(site && site->has_value());
  EXPECT_EQ((*site)->site_name, "Cleveland Clinic");
  EXPECT_EQ((*site)->status, SiteStatus::kApproved);
  auto columns =
      QueryRows<std::string>(db, "PRAGMA table_info(models)", {},
                             [](const SqlStatement& s) { return s.Text(1); });
  ASSERT_TRUE(columns);
  for (const char* added :
       {"model_type", "artifact", "wrapped_key", "kek_id"}) {
    EXPECT_NE(std::ranges::find(*columns, added), columns->end()) << added;
  }
  auto kept = QueryRows<std::string>(
      db, "SELECT version_id || ' ' || hex(parameters) FROM models", {},
      [](const SqlStatement& s) { return s.Text(0); });
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, std::vector<std::string>{"v1_20260102_030405 0000803F"});
  EXPECT_EQ(Names(db, "table").count("privacy_charges"), 1u);
}

// A version-2 database (before model kinds): its evaluations keep their
// rows and read as having no per-class counts.
TEST_F(SchemaTest, AVersion2DatabaseGainsClassCounts) {
  {
    auto db = OpenRaw();
    ASSERT_TRUE(Migrate(*db).has_value());
    ASSERT_TRUE(
        db->Exec("ALTER TABLE model_evaluations DROP COLUMN class_counts; "
                 "PRAGMA user_version = 2;"
                 "INSERT INTO model_evaluations (version_id, reports, count, "
                 "correct) VALUES ('v1_20260102_030405', 1, 10, 8)")
            .has_value());
  }
  auto store = CoordinatorStore::Open(Path());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(*SchemaVersion((*store)->db()), kSchemaVersion);
  auto e = (*store)->FindVersionEvaluation("v1_20260102_030405");
  ASSERT_TRUE(e) << e.error().ToString();
  EXPECT_EQ(e->correct, 8);
  EXPECT_TRUE(e->classes.support.empty());
  // A multi-class report adds its counts; a second one sums.
  VersionEvaluation report;
  report.count = 5;
  report.correct = 4;
  report.classes = {{1, 2, 1}, {2, 2, 1}, {1, 3, 1}};
  ASSERT_TRUE((*store)->AddVersionEvaluation("v2_20260102_030406", report));
  ASSERT_TRUE((*store)->AddVersionEvaluation("v2_20260102_030406", report));
  auto two = (*store)->FindVersionEvaluation("v2_20260102_030406");
  ASSERT_TRUE(two) << two.error().ToString();
  EXPECT_EQ(two->classes.support, (std::vector<uint64_t>{4, 4, 2}));
  EXPECT_EQ(two->classes.correct, (std::vector<uint64_t>{2, 4, 2}));
}

// A version-1 database (before agent versions were kept): the sites keep
// their rows and gain an empty agent_version, filled at the next hello.
TEST_F(SchemaTest, AVersion1DatabaseGainsTheSitesAgentVersion) {
  {
    auto db = OpenRaw();
    ASSERT_TRUE(Migrate(*db).has_value());
    // Back to version 1's layout.
    ASSERT_TRUE(
        db->Exec("ALTER TABLE sites DROP COLUMN agent_version; "
                 "PRAGMA user_version = 1;"
                 "INSERT INTO sites (site_id, status, registered_at) "
                 "VALUES ('HOSP_A', 'approved', '2026-01-02T03:04:05Z')")
            .has_value());
  }
  auto store = CoordinatorStore::Open(Path());
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_EQ(*SchemaVersion((*store)->db()), kSchemaVersion);
  auto site = (*store)->FindSite("HOSP_A");
  ASSERT_TRUE(site && site->has_value());
  EXPECT_EQ((*site)->agent_version, "");
  ASSERT_TRUE((*store)->UpdateSiteHello("HOSP_A", "A", "Cleveland", 10,
                                        "0.1.0 (git 0123456789ab)"));
  site = (*store)->FindSite("HOSP_A");
  ASSERT_TRUE(site && site->has_value());
  EXPECT_EQ((*site)->agent_version, "0.1.0 (git 0123456789ab)");
  EXPECT_EQ((*site)->status, SiteStatus::kApproved);
}

TEST_F(SchemaTest, ADatabaseFromANewerCoordinatorIsRefusedAndLeftUntouched) {
  {
    auto db = OpenRaw();
    ASSERT_TRUE(Migrate(*db).has_value());
    ASSERT_TRUE(
        db->Exec("PRAGMA user_version = " + std::to_string(kSchemaVersion + 1))
            .has_value());
    ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").has_value());
  }
  const std::string before = FileBytes();
  auto store = CoordinatorStore::Open(Path());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_EQ(store.error().message,
            "coordinator database has schema version " +
                std::to_string(kSchemaVersion + 1) +
                "; this coordinator knows versions up to " +
                std::to_string(kSchemaVersion) +
                " (a newer coordinator wrote it: run that version, or "
                "restore a backup taken before the upgrade)");
  EXPECT_EQ(FileBytes(), before);
}

// A migration that fails part-way leaves the database at its old version
// with nothing of the new one: here `models` is a view, which no column can
// be added to.
TEST_F(SchemaTest, AFailedMigrationLeavesTheOldVersionWhole) {
  {
    auto db = OpenRaw();
    ASSERT_TRUE(
        db->Exec("CREATE TABLE legacy (x INTEGER);"
                 "CREATE VIEW models AS SELECT x AS version_id FROM legacy;")
            .has_value());
  }
  auto db = OpenRaw();
  auto migrated = Migrate(*db);
  ASSERT_FALSE(migrated);
  EXPECT_NE(
      migrated.error().message.find(
          "migrating the coordinator database from schema version 0 to 1: "),
      std::string::npos)
      << migrated.error().message;
  EXPECT_EQ(*SchemaVersion(*db), 0);
  EXPECT_EQ(Names(*db, "table"), std::set<std::string>{"legacy"});
}

}  // namespace
}  // namespace cls::coordinator::storage
