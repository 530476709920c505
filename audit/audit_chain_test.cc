#include "audit/audit_chain.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/audit_test_util.h"

namespace cls::audit {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// Builds a valid chain of `n` entries.
std::vector<AuditEntry> MakeChain(int n) {
  std::vector<AuditEntry> chain;
  std::string prev = kGenesisHash;
  for (int i = 1; i <= n; ++i) {
    AuditEntry e;
    e.seq = i;
    e.timestamp = "2026-11-27T05:16:" + std::string(i < 10 ? "0" : "") +
                  std::to_string(i) + "Z";
    e.actor = i % 2 ? "alice" : "coordinator";
    e.actor_role = i % 2 ? "admin" : "system";
    e.event_type = i % 3 ? "federated_round_completed" : "site_approved";
    e.fields = {{"round", i}, {"accuracy", 0.5 + i / 100.0}};
    e.prev_hash = prev;
    e.hash = ComputeEntryHash(e);
    prev = e.hash;
    chain.push_back(e);
  }
  return chain;
}

void Rehash(std::vector<AuditEntry>& chain, size_t from) {
  for (size_t i = from; i < chain.size(); ++i) {
    chain[i].prev_hash = i == 0 ? kGenesisHash : chain[i - 1].hash;
    chain[i].hash = ComputeEntryHash(chain[i]);
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class AuditChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-audit-chain-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    id_ = cls::testing::MakeCoordinatorIdentity(dir_.string(), "coord");
    signer_ = std::move(*CheckpointSigner::LoadKeyFile(id_.key_file));
    verifier_ = std::move(
        *CheckpointVerifier::FromCertificatePem(ReadFile(id_.cert_file), ""));
  }
  void TearDown() override { fs::remove_all(dir_); }

  AuditCheckpoint Sign(const AuditEntry& e) {
    AuditCheckpoint c{"coord", e.seq, e.hash, "2026-11-27T06:00:00Z",
                      "test",  ""};
    EXPECT_TRUE(signer_->Sign(c).has_value());
    return c;
  }

  ChainReport Verify(const std::vector<AuditEntry>& chain,
                     const std::vector<AuditCheckpoint>& checkpoints = {},
                     bool complete = true) {
    return VerifyChain(chain, checkpoints,
                       {.complete = complete, .verifier = verifier_.get()});
  }

  fs::path dir_;
  cls::testing::TestCoordinatorIdentity id_;
  std::unique_ptr<CheckpointSigner> signer_;
  std::unique_ptr<CheckpointVerifier> verifier_;
};

void ExpectOnly(const ChainReport& r, ChainProblemKind kind, int64_t seq) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems.front().kind, kind) << r.problems.front().message;
  EXPECT_EQ(r.problems.front().seq, seq) << r.problems.front().message;
  for (const auto& p : r.problems) EXPECT_EQ(p.kind, kind) << p.message;
}

// Reference value: python3 json.dumps(entry, sort_keys=True,
// separators=(",", ":"), ensure_ascii=True), then hashlib.sha256 over
// "0" * 64 + that text.
TEST(CanonicalEncodingTest, MatchesAnIndependentPythonEncodingAndHash) {
  AuditEntry e;
  e.seq = 1;
  e.timestamp = "2026-11-27T05:16:42Z";
  e.actor = "alice";
  e.actor_role = "admin";
  e.event_type = "model_deployment";
  e.fields = {{"version_id", "v1_20251031_120000"},
              {"accuracy", 0.85},
              {"strategy", "gradual_rollout"},
              {"note", "caf\xc3\xa9"}};
  e.prev_hash = kGenesisHash;
  EXPECT_EQ(CanonicalEncoding(e),
            R"({"actor":"alice","actor_role":"admin","event_type":)"
            R"("model_deployment","fields":{"accuracy":0.85,"note":)"
            R"("caf\u00e9","strategy":"gradual_rollout","version_id":)"
            R"("v1_20251031_120000"},"seq":1,"timestamp":)"
            R"("2026-11-27T05:16:42Z"})");
  EXPECT_EQ(ComputeEntryHash(e),
            "3dce924d30e3f7b34fd84db97ed2dd6083c7a2c3f026b254a4c2464fe31a49ea");
}

TEST(CanonicalEncodingTest, NormalizedFieldsSurviveAJsonRoundTrip) {
  json fields = {{"x", 0.1 + 0.2}, {"nan", std::nan("")}, {"n", -3}};
  auto normalized = NormalizeFields(fields);
  ASSERT_TRUE(normalized.has_value());
  EXPECT_TRUE((*normalized)["nan"].is_null());
  json again = json::parse(normalized->dump());
  EXPECT_EQ(again.dump(), normalized->dump());
  EXPECT_FALSE(NormalizeFields(json::array()).has_value());
}

