// CoordinatorStore's model versions: the `models` table with encrypted
// artifacts (coordinator/storage/model_vault.h), and the summed evaluations of
// each version in `model_evaluations`.
#include <cstring>

#include "coordinator/storage/store.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

// The `models` table (coordinator/storage/schema.cc): `parameters` holds
// plaintext only in a database written before artifacts were encrypted (or
// by a store without a vault); it is emptied when the row is encrypted.
// `artifact` and `wrapped_key` are ModelVault's SealedArtifact, `kek_id`
// names the KEK that wraps the data key.
constexpr const char* kSummaryColumns =
    "version_id, sequence, round_id, parent_version, hash, model_type, "
    "created_at, kek_id, length(artifact), length(parameters)";

ModelSummary ReadSummary(const SqlStatement& s) {
  ModelSummary m;
  m.version_id = s.Text(0);
  m.sequence = s.Int(1);
  m.round_id = s.Int(2);
  m.parent_version = s.Text(3);
  m.hash = s.Text(4);
  m.model_type = s.Text(5);
  m.created_at = s.Text(6);
  m.kek_id = s.Text(7);
  m.artifact_bytes = m.kek_id.empty() ? s.Int(9) : s.Int(8);
  return m;
}

Bytes FloatBytes(const std::vector<float>& v) {
  Bytes b(v.size() * sizeof(float));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

ArtifactBinding BindingOf(const ModelSummary& m) {
  return {m.version_id, m.hash, m.model_type};
}

// One stored row with its blobs, read for decryption or re-encryption.
struct StoredArtifact {
  ModelSummary summary;
  Bytes artifact;
  Bytes wrapped_key;
  Bytes plaintext;
};

Result<std::vector<StoredArtifact>> ReadArtifacts(
    SqliteDb& db, const std::string& where,
    std::initializer_list<SqlValue> args) {
  return QueryRows<StoredArtifact>(
      db,
      std::string("SELECT ") + kSummaryColumns +
          ", artifact, wrapped_key, parameters FROM models " + where,
      args, [](const SqlStatement& s) {
        return StoredArtifact{ReadSummary(s), s.Blob(10), s.Blob(11),
                              s.Blob(12)};
      });
}

nlohmann::json HistogramJson(const std::vector<uint64_t>& h) {
  return nlohmann::json(h);
}

std::vector<uint64_t> HistogramFrom(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, false);
  std::vector<uint64_t> out;
  if (!j.is_array()) return out;
  for (const auto& v : j) {
    if (v.is_number_unsigned()) out.push_back(v.get<uint64_t>());
  }
  return out;
}

}  // namespace

Result<ModelRecord> CoordinatorStore::OpenArtifact(
    const ModelSummary& summary, const Bytes& artifact,
    const Bytes& wrapped_key, const Bytes& plaintext) const {
  Bytes bytes;
  if (summary.kek_id.empty()) {
    // A vault refuses plaintext: once the coordinator encrypts at rest, a
    // plaintext row can only be one written behind its back.
    if (vault_) {
      return DataLoss("model " + summary.version_id +
                      ": artifact is stored unencrypted");
    }
    bytes = plaintext;
  } else {
    if (!vault_) {
      return FailedPrecondition("model " + summary.version_id +
                                " is encrypted and no key-encryption key is "
                                "loaded");
    }
    auto opened = vault_->Open(BindingOf(summary),
                               {artifact, wrapped_key, summary.kek_id});
    if (!opened) return std::unexpected(opened.error());
    bytes = std::move(*opened);
  }
  if (bytes.size() % sizeof(float) != 0 ||
      crypto::Sha256Hex(bytes) != summary.hash) {
    return DataLoss("model " + summary.version_id +
                    ": parameters do not match their hash");
  }
  ModelRecord m;
  m.version_id = summary.version_id;
  m.sequence = summary.sequence;
  m.round_id = summary.round_id;
  m.parent_version = summary.parent_version;
  m.hash = summary.hash;
  m.created_at = summary.created_at;
  m.model_type = summary.model_type;
  m.parameters.resize(bytes.size() / sizeof(float));
  if (!bytes.empty())
    std::memcpy(m.parameters.data(), bytes.data(), bytes.size());
  return m;
}

