// Envelope encryption of model artifacts: the vault alone, the KEK file,
// and the store's encrypted models table against tampering, swapped rows, a
// wrong key and a plaintext database from before encryption.
#include "coordinator/storage/model_vault.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "coordinator/storage/store.h"
#include "coordinator/versions/kek_file.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

Key32 FixedKey(uint8_t fill) {
  Key32 k;
  k.fill(fill);
  return k;
}

ModelRecord Model(int64_t sequence, std::vector<float> parameters) {
  ModelRecord m;
  m.sequence = sequence;
  m.version_id = "v" + std::to_string(sequence) + "_20261127_120000";
  m.round_id = sequence - 1;
  m.parent_version =
      sequence > 1 ? "v" + std::to_string(sequence - 1) + "_20261127_120000"
                   : "";
  m.parameters = std::move(parameters);
  Bytes bytes(m.parameters.size() * 4);
  std::memcpy(bytes.data(), m.parameters.data(), bytes.size());
  m.hash = crypto::Sha256Hex(bytes);
  m.created_at = "2026-11-27T12:00:00Z";
  m.model_type = "diagnosis_predictor";
  return m;
}

TEST(ModelVault, SealsAndOpensUnderItsBinding) {
  ModelVault vault(MakeKek(FixedKey(7)));
  const ArtifactBinding binding{"v2_20261127_120000", "abc",
                                "diagnosis_predictor"};
  const Bytes plaintext = {1, 2, 3, 4, 5, 6, 7, 8};
  auto sealed = vault.Seal(binding, plaintext);
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->kek_id, vault.kek_id());
  EXPECT_EQ(sealed->ciphertext.size(), plaintext.size() + 28);
  auto opened = vault.Open(binding, *sealed);
  ASSERT_TRUE(opened.has_value()) << opened.error().message;
  EXPECT_EQ(*opened, plaintext);
}

TEST(ModelVault, EachArtifactHasItsOwnDataKeyAndNonce) {
  ModelVault vault(MakeKek(FixedKey(7)));
  const ArtifactBinding binding{"v2", "abc", "t"};
  auto a = vault.Seal(binding, Bytes(16, 9));
  auto b = vault.Seal(binding, Bytes(16, 9));
  EXPECT_NE(a->ciphertext, b->ciphertext);
  EXPECT_NE(a->wrapped_key, b->wrapped_key);
}

