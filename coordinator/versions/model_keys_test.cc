// The coordinator's KEK at start and its rotation, including a crash
// between each of rotation's durable steps.
#include "coordinator/versions/model_keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "common/bytes.h"
#include "coordinator/versions/kek_file.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

ModelRecord Model(int64_t sequence) {
  ModelRecord m;
  m.sequence = sequence;
  m.version_id = "v" + std::to_string(sequence) + "_20261127_120000";
  m.round_id = sequence - 1;
  m.parameters = {0.5f * static_cast<float>(sequence), -1.0f, 2.0f};
  Bytes bytes(m.parameters.size() * 4);
  std::memcpy(bytes.data(), m.parameters.data(), bytes.size());
  m.hash = crypto::Sha256Hex(bytes);
  m.created_at = "2026-11-27T12:00:00Z";
  m.model_type = "diagnosis_predictor";
  return m;
}

class ModelKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::unsetenv(kKekEnvironmentVariable);
    dir_ = fs::temp_directory_path() /
           ("cls-model-keys-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    config_.kek_file = (dir_ / "model.kek").string();
  }
  void TearDown() override {
    ::unsetenv(kKekEnvironmentVariable);
    keys_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // A coordinator start: open the store, then the keys.
  Status Start() {
    keys_.reset();
    store_.reset();
    notes_.clear();
    auto store = CoordinatorStore::Open((dir_ / "coordinator.db").string());
    if (!store) return std::unexpected(store.error());
    store_ = std::move(*store);
    auto keys = ModelKeys::Open(config_, *store_, &notes_);
    if (!keys) return std::unexpected(keys.error());
    keys_ = std::move(*keys);
    return {};
  }

  void InsertModels(int n) {
    for (int i = 1; i <= n; ++i) {
      ASSERT_TRUE(store_->InsertModel(Model(i)).has_value());
    }
  }

  void ExpectEveryModelOpens(int n) {
    for (int i = 1; i <= n; ++i) {
      auto m = store_->FindModel(Model(i).version_id);
      ASSERT_TRUE(m.has_value()) << m.error().message;
      ASSERT_TRUE(m->has_value());
      EXPECT_EQ((*m)->parameters, Model(i).parameters);
    }
  }

  std::string KekIdOnDisk(const std::string& path) {
    auto kek = ReadKekFile(path);
    return kek ? kek->id : "";
  }

  VersionsConfig config_;
  fs::path dir_;
  std::unique_ptr<CoordinatorStore> store_;
  std::unique_ptr<ModelKeys> keys_;
  std::vector<std::string> notes_;
};