Result<std::optional<ModelRecord>> CoordinatorStore::ReadOneModel(
    const std::string& where, std::initializer_list<SqlValue> args) {
  auto rows = ReadArtifacts(*db_, where, args);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  const StoredArtifact& r = rows->front();
  auto model = OpenArtifact(r.summary, r.artifact, r.wrapped_key, r.plaintext);
  if (!model) return std::unexpected(model.error());
  return std::optional<ModelRecord>(std::move(*model));
}

Result<std::optional<ModelRecord>> CoordinatorStore::LatestModel() {
  return ReadOneModel("ORDER BY sequence DESC LIMIT 1", {});
}

Result<std::optional<ModelRecord>> CoordinatorStore::FindModel(
    const std::string& version_id) {
  return ReadOneModel("WHERE version_id = ?", {version_id});
}

Result<SealedArtifact> SealModel(const ModelVault& vault,
                                 const ModelRecord& m) {
  return vault.Seal({m.version_id, m.hash, m.model_type},
                    FloatBytes(m.parameters));
}

Status CoordinatorStore::InsertModel(const ModelRecord& m) {
  if (!vault_) {
    return db_->Run(
        "INSERT INTO models (version_id, sequence, round_id, parent_version, "
        "hash, parameters, created_at, model_type) VALUES (?,?,?,?,?,?,?,?)",
        {m.version_id, m.sequence, m.round_id, m.parent_version, m.hash,
         FloatBytes(m.parameters), m.created_at, m.model_type});
  }
  auto sealed = SealModel(*vault_, m);
  if (!sealed) return std::unexpected(sealed.error());
  return InsertModel(m, *sealed);
}

Status CoordinatorStore::InsertModel(const ModelRecord& m,
                                     const SealedArtifact& sealed) {
  if (!vault_ || sealed.kek_id != vault_->kek_id()) return InsertModel(m);
  return db_->Run(
      "INSERT INTO models (version_id, sequence, round_id, parent_version, "
      "hash, parameters, created_at, model_type, artifact, wrapped_key, "
      "kek_id) VALUES (?,?,?,?,?,x'',?,?,?,?,?)",
      {m.version_id, m.sequence, m.round_id, m.parent_version, m.hash,
       m.created_at, m.model_type, sealed.ciphertext, sealed.wrapped_key,
       sealed.kek_id});
}

Result<std::vector<ModelSummary>> CoordinatorStore::ListModels() {
  return QueryRows<ModelSummary>(*db_,
                                 std::string("SELECT ") + kSummaryColumns +
                                     " FROM models ORDER BY sequence DESC",
                                 {}, ReadSummary);
}

Result<std::optional<ModelSummary>> CoordinatorStore::FindModelSummary(
    const std::string& version_id) {
  auto rows = QueryRows<ModelSummary>(*db_,
                                      std::string("SELECT ") + kSummaryColumns +
                                          " FROM models WHERE version_id = ?",
                                      {version_id}, ReadSummary);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return std::optional<ModelSummary>(rows->front());
}

Result<std::vector<std::string>> CoordinatorStore::ModelKekIds() {
  return QueryRows<std::string>(
      *db_, "SELECT DISTINCT kek_id FROM models ORDER BY kek_id", {},
      [](const SqlStatement& s) { return s.Text(0); });
}