TEST(ModelVault, RefusesAnyChangeToTheBindingOrBytes) {
  ModelVault vault(MakeKek(FixedKey(7)));
  const ArtifactBinding binding{"v2", "abc", "diagnosis_predictor"};
  const SealedArtifact sealed = *vault.Seal(binding, Bytes(12, 1));
  for (ArtifactBinding other :
       {ArtifactBinding{"v3", "abc", "diagnosis_predictor"},
        ArtifactBinding{"v2", "abd", "diagnosis_predictor"},
        ArtifactBinding{"v2", "abc", "readmission_risk"}}) {
    auto r = vault.Open(other, sealed);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  }
  SealedArtifact bad = sealed;
  bad.ciphertext[20] ^= 1;
  auto r = vault.Open(binding, bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(r.error().message.find("artifact does not authenticate"),
            std::string::npos);
  bad = sealed;
  bad.wrapped_key[15] ^= 1;
  r = vault.Open(binding, bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(r.error().message.find("wrapped data key does not authenticate"),
            std::string::npos);
}

TEST(ModelVault, RefusesAnotherKekByIdAndAForgedIdByItsTag) {
  ModelVault vault(MakeKek(FixedKey(7)));
  ModelVault other(MakeKek(FixedKey(8)));
  const ArtifactBinding binding{"v2", "abc", "t"};
  SealedArtifact sealed = *vault.Seal(binding, Bytes(12, 1));
  auto r = other.Open(binding, sealed);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  sealed.kek_id = other.kek_id();  // an edited id does not help
  r = other.Open(binding, sealed);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
}

TEST(ModelVault, RewrapKeepsTheCiphertextAndOpensUnderTheNewKek) {
  ModelVault vault(MakeKek(FixedKey(7)));
  const KeyEncryptionKey next = MakeKek(FixedKey(8));
  const ArtifactBinding binding{"v2", "abc", "t"};
  const SealedArtifact sealed = *vault.Seal(binding, Bytes(12, 1));
  auto rewrapped = vault.Rewrap(binding, sealed, next);
  ASSERT_TRUE(rewrapped.has_value());
  EXPECT_EQ(rewrapped->ciphertext, sealed.ciphertext);
  EXPECT_EQ(rewrapped->kek_id, next.id);
  EXPECT_EQ(*ModelVault(next).Open(binding, *rewrapped), Bytes(12, 1));
  EXPECT_FALSE(vault.Open(binding, *rewrapped).has_value());
}

TEST(ModelVault, KekIdIsAFingerprintThatRevealsNoKeyBytes) {
  const KeyEncryptionKey kek = MakeKek(FixedKey(0xab));
  EXPECT_EQ(kek.id.rfind("kek-", 0), 0u);
  EXPECT_EQ(kek.id.size(), 20u);
  EXPECT_EQ(kek.id.find("abab"), std::string::npos);
  EXPECT_EQ(MakeKek(FixedKey(0xab)).id, kek.id);
  EXPECT_NE(MakeKek(FixedKey(0xac)).id, kek.id);
}

TEST(ModelVault, ParsesHexAndRefusesAnythingElseWithoutQuotingIt) {
  auto kek = ParseKekHex("  " + std::string(64, 'A') + "\n");
  ASSERT_TRUE(kek.has_value());
  EXPECT_EQ(kek->key, FixedKey(0xaa));
  auto shortkey = ParseKekHex(std::string(63, 'a'));
  ASSERT_FALSE(shortkey.has_value());
  EXPECT_EQ(shortkey.error().message,
            "key-encryption key: expected 64 hex digits, got 63 characters");
  auto nothex = ParseKekHex(std::string(63, 'a') + "z");
  ASSERT_FALSE(nothex.has_value());
  EXPECT_EQ(nothex.error().message, "key-encryption key: not hexadecimal");
}

class ModelStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-model-vault-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    auto store = CoordinatorStore::Open(Db());
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
  }
  std::string Db() const { return (dir_ / "coordinator.db").string(); }

  // Every byte of the models table, to show a refusal changed nothing.
  std::string ModelsTable() {
    auto stmt = store_->db().Prepare(
        "SELECT version_id || '|' || hex(parameters) || '|' || hex(artifact) "
        "|| '|' || hex(wrapped_key) || '|' || kek_id || '|' || hash FROM "
        "models ORDER BY sequence");
    std::string out;
    while (stmt->Step().value_or(false)) out += stmt->Text(0) + "\n";
    return out;
  }

  void Exec(const std::string& sql) {
    ASSERT_TRUE(store_->db().Exec(sql).has_value()) << sql;
  }

  fs::path dir_;
  std::unique_ptr<CoordinatorStore> store_;
  const KeyEncryptionKey kek_ = MakeKek(FixedKey(1));
};

TEST_F(ModelStoreTest, StoresEncryptedArtifactsAndReadsThemBack) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  const ModelRecord v1 = Model(1, {0.25f, -1.5f, 3.0f});
  const ModelRecord v2 = Model(2, {1.25f, -2.5f, 4.0f});
  ASSERT_TRUE(store_->InsertModel(v1).has_value());
  ASSERT_TRUE(store_->InsertModel(v2).has_value());
  auto latest = store_->LatestModel();
  ASSERT_TRUE(latest.has_value()) << latest.error().message;
  EXPECT_EQ((*latest)->version_id, v2.version_id);
  EXPECT_EQ((*latest)->parameters, v2.parameters);
  EXPECT_EQ((*latest)->model_type, "diagnosis_predictor");
  auto found = store_->FindModel(v1.version_id);
  ASSERT_TRUE(found.has_value() && found->has_value());
  EXPECT_EQ((*found)->parameters, v1.parameters);
  EXPECT_EQ((*found)->parent_version, "");
  auto summary = store_->FindModelSummary(v2.version_id);
  ASSERT_TRUE(summary.has_value() && summary->has_value());
  EXPECT_EQ((*summary)->kek_id, kek_.id);
  EXPECT_EQ((*summary)->artifact_bytes, 12 + 28);
  // Nothing in plaintext: the parameters column is empty.
  auto stmt = store_->db().Prepare(
      "SELECT COUNT(*) FROM models WHERE length(parameters) > 0");
  ASSERT_TRUE(stmt->Step().value_or(false));
  EXPECT_EQ(stmt->Int(0), 0);
}