TEST_F(AuditChainTest, AnIntactChainVerifies) {
  auto chain = MakeChain(10);
  auto r = Verify(chain, {Sign(chain[4]), Sign(chain[9])});
  EXPECT_TRUE(r.ok()) << r.problems.front().message;
  EXPECT_EQ(r.entries, 10);
  EXPECT_EQ(r.checkpoints_checked, 2);
  EXPECT_EQ(r.last_signed_seq, 10);
}

TEST_F(AuditChainTest, EditedEntryIsNamed) {
  auto chain = MakeChain(10);
  chain[4].fields["accuracy"] = 0.99;
  ExpectOnly(Verify(chain), ChainProblemKind::kEdited, 5);
}

TEST_F(AuditChainTest, EditedEntryWithRecomputedHashIsNamed) {
  auto chain = MakeChain(10);
  chain[4].actor = "mallory";
  chain[4].hash = ComputeEntryHash(chain[4]);
  ExpectOnly(Verify(chain), ChainProblemKind::kEdited, 5);
}

TEST_F(AuditChainTest, DeletedEntryIsNamed) {
  auto chain = MakeChain(10);
  chain.erase(chain.begin() + 4);
  ExpectOnly(Verify(chain), ChainProblemKind::kDeleted, 5);
}

TEST_F(AuditChainTest, DeletedEntryWithRelinkedSuccessorsIsNamed) {
  auto chain = MakeChain(10);
  chain.erase(chain.begin() + 4);
  Rehash(chain, 4);
  ExpectOnly(Verify(chain), ChainProblemKind::kDeleted, 5);
}

TEST_F(AuditChainTest, InsertedEntryIsNamed) {
  auto chain = MakeChain(10);
  AuditEntry forged = chain[4];
  forged.event_type = "site_approved";
  forged.fields = {{"site_id", "EVIL"}};
  forged.seq = 6;  // squeezed in as a second 6
  forged.prev_hash = chain[4].hash;
  forged.hash = ComputeEntryHash(forged);
  chain.insert(chain.begin() + 5, forged);
  auto r = Verify(chain);
  ASSERT_FALSE(r.ok());
  for (const auto& p : r.problems) {
    EXPECT_EQ(p.kind, ChainProblemKind::kInserted) << p.message;
    EXPECT_EQ(p.seq, 6);
  }
}

TEST_F(AuditChainTest, InsertedEntryWithRenumberedSuccessorsIsDetected) {
  auto chain = MakeChain(10);
  AuditEntry forged = chain[4];
  forged.fields = {{"site_id", "EVIL"}};
  chain.insert(chain.begin() + 5, forged);
  for (size_t i = 5; i < chain.size(); ++i) chain[i].seq = int64_t(i) + 1;
  chain[5].prev_hash = chain[4].hash;
  chain[5].hash = ComputeEntryHash(chain[5]);
  auto r = Verify(chain);
  EXPECT_FALSE(r.ok());
  // Renumbered entries hash under their old seq: named as moved.
  EXPECT_EQ(r.problems.back().kind, ChainProblemKind::kReordered);
}

TEST_F(AuditChainTest, ReorderedEntriesAreNamed) {
  auto chain = MakeChain(10);
  std::swap(chain[3], chain[4]);
  ExpectOnly(Verify(chain), ChainProblemKind::kReordered, 4);
}

TEST_F(AuditChainTest, SwappedRowContentsAreNamedAsReordered) {
  auto chain = MakeChain(10);
  std::swap(chain[3], chain[4]);
  chain[3].seq = 4;  // the database keeps seq as the primary key
  chain[4].seq = 5;
  auto r = Verify(chain);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.problems[0].kind, ChainProblemKind::kReordered);
  EXPECT_EQ(r.problems[0].seq, 4);
  EXPECT_EQ(r.problems[1].kind, ChainProblemKind::kReordered);
  EXPECT_EQ(r.problems[1].seq, 5);
}

TEST_F(AuditChainTest,
       RewriteWithRecomputedHashesPassesAloneButNotAgainstACheckpoint) {
  auto chain = MakeChain(10);
  auto checkpoint = Sign(chain[7]);
  chain[2].fields["accuracy"] = 0.01;
  Rehash(chain, 2);
  auto alone = Verify(chain);
  EXPECT_TRUE(alone.ok());  // the chain alone cannot tell
  auto r = Verify(chain, {checkpoint});
  ExpectOnly(r, ChainProblemKind::kRewritten, 8);
}

TEST_F(AuditChainTest, ForgedCheckpointSignatureIsRejected) {
  auto chain = MakeChain(5);
  auto checkpoint = Sign(chain[4]);
  checkpoint.seq = 4;
  checkpoint.hash = chain[3].hash;  // moved without re-signing
  ExpectOnly(Verify(chain, {checkpoint}), ChainProblemKind::kBadSignature, 4);
  // A checkpoint signed by another key is just as bad.
  auto other = cls::testing::MakeCoordinatorIdentity(dir_.string(), "other");
  auto other_signer = std::move(*CheckpointSigner::LoadKeyFile(other.key_file));
  AuditCheckpoint c{"coord", 5, chain[4].hash, "t", "test", ""};
  ASSERT_TRUE(other_signer->Sign(c).has_value());
  ExpectOnly(Verify(chain, {c}), ChainProblemKind::kBadSignature, 5);
}

