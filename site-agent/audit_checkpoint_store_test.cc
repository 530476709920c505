// The site's copy of the coordinator's signed audit checkpoint: real
// certificates from certs/cls-pki, real ECDSA signatures
// (audit/audit_chain.h).
#include "site-agent/audit_checkpoint_store.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "audit/audit_chain.h"
#include "audit/audit_test_util.h"
#include "site-agent/test_util.h"

#ifndef CLS_PKI_SCRIPT
#define CLS_PKI_SCRIPT "certs/cls-pki"
#endif

namespace cls::site {
namespace {

namespace fs = std::filesystem;
using testing::ReadFile;
using testing::TempDir;

int RunPki(const fs::path& dir, const std::string& args) {
  const std::string cmd = "timeout 60 '" + std::string(CLS_PKI_SCRIPT) +
                          "' --dir '" + dir.string() + "' " + args +
                          " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// XORs one byte of a hex string (so it always changes).
std::string XorHexByte(std::string hex, size_t byte, uint8_t mask) {
  const int value = std::stoi(hex.substr(2 * byte, 2), nullptr, 16) ^ mask;
  char digits[3];
  std::snprintf(digits, sizeof(digits), "%02x", value);
  hex.replace(2 * byte, 2, digits);
  return hex;
}

// A project CA with the coordinator's certificate and another hospital's
// site certificate; a self-signed certificate that claims the coordinator
// role; a verifier built as the agent builds it (the coordinator's TLS
// certificate, chained to the site's ca.pem).
class AuditCheckpointStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pki_ = dir_.path() / "pki";
    ASSERT_EQ(RunPki(pki_, "init --name 'Checkpoint Test CA'"), 0);
    ASSERT_EQ(RunPki(pki_, "issue coordinator 127.0.0.1"), 0);
    ASSERT_EQ(RunPki(pki_, "issue site HOSP_B"), 0);
    coordinator_ = Signer(pki_ / "issued" / "127.0.0.1.key");
    other_site_ = Signer(pki_ / "issued" / "HOSP_B.key");
    const auto rogue = cls::testing::MakeCoordinatorIdentity(
        dir_.path().string(), "127.0.0.1");
    self_signed_ = Signer(rogue.key_file);
    data_dir_ = dir_.path() / "state";
    fs::create_directories(data_dir_);
    auto verifier = audit::CheckpointVerifier::FromCertificatePem(
        ReadFile(pki_ / "issued" / "127.0.0.1.pem"),
        (pki_ / "ca.pem").string());
    ASSERT_TRUE(verifier.has_value()) << verifier.error().message;
    verifier_ = std::move(*verifier);
  }

  static std::unique_ptr<audit::CheckpointSigner> Signer(const fs::path& key) {
    auto signer = audit::CheckpointSigner::LoadKeyFile(key.string());
    EXPECT_TRUE(signer.has_value()) << signer.error().message;
    return signer ? std::move(*signer) : nullptr;
  }

  static std::string Checkpoint(const audit::CheckpointSigner& signer,
                                int64_t seq, char hash_char) {
    audit::AuditCheckpoint c{"lab-coordinator",          seq,
                             std::string(64, hash_char), "2026-11-27T06:00:00Z",
                             "every 100 entries",        ""};
    EXPECT_TRUE(signer.Sign(c).has_value());
    return audit::CheckpointToJson(c).dump();
  }
  std::string Genuine(int64_t seq, char hash_char) const {
    return Checkpoint(*coordinator_, seq, hash_char);
  }

  Result<CheckpointVerdict> Keep(const std::string& json) {
    return KeepLatestCheckpoint(data_dir_, json, *verifier_);
  }
  std::string Kept() const {
    return ReadFile(data_dir_ / kAuditCheckpointFile);
  }