// The finalizer seals the next model on a worker thread; a key rotation may
// land before the io thread inserts it. The row must still be readable
// under the key in use, not stored under the retired one.
TEST_F(ModelStoreTest, AModelSealedBeforeAKeyRotationIsStoredUnderTheNewKey) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  const ModelRecord v1 = Model(1, {0.25f, -1.5f, 3.0f});
  auto sealed_early = SealModel(*store_->shared_vault(), v1);
  ASSERT_TRUE(sealed_early.has_value());
  const KeyEncryptionKey rotated = MakeKek(FixedKey(2));
  ASSERT_TRUE(store_->RewrapModelKeys(rotated).has_value());

  ASSERT_TRUE(store_->InsertModel(v1, *sealed_early).has_value());
  auto summary = store_->FindModelSummary(v1.version_id);
  ASSERT_TRUE(summary.has_value() && summary->has_value());
  EXPECT_EQ((*summary)->kek_id, rotated.id);
  auto found = store_->FindModel(v1.version_id);
  ASSERT_TRUE(found.has_value() && found->has_value()) << found.error().message;
  EXPECT_EQ((*found)->parameters, v1.parameters);

  // Sealed under the key in use, the artifact is stored as it was sealed.
  const ModelRecord v2 = Model(2, {1.25f, -2.5f, 4.0f});
  auto sealed_now = SealModel(*store_->shared_vault(), v2);
  ASSERT_TRUE(sealed_now.has_value());
  ASSERT_TRUE(store_->InsertModel(v2, *sealed_now).has_value());
  auto stmt = store_->db().Prepare(
      "SELECT lower(hex(artifact)) FROM models WHERE version_id = ?");
  ASSERT_TRUE(stmt.has_value());
  ASSERT_TRUE(stmt->Bind({v2.version_id}).has_value());
  ASSERT_TRUE(stmt->Step().value_or(false));
  EXPECT_EQ(stmt->Text(0), ToHex(sealed_now->ciphertext));
}

TEST_F(ModelStoreTest, TamperedCiphertextIsRefusedAndNothingChanges) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  const ModelRecord v1 = Model(1, {0.25f, -1.5f, 3.0f});
  ASSERT_TRUE(store_->InsertModel(v1).has_value());
  // Flip one byte of the ciphertext (after the 12-byte nonce).
  Exec(
      "UPDATE models SET artifact = substr(artifact, 1, 12) || "
      "(CASE WHEN substr(artifact, 13, 1) = x'00' THEN x'01' ELSE x'00' END)"
      " || substr(artifact, 14)");
  const std::string before = ModelsTable();
  auto r = store_->FindModel(v1.version_id);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(r.error().message,
            "model v1_20261127_120000: artifact does not authenticate "
            "(edited or moved from another version)");
  EXPECT_FALSE(store_->LatestModel().has_value());
  EXPECT_EQ(ModelsTable(), before);
}