Result<int64_t> CoordinatorStore::AttachVault(
    std::shared_ptr<const ModelVault> vault) {
  if (!vault) return InvalidArgument("no vault");
  auto ids = ModelKekIds();
  if (!ids) return std::unexpected(ids.error());
  for (const auto& id : *ids) {
    if (!id.empty() && id != vault->kek_id()) {
      return FailedPrecondition(
          "model artifacts are wrapped by key-encryption key " + id +
          " but the configured key is " + vault->kek_id() +
          " (wrong [versions] kek_file or " + "CLS_MODEL_KEK?)");
    }
  }
  // Freed pages are zeroed from now on, so the plaintext this migration
  // replaces does not linger in the file's free space.
  if (auto s = db_->Exec("PRAGMA secure_delete = ON"); !s) {
    return std::unexpected(s.error());
  }
  // Encrypt plaintext rows in place, all or none: a crash leaves the
  // database as it was and the next start does it again.
  int64_t encrypted = 0;
  Status migrated = db_->Transaction([&]() -> Status {
    auto rows = ReadArtifacts(*db_, "WHERE kek_id = ''", {});
    if (!rows) return std::unexpected(rows.error());
    for (const StoredArtifact& r : *rows) {
      if (crypto::Sha256Hex(r.plaintext) != r.summary.hash) {
        return DataLoss("model " + r.summary.version_id +
                        ": parameters do not match their hash; not "
                        "encrypting a damaged artifact");
      }
      auto sealed = vault->Seal(BindingOf(r.summary), r.plaintext);
      if (!sealed) return std::unexpected(sealed.error());
      if (auto s = db_->Run("UPDATE models SET parameters = x'', artifact = ?, "
                            "wrapped_key = ?, kek_id = ? WHERE version_id = ?",
                            {sealed->ciphertext, sealed->wrapped_key,
                             sealed->kek_id, r.summary.version_id});
          !s) {
        return s;
      }
      ++encrypted;
    }
    return {};
  });
  if (!migrated) return std::unexpected(migrated.error());
  if (encrypted > 0) {
    // The WAL still holds the old page images: copy the new ones into the
    // database and truncate it.
    if (auto s = db_->Exec("PRAGMA wal_checkpoint(TRUNCATE)"); !s) {
      return std::unexpected(s.error());
    }
  }
  vault_ = std::move(vault);
  return encrypted;
}

Result<int64_t> CoordinatorStore::RewrapModelKeys(const KeyEncryptionKey& to) {
  if (!vault_) return FailedPrecondition("no key-encryption key is loaded");
  int64_t rewrapped = 0;
  Status done = db_->Transaction([&]() -> Status {
    auto rows = ReadArtifacts(*db_, "ORDER BY sequence", {});
    if (!rows) return std::unexpected(rows.error());
    for (const StoredArtifact& r : *rows) {
      if (r.summary.kek_id.empty()) {
        return DataLoss("model " + r.summary.version_id +
                        ": artifact is stored unencrypted");
      }
      auto sealed =
          vault_->Rewrap(BindingOf(r.summary),
                         {r.artifact, r.wrapped_key, r.summary.kek_id}, to);
      if (!sealed) return std::unexpected(sealed.error());
      if (auto s = db_->Run(
              "UPDATE models SET wrapped_key = ?, kek_id = ? WHERE "
              "version_id = ?",
              {sealed->wrapped_key, sealed->kek_id, r.summary.version_id});
          !s) {
        return s;
      }
      ++rewrapped;
    }
    return {};
  });
  if (!done) return std::unexpected(done.error());
  vault_ = std::make_shared<const ModelVault>(to);
  return rewrapped;
}

namespace {

std::string ClassCountsJson(const core::ClassCounts& c) {
  if (c.support.empty()) return "";
  return nlohmann::json{{"correct", c.correct},
                        {"support", c.support},
                        {"predicted", c.predicted}}
      .dump();
}

// Our own column; anything unreadable reads as no class counts.
core::ClassCounts ClassCountsFrom(const std::string& text) {
  core::ClassCounts c;
  if (text.empty()) return c;
  const auto j = nlohmann::json::parse(text, nullptr, false);
  try {
    c.correct = j.at("correct").get<std::vector<uint64_t>>();
    c.support = j.at("support").get<std::vector<uint64_t>>();
    c.predicted = j.at("predicted").get<std::vector<uint64_t>>();
  } catch (const nlohmann::json::exception&) {
    return {};
  }
  return c.Consistent() ? c : core::ClassCounts{};
}

}  // namespace

