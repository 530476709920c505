// The audit log, access control and break-glass against the real daemons
// and clsctl: what operators do is recorded, tampering is caught, and no
// patient value ever leaves a site.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "audit/audit_chain.h"
#include "common/sqlite_db.h"
#include "tests/integration/cluster.h"

namespace cls::testing {
namespace {
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// Checkpoints every 5 entries so a short test has several.
constexpr const char* kAuditConfig = "[audit]\ncheckpoint_every = 5\n";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<json> Events(const json& doc, const std::string& event) {
  std::vector<json> out;
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] == event) out.push_back(e);
  }
  return out;
}

std::string DbPath(Cluster& c) {
  return c.Path("coordinator-state/coordinator.db");
}

TEST(AuditIntegrationTest, DeniedCommandsAreAuditedAndTheExportVerifies) {
  Cluster cluster;
  cluster.StartCoordinator(kAuditConfig);

  auto denied = cluster.Ctl({"round", "start"}, "viewer");
  EXPECT_EQ(denied.exit_code, 6);
  EXPECT_NE(denied.error.find("role 'viewer' lacks permission round.start"),
            std::string::npos)
      << denied.error;
  EXPECT_EQ(cluster.Ctl({"audit", "export"}, "operator").exit_code, 6);
  // Every role may read drift status (drift.read).
  auto drift = cluster.Ctl({"drift", "status"}, "viewer");
  EXPECT_EQ(drift.exit_code, 0) << drift.error;

  const std::string file = cluster.Path("audit.json");
  auto exported = cluster.Ctl({"audit", "export", "--output", file}, "auditor");
  ASSERT_EQ(exported.exit_code, 0) << exported.error;
  json doc = json::parse(ReadAll(file));
  auto access_denied = Events(doc, "access_denied");
  ASSERT_EQ(access_denied.size(), 2u);
  EXPECT_EQ(access_denied[0]["actor"], "viewer");
  EXPECT_EQ(access_denied[0]["actor_role"], "viewer");
  EXPECT_EQ(access_denied[0]["permission"], "round.start");
  EXPECT_EQ(access_denied[1]["permission"], "audit.export");
  auto export_event = Events(doc, "audit_exported");
  ASSERT_EQ(export_event.size(), 1u);
  EXPECT_EQ(export_event[0]["actor"], "auditor");
  EXPECT_EQ(Events(doc, "model_created").size(), 1u);
  EXPECT_FALSE(doc["checkpoints"].empty());

  // Offline, with only the CA: no operator certificate needed.
  auto verified =
      RunCommand({BinaryPath("clsctl"), "--ca", cluster.Path("pki/ca.pem"),
                  "audit", "verify", file});
  EXPECT_EQ(verified.exit_code, 0) << verified.output << verified.error;
  EXPECT_NE(verified.output.find("audit log OK"), std::string::npos);
  // The live log, also checked against the checkpoint files.
  auto live = cluster.Ctl({"audit", "verify"}, "auditor");
  EXPECT_EQ(live.exit_code, 0) << live.output << live.error;
  EXPECT_EQ(live.Json()["ok"], true);
}

TEST(AuditIntegrationTest, TamperingWithTheDatabaseIsNamedByVerify) {
  Cluster cluster;
  cluster.StartCoordinator(kAuditConfig);
  for (int i = 0; i < 6; ++i) cluster.Ctl({"round", "start"}, "viewer");
  ASSERT_EQ(cluster.Ctl({"audit", "verify"}, "auditor").exit_code, 0);

  {
    auto db = std::move(*SqliteDb::Open(DbPath(cluster)));
    ASSERT_TRUE(db->Run("UPDATE audit_log SET actor = 'nobody' WHERE seq = 3")
                    .has_value());
  }
  auto edited = cluster.Ctl({"audit", "verify"}, "auditor");
  EXPECT_EQ(edited.exit_code, 5) << edited.output << edited.error;
  json report = edited.Json();
  ASSERT_FALSE(report["problems"].empty()) << edited.output;
  EXPECT_EQ(report["problems"][0]["kind"], "edited");
  EXPECT_EQ(report["problems"][0]["seq"], 3);

  // Rewrite every entry with recomputed hashes and empty the checkpoint
  // table: the chain is self-consistent, but the signed checkpoint files
  // still disagree with it.
  {
    auto db = std::move(*SqliteDb::Open(DbPath(cluster)));
    auto stmt = std::move(*db->Prepare(
        "SELECT seq, timestamp, actor, actor_role, event_type, fields FROM "
        "audit_log ORDER BY seq"));
    std::vector<audit::AuditEntry> entries;
    while (*stmt.Step()) {
      entries.push_back({stmt.Int(0), stmt.Text(1), stmt.Text(2), stmt.Text(3),
                         stmt.Text(4), json::parse(stmt.Text(5)), "", ""});
    }
    std::string prev = audit::kGenesisHash;
    for (auto& e : entries) {
      e.prev_hash = prev;
      e.hash = audit::ComputeEntryHash(e);
      prev = e.hash;
      ASSERT_TRUE(db->Run("UPDATE audit_log SET prev_hash = ?, hash = ? "
                          "WHERE seq = ?",
                          {e.prev_hash, e.hash, e.seq})
                      .has_value());
    }
    ASSERT_TRUE(db->Run("DELETE FROM audit_checkpoints").has_value());
  }
  auto rewritten = cluster.Ctl({"audit", "verify"}, "auditor");
  EXPECT_EQ(rewritten.exit_code, 5) << rewritten.output;
  EXPECT_NE(rewritten.output.find("rewritten"), std::string::npos)
      << rewritten.output;

  // Deleting a row is named too.
  {
    auto db = std::move(*SqliteDb::Open(DbPath(cluster)));
    ASSERT_TRUE(db->Run("DELETE FROM audit_log WHERE seq = 5").has_value());
  }
  auto deleted = cluster.Ctl({"audit", "verify"}, "auditor");
  EXPECT_EQ(deleted.exit_code, 5);
  EXPECT_NE(deleted.output.find("\"deleted\""), std::string::npos)
      << deleted.output;
}