TEST_F(ModelStoreTest, TamperedWrappedKeyIsRefused) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  ASSERT_TRUE(store_->InsertModel(Model(1, {1.0f, 2.0f})).has_value());
  Exec(
      "UPDATE models SET wrapped_key = substr(wrapped_key, 1, 20) || "
      "(CASE WHEN substr(wrapped_key, 21, 1) = x'00' THEN x'01' ELSE x'00' "
      "END) || substr(wrapped_key, 22)");
  const std::string before = ModelsTable();
  auto r = store_->LatestModel();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  EXPECT_NE(r.error().message.find("wrapped data key does not authenticate"),
            std::string::npos);
  EXPECT_EQ(ModelsTable(), before);
}

TEST_F(ModelStoreTest, SwappingArtifactsOrWrappedKeysBetweenRowsIsRefused) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  const ModelRecord v1 = Model(1, {1.0f, 2.0f});
  const ModelRecord v2 = Model(2, {3.0f, 4.0f});
  ASSERT_TRUE(store_->InsertModel(v1).has_value());
  ASSERT_TRUE(store_->InsertModel(v2).has_value());
  // v2's row gets v1's artifact and data key: a rollback by row swapping.
  Exec(
      "UPDATE models SET artifact = (SELECT artifact FROM models WHERE "
      "sequence = 1), wrapped_key = (SELECT wrapped_key FROM models WHERE "
      "sequence = 1) WHERE sequence = 2");
  auto r = store_->FindModel(v2.version_id);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  // Even with the hash copied too, the version id no longer matches.
  Exec(
      "UPDATE models SET hash = (SELECT hash FROM models WHERE sequence = "
      "1) WHERE sequence = 2");
  r = store_->FindModel(v2.version_id);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  // The untouched row still opens.
  auto ok = store_->FindModel(v1.version_id);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ((*ok)->parameters, v1.parameters);
}

TEST_F(ModelStoreTest, EditedModelTypeIsRefused) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  ASSERT_TRUE(store_->InsertModel(Model(1, {1.0f})).has_value());
  Exec("UPDATE models SET model_type = 'readmission_risk'");
  auto r = store_->LatestModel();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
}

TEST_F(ModelStoreTest, AWrongKekIsRefusedAndNothingChanges) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  ASSERT_TRUE(store_->InsertModel(Model(1, {1.0f, 2.0f})).has_value());
  const std::string before = ModelsTable();
  Reopen();
  const KeyEncryptionKey wrong = MakeKek(FixedKey(2));
  auto attached = store_->AttachVault(std::make_shared<ModelVault>(wrong));
  ASSERT_FALSE(attached.has_value());
  EXPECT_EQ(attached.error().code, ErrorCode::kFailedPrecondition);
  EXPECT_NE(attached.error().message.find(kek_.id), std::string::npos);
  EXPECT_NE(attached.error().message.find(wrong.id), std::string::npos);
  EXPECT_EQ(ModelsTable(), before);
  // Without a vault the artifact cannot be read at all.
  auto r = store_->LatestModel();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kFailedPrecondition);
}

TEST_F(ModelStoreTest, APlaintextRowInsertedBehindTheVaultsBackIsRefused) {
  ASSERT_TRUE(store_->AttachVault(std::make_shared<ModelVault>(kek_)));
  ASSERT_TRUE(store_->InsertModel(Model(1, {1.0f})).has_value());
  const ModelRecord v2 = Model(2, {2.0f});
  Exec(
      "INSERT INTO models (version_id, sequence, round_id, parent_version, "
      "hash, parameters, created_at) VALUES ('" +
      v2.version_id + "', 2, 1, '', '" + v2.hash + "', x'00000040', 'x')");
  auto r = store_->LatestModel();
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(r.error().message,
            "model v2_20261127_120000: artifact is stored unencrypted");
}