Status CoordinatorStore::AddVersionEvaluation(const std::string& version_id,
                                              const VersionEvaluation& e) {
  auto current = FindVersionEvaluation(version_id);
  if (!current) return std::unexpected(current.error());
  VersionEvaluation sum = *current;
  // The first report fixes the histograms' bin count; a report with another
  // one still adds its confusion counts.
  core::BinaryScoreCounts scores = e.scores;
  if (sum.scores.positive_histogram.empty() &&
      sum.scores.negative_histogram.empty()) {
    sum.scores.positive_histogram.assign(scores.positive_histogram.size(), 0);
    sum.scores.negative_histogram.assign(scores.negative_histogram.size(), 0);
  }
  if (scores.positive_histogram.size() !=
          sum.scores.positive_histogram.size() ||
      scores.negative_histogram.size() !=
          sum.scores.negative_histogram.size()) {
    scores.positive_histogram =
        std::vector<uint64_t>(sum.scores.positive_histogram.size(), 0);
    scores.negative_histogram =
        std::vector<uint64_t>(sum.scores.negative_histogram.size(), 0);
  }
  sum.scores.Add(scores);
  // The first report fixes K; a report with another K adds no class counts.
  if (sum.classes.support.empty() ||
      sum.classes.support.size() == e.classes.support.size()) {
    sum.classes.Add(e.classes);
  }
  sum.reports += 1;
  sum.count += e.count;
  sum.correct += e.correct;
  sum.loss_sum += e.loss_sum;
  sum.train_samples += e.train_samples;
  const auto& s = sum.scores;
  return db_->Run(
      "INSERT INTO model_evaluations (version_id, reports, count, correct, "
      "loss_sum, train_samples, true_positives, false_positives, "
      "true_negatives, false_negatives, positive_histogram, "
      "negative_histogram, class_counts) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
      "ON CONFLICT(version_id) DO UPDATE SET reports = excluded.reports, "
      "count = excluded.count, correct = excluded.correct, loss_sum = "
      "excluded.loss_sum, train_samples = excluded.train_samples, "
      "true_positives = excluded.true_positives, false_positives = "
      "excluded.false_positives, true_negatives = excluded.true_negatives, "
      "false_negatives = excluded.false_negatives, positive_histogram = "
      "excluded.positive_histogram, negative_histogram = "
      "excluded.negative_histogram, class_counts = excluded.class_counts",
      {version_id, sum.reports, sum.count, sum.correct, sum.loss_sum,
       sum.train_samples, static_cast<int64_t>(s.true_positives),
       static_cast<int64_t>(s.false_positives),
       static_cast<int64_t>(s.true_negatives),
       static_cast<int64_t>(s.false_negatives),
       HistogramJson(s.positive_histogram).dump(),
       HistogramJson(s.negative_histogram).dump(),
       ClassCountsJson(sum.classes)});
}

Result<VersionEvaluation> CoordinatorStore::FindVersionEvaluation(
    const std::string& version_id) {
  auto rows = QueryRows<VersionEvaluation>(
      *db_,
      "SELECT reports, count, correct, loss_sum, train_samples, "
      "true_positives, false_positives, true_negatives, false_negatives, "
      "positive_histogram, negative_histogram, class_counts FROM "
      "model_evaluations WHERE "
      "version_id = ?",
      {version_id}, [](const SqlStatement& s) {
        VersionEvaluation e;
        e.reports = s.Int(0);
        e.count = s.Int(1);
        e.correct = s.Int(2);
        e.loss_sum = s.Double(3);
        e.train_samples = s.Int(4);
        e.scores.true_positives = static_cast<uint64_t>(s.Int(5));
        e.scores.false_positives = static_cast<uint64_t>(s.Int(6));
        e.scores.true_negatives = static_cast<uint64_t>(s.Int(7));
        e.scores.false_negatives = static_cast<uint64_t>(s.Int(8));
        e.scores.positive_histogram = HistogramFrom(s.Text(9));
        e.scores.negative_histogram = HistogramFrom(s.Text(10));
        e.classes = ClassCountsFrom(s.Text(11));
        return e;
      });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return VersionEvaluation{};
  return rows->front();
}

}  // namespace cls::coordinator
