#include "console/audit_commands.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/audit_chain.h"
#include "audit/audit_test_util.h"

namespace cls::console {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

class ScriptedApi final : public AdminApi {
 public:
  void Answer(int status, json body) {
    answers_.push_back(AdminResponse{status, std::move(body)});
  }
  Result<AdminResponse> Send(const AdminRequest& request) override {
    requests.push_back(request);
    if (answers_.empty()) return Internal("fake: no answer scripted");
    auto a = answers_.front();
    answers_.pop_front();
    return a;
  }
  std::vector<AdminRequest> requests;

 private:
  std::deque<AdminResponse> answers_;
};

AuditExportOptions Export(std::string since, std::string until,
                          std::string output) {
  AuditExportOptions o;
  o.since = std::move(since);
  o.until = std::move(until);
  o.output = std::move(output);
  return o;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AuditCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-audit-cmd-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    id_ = cls::testing::MakeCoordinatorIdentity(dir_.string(), "coord");
    auto signer =
        std::move(*audit::CheckpointSigner::LoadKeyFile(id_.key_file));
    doc_ = {{"format", audit::kExportFormat},
            {"complete", true},
            {"coordinator_certificate", ReadFile(id_.cert_file)},
            {"entries", json::array()},
            {"checkpoints", json::array()}};
    std::string prev = audit::kGenesisHash;
    for (int i = 1; i <= 6; ++i) {
      audit::AuditEntry e{i,
                          "2026-11-27T05:00:0" + std::to_string(i) + "Z",
                          "alice",
                          "admin",
                          "model_deployment",
                          {{"version_id", "v" + std::to_string(i)},
                           {"accuracy", 0.8},
                           {"strategy", "immediate"}},
                          prev,
                          ""};
      e.hash = audit::ComputeEntryHash(e);
      prev = e.hash;
      doc_["entries"].push_back(audit::EntryToJson(e));
      if (i == 4) {
        checkpoint_ = {"coord", 4, e.hash, "2026-11-27T05:00:05Z", "test", ""};
        ASSERT_TRUE(signer->Sign(checkpoint_).has_value());
        doc_["checkpoints"].push_back(audit::CheckpointToJson(checkpoint_));
      }
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  CommandContext Context(bool json = false) {
    return CommandContext{
        .api = api_, .out = out_, .diagnostics = err_, .json = json};
  }

  std::string Write(const json& j, const std::string& name) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << j.dump(2);
    return path;
  }

  AuditVerifyOptions Offline(const std::string& file) {
    AuditVerifyOptions o;
    o.file = file;
    o.ca_file = id_.cert_file;
    return o;
  }

  fs::path dir_;
  cls::testing::TestCoordinatorIdentity id_;
  json doc_;
  audit::AuditCheckpoint checkpoint_;
  ScriptedApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(AuditCommandsTest, ExportSendsNormalizedTimesAndWritesTheFile) {
  api_.Answer(200, doc_);
  auto ctx = Context();
  std::string file = (dir_ / "export.json").string();
  auto r = RunAuditExport(
      ctx,
      {.since = "2026-11-01", .until = "2026-11-27T06:00:00Z", .output = file});
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].target,
            "/v1/audit?since=2026-11-01T00%3A00%3A00Z&until=2026-11-27T06%3A00%"
            "3A00Z");
  EXPECT_EQ(json::parse(ReadFile(file)), doc_);
  EXPECT_NE(err_.str().find("exported 6 audit entries"), std::string::npos);
}

TEST_F(AuditCommandsTest, ExportRefusesBadTimesBeforeAsking) {
  auto ctx = Context();
  auto r = RunAuditExport(ctx, Export("last week", "", ""));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kUsage);
  EXPECT_TRUE(api_.requests.empty());
  auto reversed = RunAuditExport(ctx, Export("2026-12-01", "2026-11-01", ""));
  EXPECT_EQ(reversed.error().exit_code, ExitCode::kUsage);
}

TEST_F(AuditCommandsTest, ExportDeniedShowsTheCoordinatorsMessage) {
  api_.Answer(403, {{"error",
                     {{"code", "permission_denied"},
                      {"message",
                       "role 'viewer' lacks permission "
                       "audit.export"}}}});
  auto ctx = Context();
  auto r = RunAuditExport(ctx, AuditExportOptions{});
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kForbidden);
  EXPECT_EQ(r.error().message, "role 'viewer' lacks permission audit.export");
}

TEST_F(AuditCommandsTest, IntactExportVerifiesOffline) {
  auto ctx = Context();
  auto r = RunAuditVerify(ctx, Offline(Write(doc_, "ok.json")));
  ASSERT_TRUE(r.has_value()) << r.error().message << out_.str();
  EXPECT_NE(out_.str().find("audit log OK: 6 entries (seq 1..6), 1 signed "
                            "checkpoints matched, signed through seq 4"),
            std::string::npos)
      << out_.str();
  EXPECT_NE(out_.str().find("entries 5..6 are not yet covered"),
            std::string::npos);
  EXPECT_TRUE(api_.requests.empty());
}