  TempDir dir_;
  fs::path pki_;
  fs::path data_dir_;
  std::unique_ptr<audit::CheckpointSigner> coordinator_;
  std::unique_ptr<audit::CheckpointSigner> other_site_;
  std::unique_ptr<audit::CheckpointSigner> self_signed_;
  std::unique_ptr<audit::CheckpointVerifier> verifier_;
};

TEST_F(AuditCheckpointStoreTest, KeepsTheNewestAndFlagsALogThatWentBack) {
  auto first = Keep(Genuine(100, 'a'));
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(*first, CheckpointVerdict::kStored);
  EXPECT_EQ(*Keep(Genuine(100, 'a')), CheckpointVerdict::kSame);
  const std::string newest = Genuine(200, 'b');
  EXPECT_EQ(*Keep(newest), CheckpointVerdict::kStored);
  // A rewritten log: an older head, or the same seq with another hash.
  EXPECT_EQ(*Keep(Genuine(150, 'c')), CheckpointVerdict::kWentBack);
  EXPECT_EQ(*Keep(Genuine(200, 'd')), CheckpointVerdict::kWentBack);
  EXPECT_EQ(Kept(), newest);
}

TEST_F(AuditCheckpointStoreTest, RefusesWhatIsNotACheckpoint) {
  EXPECT_FALSE(Keep("not json"));
  EXPECT_FALSE(Keep("{\"seq\":1,\"hash\":\"ab\"}"));
  EXPECT_FALSE(fs::exists(data_dir_ / kAuditCheckpointFile));
}

TEST_F(AuditCheckpointStoreTest,
       RefusesACheckpointSignedByAnotherSiteOrASelfSignedKey) {
  const std::string genuine = Genuine(100, 'a');
  ASSERT_EQ(*Keep(genuine), CheckpointVerdict::kStored);
  for (const auto* signer : {other_site_.get(), self_signed_.get()}) {
    auto r = Keep(Checkpoint(*signer, 200, 'e'));
    ASSERT_FALSE(r.has_value()) << "a checkpoint not signed by the "
                                   "coordinator was kept";
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
    EXPECT_EQ(r.error().message,
              "audit checkpoint seq 200: the signature does not verify "
              "against the coordinator certificate '127.0.0.1'");
  }
  EXPECT_EQ(Kept(), genuine);
}

TEST_F(AuditCheckpointStoreTest, RefusesATamperedSignature) {
  const std::string genuine = Genuine(100, 'a');
  ASSERT_EQ(*Keep(genuine), CheckpointVerdict::kStored);
  auto tampered = nlohmann::json::parse(Genuine(200, 'b'));
  tampered["signature"] =
      XorHexByte(tampered["signature"].get<std::string>(), 10, 0x01);
  auto r = Keep(tampered.dump());
  ASSERT_FALSE(r.has_value()) << "a tampered signature was kept";
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  EXPECT_EQ(r.error().message,
            "audit checkpoint seq 200: the signature does not verify "
            "against the coordinator certificate '127.0.0.1'");
  // A genuine signature moved onto a higher seq is just as bad.
  auto moved = nlohmann::json::parse(Genuine(200, 'b'));
  moved["seq"] = 300;
  EXPECT_FALSE(Keep(moved.dump()).has_value());
  EXPECT_EQ(Kept(), genuine);
}

TEST_F(AuditCheckpointStoreTest,
       AForgedFarFutureSeqDoesNotBlockTheNextGenuineCheckpoint) {
  ASSERT_EQ(*Keep(Genuine(100, 'a')), CheckpointVerdict::kStored);
  const int64_t far_future = int64_t{1} << 62;
  EXPECT_FALSE(Keep(Checkpoint(*other_site_, far_future, 'f')).has_value());
  const std::string next = Genuine(101, 'b');
  auto r = Keep(next);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, CheckpointVerdict::kStored);
  EXPECT_EQ(Kept(), next);
}

// An agent from before the signature check may have kept a forged
// far-future checkpoint: it no longer blocks anything, and it is set aside
// for the security officer rather than deleted.
TEST_F(AuditCheckpointStoreTest,
       AForgedCheckpointKeptByAnOlderAgentIsSetAside) {
  const std::string forged = Checkpoint(*other_site_, int64_t{1} << 62, 'f');
  std::ofstream(data_dir_ / kAuditCheckpointFile, std::ios::binary) << forged;
  const std::string genuine = Genuine(101, 'b');
  auto r = Keep(genuine);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(*r, CheckpointVerdict::kReplacedUnverified);
  EXPECT_EQ(Kept(), genuine);
  EXPECT_EQ(ReadFile(data_dir_ / kUnverifiedCheckpointFile), forged);
  EXPECT_EQ(*Keep(Genuine(102, 'c')), CheckpointVerdict::kStored);
  EXPECT_EQ(*Keep(Genuine(101, 'b')), CheckpointVerdict::kWentBack);
}

}  // namespace
}  // namespace cls::site