TEST_F(ModelStoreTest, APlaintextDatabaseIsEncryptedInPlaceOnAttach) {
  // The schema before encryption: no model_type, artifact, wrapped_key or
  // kek_id columns.
  store_.reset();
  fs::remove(Db());
  {
    auto db = SqliteDb::Open(Db());
    ASSERT_TRUE(db.has_value());
    ASSERT_TRUE((*db)->Exec(R"sql(
CREATE TABLE models (
  version_id TEXT PRIMARY KEY,
  sequence INTEGER NOT NULL UNIQUE,
  round_id INTEGER NOT NULL,
  parent_version TEXT NOT NULL,
  hash TEXT NOT NULL,
  parameters BLOB NOT NULL,
  created_at TEXT NOT NULL
);)sql"));
    for (int64_t n : {1, 2, 3}) {
      const ModelRecord m = Model(n, {0.5f * static_cast<float>(n), -1.0f});
      Bytes bytes(m.parameters.size() * 4);
      std::memcpy(bytes.data(), m.parameters.data(), bytes.size());
      ASSERT_TRUE((*db)->Run("INSERT INTO models VALUES (?,?,?,?,?,?,?)",
                             {m.version_id, m.sequence, m.round_id,
                              m.parent_version, m.hash, bytes, m.created_at}));
    }
  }
  Reopen();
  // Plaintext rows read without a vault (the old format).
  auto plain = store_->LatestModel();
  ASSERT_TRUE(plain.has_value()) << plain.error().message;
  EXPECT_EQ((*plain)->parameters, (std::vector<float>{1.5f, -1.0f}));

  auto encrypted = store_->AttachVault(std::make_shared<ModelVault>(kek_));
  ASSERT_TRUE(encrypted.has_value()) << encrypted.error().message;
  EXPECT_EQ(*encrypted, 3);
  auto ids = store_->ModelKekIds();
  EXPECT_EQ(*ids, std::vector<std::string>{kek_.id});
  auto stmt = store_->db().Prepare(
      "SELECT COUNT(*) FROM models WHERE length(parameters) > 0");
  ASSERT_TRUE(stmt->Step().value_or(false));
  EXPECT_EQ(stmt->Int(0), 0);
  // The model_type column was added empty; it is bound as such.
  for (int64_t n : {1, 2, 3}) {
    auto m = store_->FindModel("v" + std::to_string(n) + "_20261127_120000");
    ASSERT_TRUE(m.has_value()) << m.error().message;
    EXPECT_EQ((*m)->parameters,
              (std::vector<float>{0.5f * static_cast<float>(n), -1.0f}));
  }
  // No plaintext parameter bytes left in the file or its WAL.
  std::string bytes;
  for (const char* suffix : {"", "-wal"}) {
    std::ifstream in(Db() + suffix, std::ios::binary);
    bytes.append(std::istreambuf_iterator<char>(in), {});
  }
  for (int64_t n : {1, 2, 3}) {
    const std::vector<float> p = {0.5f * static_cast<float>(n), -1.0f};
    EXPECT_EQ(bytes.find(std::string(reinterpret_cast<const char*>(p.data()),
                                     p.size() * 4)),
              std::string::npos)
        << n;
  }
  // A second attach finds nothing left to encrypt.
  Reopen();
  EXPECT_EQ(*store_->AttachVault(std::make_shared<ModelVault>(kek_)), 0);
}

// A statement still open when its store is closed (as in the test above)
// leaked the SQLite connection: sqlite3_close refused, so the WAL file stayed
// (LeakSanitizer: 113 KB in 257 objects). The last finalize now closes it.
TEST_F(ModelStoreTest, AStatementOpenAtCloseDoesNotLeakTheConnection) {
  ASSERT_TRUE(store_->InsertModel(Model(1, {1.0f, 2.0f})).has_value());
  ASSERT_TRUE(fs::exists(Db() + "-wal"));
  auto prepared = store_->db().Prepare("SELECT COUNT(*) FROM models");
  ASSERT_TRUE(prepared.has_value()) << prepared.error().message;
  std::optional<SqlStatement> stmt(std::move(*prepared));
  ASSERT_TRUE(stmt->Step().value_or(false));
  EXPECT_EQ(stmt->Int(0), 1);
  store_.reset();
  EXPECT_TRUE(fs::exists(Db() + "-wal"));  // the statement keeps it open
  stmt.reset();
  // Closing the last connection checkpoints the WAL and removes it.
  EXPECT_FALSE(fs::exists(Db() + "-wal"));
}

TEST_F(ModelStoreTest, MigrationRefusesADamagedPlaintextRowAndChangesNothing) {
  ASSERT_TRUE(store_->InsertModel(Model(1, {1.0f, 2.0f})).has_value());
  ASSERT_TRUE(store_->InsertModel(Model(2, {3.0f, 4.0f})).has_value());
  Exec(
      "UPDATE models SET parameters = x'0000803f00000041' WHERE sequence "
      "= 2");
  const std::string before = ModelsTable();
  auto r = store_->AttachVault(std::make_shared<ModelVault>(kek_));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kDataLoss);
  EXPECT_EQ(ModelsTable(), before);  // row 1 was not encrypted either
}

class KekFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-kek-file-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Path(const char* name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(KekFileTest, WritesA0600FileAndReadsItBack) {
  const KeyEncryptionKey kek = GenerateKek();
  ::umask(022);
  ASSERT_TRUE(WriteKekFile(Path("model.kek"), kek).has_value());
  struct stat st {};
  ASSERT_EQ(::stat(Path("model.kek").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto read = ReadKekFile(Path("model.kek"));
  ASSERT_TRUE(read.has_value()) << read.error().message;
  EXPECT_EQ(read->id, kek.id);
  EXPECT_EQ(read->key, kek.key);
  auto again = WriteKekFile(Path("model.kek"), GenerateKek());
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().code, ErrorCode::kAlreadyExists);
}

TEST_F(KekFileTest, RefusesAGroupOrWorldReadableFile) {
  ASSERT_TRUE(WriteKekFile(Path("model.kek"), GenerateKek()).has_value());
  for (mode_t mode : {0644, 0640, 0604, 0660}) {
    ASSERT_EQ(::chmod(Path("model.kek").c_str(), mode), 0);
    auto r = ReadKekFile(Path("model.kek"));
    ASSERT_FALSE(r.has_value()) << mode;
    EXPECT_EQ(r.error().code, ErrorCode::kPermissionDenied);
  }
  ASSERT_EQ(::chmod(Path("model.kek").c_str(), 0644), 0);
  EXPECT_EQ(ReadKekFile(Path("model.kek")).error().message,
            "key-encryption key file " + Path("model.kek") +
                " has mode 0644: group and others must have no access (chmod "
                "600 " +
                Path("model.kek") + ")");
  ASSERT_EQ(::chmod(Path("model.kek").c_str(), 0400), 0);
  EXPECT_TRUE(ReadKekFile(Path("model.kek")).has_value());
}

TEST_F(KekFileTest, MissingFileIsNotFoundAndGarbageIsNotQuoted) {
  EXPECT_EQ(ReadKekFile(Path("absent")).error().code, ErrorCode::kNotFound);
  {
    std::ofstream out(Path("bad.kek"));
    out << "secret-but-not-hex";
  }
  ASSERT_EQ(::chmod(Path("bad.kek").c_str(), 0600), 0);
  auto r = ReadKekFile(Path("bad.kek"));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().message.find("secret"), std::string::npos);
}

TEST_F(KekFileTest, TheEnvironmentKeyMustBeHex) {
  ::setenv("CLS_TEST_KEK", std::string(64, 'b').c_str(), 1);
  auto kek = KekFromEnvironment("CLS_TEST_KEK");
  ASSERT_TRUE(kek.has_value() && kek->has_value());
  EXPECT_EQ((*kek)->key, FixedKey(0xbb));
  ::setenv("CLS_TEST_KEK", "nope", 1);
  auto bad = KekFromEnvironment("CLS_TEST_KEK");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message,
            "CLS_TEST_KEK: key-encryption key: expected 64 hex digits, got 4 "
            "characters");
  ::unsetenv("CLS_TEST_KEK");
  EXPECT_FALSE(KekFromEnvironment("CLS_TEST_KEK")->has_value());
}

}  // namespace
}  // namespace cls::coordinator