TEST_F(AuditCommandsTest, EditedExportFailsWithExitCode5AndNamesTheEntry) {
  doc_["entries"][2]["fields"]["accuracy"] = 0.99;
  doc_["entries"][2]["accuracy"] = 0.99;
  auto ctx = Context();
  auto r = RunAuditVerify(ctx, Offline(Write(doc_, "edited.json")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kVerifyFailed);
  EXPECT_NE(out_.str().find("audit log FAILED"), std::string::npos);
  EXPECT_NE(out_.str().find("  3  edited"), std::string::npos) << out_.str();
}

TEST_F(AuditCommandsTest, DeletedAndReorderedEntriesAreNamedInJson) {
  json deleted = doc_;
  deleted["entries"].erase(deleted["entries"].begin() + 1);
  auto ctx = Context(/*json=*/true);
  auto r = RunAuditVerify(ctx, Offline(Write(deleted, "deleted.json")));
  ASSERT_FALSE(r.has_value());
  json report = json::parse(out_.str());
  EXPECT_EQ(report["ok"], false);
  EXPECT_EQ(report["problems"][0]["kind"], "deleted");
  EXPECT_EQ(report["problems"][0]["seq"], 2);
  // The error is in the one document; main() prints no second one.
  EXPECT_EQ(r.error().exit_code, ExitCode::kVerifyFailed);
  EXPECT_TRUE(r.error().json_printed);
  EXPECT_EQ(report["error"]["code"], "data_loss");
  EXPECT_EQ(report["error"]["http_status"], 0);

  json reordered = doc_;
  std::swap(reordered["entries"][3], reordered["entries"][4]);
  std::ostringstream out2;
  CommandContext ctx2{
      .api = api_, .out = out2, .diagnostics = err_, .json = true};
  ASSERT_FALSE(RunAuditVerify(ctx2, Offline(Write(reordered, "reordered.json")))
                   .has_value());
  EXPECT_EQ(json::parse(out2.str())["problems"][0]["kind"], "reordered");
}

TEST_F(AuditCommandsTest, RewriteIsCaughtByASitesCheckpointCopy) {
  // Rewritten from entry 2 on with recomputed hashes, checkpoints dropped
  // from the export; a site kept the signed checkpoint.
  json forged = doc_;
  forged["checkpoints"] = json::array();
  std::string prev = forged["entries"][0]["hash"];
  for (size_t i = 1; i < forged["entries"].size(); ++i) {
    auto e = *audit::EntryFromJson(forged["entries"][i]);
    if (i == 1) e.fields["version_id"] = "v_forged";
    e.prev_hash = prev;
    e.hash = audit::ComputeEntryHash(e);
    prev = e.hash;
    forged["entries"][i] = audit::EntryToJson(e);
  }
  auto ctx = Context();
  ASSERT_TRUE(
      RunAuditVerify(ctx, Offline(Write(forged, "forged.json"))).has_value());
  std::string site_copy =
      Write(audit::CheckpointToJson(checkpoint_), "cp.json");
  AuditVerifyOptions options = Offline(Write(forged, "forged.json"));
  options.checkpoint_files = {site_copy};
  auto r = RunAuditVerify(ctx, options);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kVerifyFailed);
  EXPECT_NE(out_.str().find("rewritten"), std::string::npos);
}

TEST_F(AuditCommandsTest, ACertificateFromAnotherCaIsRefused) {
  auto other = cls::testing::MakeCoordinatorIdentity(dir_.string(), "evil");
  doc_["coordinator_certificate"] = ReadFile(other.cert_file);
  auto ctx = Context();
  auto r = RunAuditVerify(ctx, Offline(Write(doc_, "evil.json")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kVerifyFailed);
  EXPECT_NE(r.error().message.find("does not chain"), std::string::npos);
  AuditVerifyOptions no_ca;
  no_ca.file = Write(doc_, "x.json");
  EXPECT_EQ(RunAuditVerify(ctx, no_ca).error().exit_code, ExitCode::kUsage);
}

TEST_F(AuditCommandsTest, LiveVerifyFetchesTheWholeLog) {
  api_.Answer(200, doc_);
  auto ctx = Context();
  AuditVerifyOptions live;
  live.ca_file = id_.cert_file;
  auto r = RunAuditVerify(ctx, live);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].target, "/v1/audit");
}

TEST_F(AuditCommandsTest, NotAnExportIsAUsageError) {
  auto ctx = Context();
  auto r = RunAuditVerify(ctx, Offline(Write(json{{"a", 1}}, "junk.json")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kUsage);
  EXPECT_NE(r.error().message.find("not an audit export"), std::string::npos);
  EXPECT_EQ(RunAuditVerify(ctx, Offline((dir_ / "missing").string()))
                .error()
                .exit_code,
            ExitCode::kUsage);
}

TEST_F(AuditCommandsTest, CommandsOfLaterIssuesSayTheCoordinatorLacksThem) {
  api_.Answer(404, {{"error",
                     {{"code", "unimplemented"},
                      {"message",
                       "the coordinator does not support GET "
                       "/v1/drift yet"}}}});
  api_.Answer(
      404,
      {{"error",
        {{"code", "not_found"}, {"message", "no route GET /v1/versions"}}}});
  api_.Answer(404,
              {{"error", {{"code", "not_found"}, {"message", "no site 'X'"}}}});
  auto ctx = Context();
  auto drift = RunGeneric(ctx, {HttpMethod::kGet, "/v1/drift", {}});
  EXPECT_EQ(drift.error().exit_code, ExitCode::kRefused);
  EXPECT_EQ(drift.error().message,
            "the coordinator does not support GET /v1/drift yet; this "
            "command needs a newer coordinator");
  auto versions = RunGeneric(ctx, {HttpMethod::kGet, "/v1/versions", {}});
  EXPECT_NE(versions.error().message.find("does not support"),
            std::string::npos);
  auto site = RunSitesShow(ctx, "X");
  EXPECT_EQ(site.error().message, "no site 'X'");
}

}  // namespace
}  // namespace cls::console