TEST_F(AuditChainTest, TruncatedTailIsDetectedByALaterCheckpoint) {
  auto chain = MakeChain(10);
  auto checkpoint = Sign(chain[9]);
  chain.resize(7);
  ExpectOnly(Verify(chain, {checkpoint}), ChainProblemKind::kDeleted, 8);
  // A --since/--until slice may end early.
  EXPECT_TRUE(Verify(chain, {checkpoint}, /*complete=*/false).ok());
}

TEST_F(AuditChainTest, CutHeadNeedsASignedCheckpointAtTheCut) {
  auto chain = MakeChain(10);
  auto cut = Sign(chain[3]);
  chain.erase(chain.begin(), chain.begin() + 4);
  ExpectOnly(Verify(chain), ChainProblemKind::kDeleted, 1);
  auto r = Verify(chain, {cut});
  EXPECT_TRUE(r.ok()) << r.problems.front().message;
  EXPECT_EQ(r.first_seq, 5);
  EXPECT_TRUE(Verify(chain, {}, /*complete=*/false).ok());
}

TEST_F(AuditChainTest, ExportShapeCarriesTheGuideFieldsAndDetectsEditsToThem) {
  auto chain = MakeChain(3);
  json entry = EntryToJson(chain[0]);
  EXPECT_EQ(entry["event_type"], "federated_round_completed");
  EXPECT_EQ(entry["accuracy"], chain[0].fields["accuracy"]);
  EXPECT_EQ(entry["timestamp"], "2026-11-27T05:16:01Z");
  auto back = EntryFromJson(entry);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->hash, chain[0].hash);
  EXPECT_EQ(ComputeEntryHash(*back), chain[0].hash);

  json doc = {{"format", kExportFormat},
              {"complete", true},
              {"entries", json::array()},
              {"checkpoints", json::array()}};
  for (const auto& e : chain) doc["entries"].push_back(EntryToJson(e));
  auto ok = VerifyExport(doc, {}, verifier_.get());
  ASSERT_TRUE(ok.has_value());
  EXPECT_TRUE(ok->ok());
  doc["entries"][1]["accuracy"] = 0.99;  // only the readable copy
  auto r = VerifyExport(doc, {}, verifier_.get());
  ASSERT_TRUE(r.has_value());
  ExpectOnly(*r, ChainProblemKind::kEdited, 2);
  EXPECT_FALSE(VerifyExport(json::array(), {}, nullptr).has_value());
}

TEST_F(AuditChainTest, VerifierChecksTheCertificateChainsToTheCa) {
  // The self-signed test certificate is its own CA.
  auto ok = CheckpointVerifier::FromCertificatePem(ReadFile(id_.cert_file),
                                                   id_.cert_file);
  ASSERT_TRUE(ok.has_value()) << ok.error().message;
  EXPECT_EQ((*ok)->subject(), "coord");
  auto other = cls::testing::MakeCoordinatorIdentity(dir_.string(), "x");
  auto wrong_ca = CheckpointVerifier::FromCertificatePem(
      ReadFile(other.cert_file), id_.cert_file);
  ASSERT_FALSE(wrong_ca.has_value());
  EXPECT_EQ(wrong_ca.error().code, ErrorCode::kPermissionDenied);
  auto op =
      cls::testing::MakeCoordinatorIdentity(dir_.string(), "op", "operator");
  auto not_coordinator = CheckpointVerifier::FromCertificatePem(
      ReadFile(op.cert_file), op.cert_file);
  ASSERT_FALSE(not_coordinator.has_value());
  EXPECT_NE(not_coordinator.error().message.find("not a coordinator"),
            std::string::npos);
  EXPECT_FALSE(CheckpointVerifier::FromCertificatePem("junk", "").has_value());
}

TEST(NormalizeTimestampTest, AcceptsDatesAndUtcTimes) {
  EXPECT_EQ(*NormalizeTimestamp("2026-11-27"), "2026-11-27T00:00:00Z");
  EXPECT_EQ(*NormalizeTimestamp("2026-11-27T05:16:42"), "2026-11-27T05:16:42Z");
  EXPECT_EQ(*NormalizeTimestamp("2026-11-27T05:16:42Z"),
            "2026-11-27T05:16:42Z");
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-11-27 05:16",
                          "2026-11-27T25:00:00Z"}) {
    auto r = NormalizeTimestamp(bad);
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

}  // namespace
}  // namespace cls::audit