TEST_F(ModelKeysTest, FirstStartCreatesA0600KekFile) {
  ASSERT_TRUE(Start().has_value());
  struct stat st {};
  ASSERT_EQ(::stat(config_.kek_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(KekIdOnDisk(config_.kek_file), keys_->kek_id());
  ASSERT_EQ(notes_.size(), 1u);
  EXPECT_NE(notes_[0].find("created key-encryption key"), std::string::npos);
  InsertModels(2);
  ASSERT_TRUE(Start().has_value());
  EXPECT_TRUE(notes_.empty());
  ExpectEveryModelOpens(2);
}

TEST_F(ModelKeysTest, AGroupReadableKekFileStopsTheStartAndChangesNothing) {
  // A plaintext database waiting to be encrypted.
  {
    auto store = CoordinatorStore::Open((dir_ / "coordinator.db").string());
    ASSERT_TRUE(store.has_value());
    ASSERT_TRUE((*store)->InsertModel(Model(1)).has_value());
  }
  ASSERT_TRUE(WriteKekFile(config_.kek_file, GenerateKek()).has_value());
  ASSERT_EQ(::chmod(config_.kek_file.c_str(), 0644), 0);
  auto started = Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kPermissionDenied);
  EXPECT_NE(started.error().message.find("has mode 0644"), std::string::npos);
  EXPECT_EQ(*store_->ModelKekIds(), std::vector<std::string>{""});
}

TEST_F(ModelKeysTest, AMissingKekFileWithEncryptedArtifactsIsNotRecreated) {
  ASSERT_TRUE(Start().has_value());
  InsertModels(1);
  const std::string id = keys_->kek_id();
  fs::remove(config_.kek_file);
  auto started = Start();
  ASSERT_FALSE(started.has_value());
  EXPECT_EQ(started.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(started.error().message.find(id), std::string::npos);
  EXPECT_NE(started.error().message.find("restore it from backup"),
            std::string::npos);
  EXPECT_FALSE(fs::exists(config_.kek_file));
}

TEST_F(ModelKeysTest, APlaintextDatabaseIsEncryptedAtStart) {
  {
    auto store = CoordinatorStore::Open((dir_ / "coordinator.db").string());
    ASSERT_TRUE(store.has_value());
    ASSERT_TRUE((*store)->InsertModel(Model(1)).has_value());
    ASSERT_TRUE((*store)->InsertModel(Model(2)).has_value());
  }
  ASSERT_TRUE(Start().has_value());
  EXPECT_EQ(*store_->ModelKekIds(), std::vector<std::string>{keys_->kek_id()});
  EXPECT_NE(notes_.back().find("encrypted 2 plaintext model artifacts"),
            std::string::npos);
  ExpectEveryModelOpens(2);
}

TEST_F(ModelKeysTest, RotationRewrapsEveryArtifactAndReplacesTheFile) {
  ASSERT_TRUE(Start().has_value());
  InsertModels(3);
  const std::string old_id = keys_->kek_id();
  auto rotated = keys_->Rotate("");
  ASSERT_TRUE(rotated.has_value()) << rotated.error().message;
  EXPECT_EQ(rotated->artifacts, 3);
  EXPECT_EQ(rotated->old_kek_id, old_id);
  EXPECT_NE(rotated->new_kek_id, old_id);
  EXPECT_EQ(keys_->kek_id(), rotated->new_kek_id);
  EXPECT_EQ(KekIdOnDisk(config_.kek_file), rotated->new_kek_id);
  EXPECT_FALSE(fs::exists(PendingKekFile(config_.kek_file)));
  // Serving continues without a restart, and new versions use the new key.
  ExpectEveryModelOpens(3);
  ASSERT_TRUE(store_->InsertModel(Model(4)).has_value());
  EXPECT_EQ(*store_->ModelKekIds(),
            std::vector<std::string>{rotated->new_kek_id});
  ASSERT_TRUE(Start().has_value());
  ExpectEveryModelOpens(4);
}

TEST_F(ModelKeysTest, RotationToAGivenKeyFileRefusesAnUnsafeOrSameKey) {
  ASSERT_TRUE(Start().has_value());
  InsertModels(1);
  const std::string next = (dir_ / "next.kek").string();
  const KeyEncryptionKey kek = GenerateKek();
  ASSERT_TRUE(WriteKekFile(next, kek).has_value());
  ASSERT_EQ(::chmod(next.c_str(), 0644), 0);
  auto refused = keys_->Rotate(next);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kPermissionDenied);
  auto relative = keys_->Rotate("next.kek");
  ASSERT_FALSE(relative.has_value());
  EXPECT_EQ(relative.error().code, ErrorCode::kInvalidArgument);
  auto same = keys_->Rotate(config_.kek_file);
  ASSERT_FALSE(same.has_value());
  EXPECT_EQ(same.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(same.error().message.find("is the current one"), std::string::npos);
  ASSERT_EQ(::chmod(next.c_str(), 0600), 0);
  auto rotated = keys_->Rotate(next);
  ASSERT_TRUE(rotated.has_value()) << rotated.error().message;
  EXPECT_EQ(rotated->new_kek_id, kek.id);
  EXPECT_EQ(KekIdOnDisk(config_.kek_file), kek.id);
  ExpectEveryModelOpens(1);
}

// Crash after step 1 (the new key is on disk, nothing re-wrapped): the
// restart discards the new key.
TEST_F(ModelKeysTest, ACrashBeforeTheRewrapKeepsTheOldKey) {
  ASSERT_TRUE(Start().has_value());
  InsertModels(3);
  const std::string old_id = keys_->kek_id();
  ASSERT_TRUE(WriteKekFile(PendingKekFile(config_.kek_file), GenerateKek())
                  .has_value());
  ASSERT_TRUE(Start().has_value());
  EXPECT_FALSE(fs::exists(PendingKekFile(config_.kek_file)));
  EXPECT_EQ(keys_->kek_id(), old_id);
  EXPECT_NE(notes_.front().find("discarded an interrupted key rotation"),
            std::string::npos);
  ExpectEveryModelOpens(3);
}

// Crash after step 2 (every row names the new key, the file still holds
// the old one): the restart completes the rename.
TEST_F(ModelKeysTest, ACrashAfterTheRewrapCompletesTheRotation) {
  ASSERT_TRUE(Start().has_value());
  InsertModels(3);
  const KeyEncryptionKey next = GenerateKek();
  ASSERT_TRUE(WriteKekFile(PendingKekFile(config_.kek_file), next).has_value());
  ASSERT_EQ(*store_->RewrapModelKeys(next), 3);
  ASSERT_TRUE(Start().has_value());
  EXPECT_FALSE(fs::exists(PendingKekFile(config_.kek_file)));
  EXPECT_EQ(keys_->kek_id(), next.id);
  EXPECT_EQ(KekIdOnDisk(config_.kek_file), next.id);
  EXPECT_NE(notes_.front().find("completed an interrupted key rotation"),
            std::string::npos);
  ExpectEveryModelOpens(3);
}

// A failed re-wrap transaction (an artifact that does not authenticate)
// changes no row, and the old key stays in force.
TEST_F(ModelKeysTest, ARotationThatFailsHalfwayChangesNothing) {
  ASSERT_TRUE(Start().has_value());
  InsertModels(3);
  const std::string old_id = keys_->kek_id();
  // Corrupt the third version's wrapped key: XOR its first byte (a random
  // nonce byte), so the byte always changes. Setting it to 0x00 left it
  // unchanged whenever it already was 0x00 (1 run in 256).
  Bytes wrapped;
  {
    auto read = store_->db().Prepare(
        "SELECT wrapped_key FROM models WHERE sequence = 3");
    ASSERT_TRUE(read.has_value());
    ASSERT_TRUE(read->Step().value_or(false));
    wrapped = read->Blob(0);
  }
  ASSERT_FALSE(wrapped.empty());
  wrapped[0] ^= 0x01;
  ASSERT_TRUE(store_->db()
                  .Run("UPDATE models SET wrapped_key = ? WHERE sequence = 3",
                       {wrapped})
                  .has_value());
  auto rotated = keys_->Rotate("");
  ASSERT_FALSE(rotated.has_value());
  EXPECT_EQ(rotated.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(*store_->ModelKekIds(), std::vector<std::string>{old_id});
  EXPECT_EQ(KekIdOnDisk(config_.kek_file), old_id);
  EXPECT_FALSE(fs::exists(PendingKekFile(config_.kek_file)));
  EXPECT_EQ(keys_->kek_id(), old_id);
}

// Rotation cost grows with the number of versions, not their size: only
// the 60-byte wrapped keys change. Prints the time (no assertion on it).
TEST_F(ModelKeysTest, RotatesAThousandVersionsInOneTransaction) {
  ASSERT_TRUE(Start().has_value());
  ASSERT_TRUE(store_->db()
                  .Transaction([&]() -> Status {
                    for (int i = 1; i <= 1000; ++i) {
                      if (auto s = store_->InsertModel(Model(i)); !s) return s;
                    }
                    return {};
                  })
                  .has_value());
  const auto start = std::chrono::steady_clock::now();
  auto rotated = keys_->Rotate("");
  const auto elapsed = std::chrono::duration<double, std::milli>(
                           std::chrono::steady_clock::now() - start)
                           .count();
  ASSERT_TRUE(rotated.has_value()) << rotated.error().message;
  EXPECT_EQ(rotated->artifacts, 1000);
  RecordProperty("rotate_1000_ms", std::to_string(elapsed));
  std::printf("rotation of 1000 versions: %.1f ms\n", elapsed);
  ExpectEveryModelOpens(3);
}

TEST_F(ModelKeysTest, AnEnvironmentKekNeedsANewKeyFileToRotate) {
  const KeyEncryptionKey env = GenerateKek();
  ::setenv(kKekEnvironmentVariable, KekHex(env).c_str(), 1);
  ASSERT_TRUE(Start().has_value());
  EXPECT_FALSE(fs::exists(config_.kek_file));  // the file is not used
  EXPECT_EQ(keys_->kek_id(), env.id);
  EXPECT_STREQ(keys_->source(), "environment");
  InsertModels(2);
  auto refused = keys_->Rotate("");
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(refused.error().message.find("--new-key-file"), std::string::npos);

  const std::string next_file = (dir_ / "next.kek").string();
  const KeyEncryptionKey next = GenerateKek();
  ASSERT_TRUE(WriteKekFile(next_file, next).has_value());
  auto rotated = keys_->Rotate(next_file);
  ASSERT_TRUE(rotated.has_value()) << rotated.error().message;
  EXPECT_EQ(rotated->artifacts, 2);
  EXPECT_EQ(rotated->source, "environment");
  EXPECT_NE(rotated->note.find(kKekEnvironmentVariable), std::string::npos);
  ExpectEveryModelOpens(2);

  // The next start with the old variable is refused clearly; with the new
  // one every version opens.
  auto stale = Start();
  ASSERT_FALSE(stale.has_value());
  EXPECT_EQ(stale.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(stale.error().message.find(next.id), std::string::npos);
  ::setenv(kKekEnvironmentVariable, KekHex(next).c_str(), 1);
  ASSERT_TRUE(Start().has_value());
  ExpectEveryModelOpens(2);
}

}  // namespace
}  // namespace cls::coordinator