TEST(AuditIntegrationTest, BreakGlassIsMarkedAndExpires) {
  Cluster cluster;
  cluster.StartCoordinator(kAuditConfig);
  ASSERT_EQ(cluster.Pki({"issue", "operator", "medic", "--role", "break_glass"})
                .exit_code,
            0);
  auto five_hours_ago = std::chrono::system_clock::to_time_t(
      std::chrono::system_clock::now() - 5h);
  std::tm tm{};
  gmtime_r(&five_hours_ago, &tm);
  char start[32];
  std::strftime(start, sizeof start, "%Y%m%d%H%M%SZ", &tm);
  ASSERT_EQ(cluster
                .Pki({"issue", "operator", "stale_medic", "--role",
                      "break_glass", "--not-before", start})
                .exit_code,
            0);

  EXPECT_EQ(cluster.Ctl({"status"}, "medic").exit_code, 0);
  auto expired = cluster.Ctl({"status"}, "stale_medic");
  EXPECT_EQ(expired.exit_code, 6);
  EXPECT_NE(expired.error.find("expired"), std::string::npos) << expired.error;

  auto doc = cluster.Ctl({"audit", "export"}, "auditor").Json();
  auto access = Events(doc, "break_glass_access");
  ASSERT_EQ(access.size(), 1u);
  EXPECT_EQ(access[0]["actor"], "medic");
  EXPECT_EQ(access[0]["break_glass"], true);
  auto denied = Events(doc, "access_denied");
  ASSERT_EQ(denied.size(), 1u);
  EXPECT_EQ(denied[0]["actor"], "stale_medic");
  EXPECT_EQ(denied[0]["reason"], "break-glass certificate expired");
}

// Rows with recognisable values (and a patient name and record number in
// columns the model does not use, and in a row the loader rejects) go
// through a whole federated round; none of them may appear in any log, the
// audit export, any clsctl output, or the coordinator's database files.
TEST(AuditIntegrationTest, NoPatientDataLeavesTheSites) {
  const std::vector<std::string> kMarkers = {"Zebulon", "Quixote", "MRN-7734",
                                             "31337.27"};
  Cluster cluster;
  const std::vector<std::string> sites = {"HOSP_001", "HOSP_002", "HOSP_003"};
  for (size_t s = 0; s < sites.size(); ++s) {
    std::mt19937 rng(static_cast<unsigned>(s) + 7);
    std::normal_distribution<double> normal(0.0, 1.0);
    std::ostringstream csv;
    csv << "patient_name,mrn,f1,f2,f3,f4,group,y\n";
    csv << "Zebulon Quixote,MRN-7734-0001,31337.27,1,1,1,2,1\n";
    csv << "Zebulon Quixote,MRN-7734-0002,Zebulon,1,1,1,2,1\n";  // rejected
    for (int i = 0; i < 80; ++i) {
      double f1 = normal(rng), f2 = normal(rng);
      csv << "Zebulon Quixote " << i << ",MRN-7734-" << 1000 + i << "," << f1
          << "," << f2 << "," << normal(rng) << "," << normal(rng) << ","
          << 1 + i % 3 << "," << (f1 - f2 > 0 ? 1 : 0) << "\n";
    }
    std::ofstream(cluster.Path(sites[s] + ".csv")) << csv.str();
  }
  cluster.StartCoordinator("min_sites = 3\n" + std::string(kAuditConfig));
  SiteOptions trace;
  trace.extra_args = {"--log-level", "trace"};
  for (const auto& id : sites) cluster.StartSite(id, trace);
  cluster.ApproveAll(sites);
  json rounds = cluster.RunRounds(1, 120s);
  ASSERT_EQ(rounds.size(), 1u);
  EXPECT_EQ(rounds[0]["status"], "completed") << rounds.dump();

  std::vector<std::pair<std::string, std::string>> captures;
  captures.emplace_back("coordinator.log", cluster.coordinator()->Log());
  for (const auto& id : sites) {
    captures.emplace_back(id + ".log", cluster.site(id)->Log());
  }
  for (auto args : std::vector<std::vector<std::string>>{{"status"},
                                                         {"sites", "list"},
                                                         {"round", "history"},
                                                         {"audit", "export"}}) {
    auto r = cluster.Ctl(args, "admin");
    captures.emplace_back("clsctl " + args[0], r.output + r.error);
  }
  for (const auto& entry :
       fs::directory_iterator(cluster.Path("coordinator-state"),
                              fs::directory_options::skip_permission_denied)) {
    if (entry.is_regular_file()) {
      captures.emplace_back(entry.path().string(),
                            ReadAll(entry.path().string()));
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(
           cluster.Path("coordinator-state/audit-checkpoints"))) {
    captures.emplace_back(entry.path().string(),
                          ReadAll(entry.path().string()));
  }
  // The loader did see the rows (so the test is not vacuous)...
  EXPECT_NE(captures[1].second.find("rejected"), std::string::npos)
      << captures[1].second;
  // ...and nothing recognisable got out.
  for (const auto& [where, text] : captures) {
    for (const auto& marker : kMarkers) {
      EXPECT_EQ(text.find(marker), std::string::npos)
          << "'" << marker << "' found in " << where;
    }
  }
}

}  // namespace
}  // namespace cls::testing
