#ifndef CLS_COORDINATOR_STORAGE_STORE_H_
#define CLS_COORDINATOR_STORAGE_STORE_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sqlite_db.h"
#include "coordinator/audit/audit_log.h"
#include "coordinator/storage/model_vault.h"
#include "core/metrics.h"
#include "core/score_counts.h"

namespace cls::coordinator {

// kQuarantined: trust fell below [robust] trust_floor; excluded from rounds
// until an operator reinstates it (then kApproved again).
enum class SiteStatus { kPending, kApproved, kRevoked, kQuarantined };
std::string_view SiteStatusName(SiteStatus status);

// A registered site (the original guide's FederatedSite).
struct SiteRecord {
  std::string site_id;
  std::string site_name;
  std::string location;
  int64_t num_samples = 0;
  double trust_score = 1.0;
  SiteStatus status = SiteStatus::kPending;
  std::string registered_at;
  std::string last_seen;
  std::string agent_version;  // from the latest hello; "" before any
};

struct ModelRecord {
  std::string version_id;  // v{N}_{YYYYMMDD_HHMMSS}
  int64_t sequence = 0;    // N
  int64_t round_id = 0;    // 0 for the initial model
  std::string parent_version;
  std::string hash;  // SHA-256 hex of the float32 parameter bytes
  std::vector<float> parameters;
  std::string created_at;
  // The original guide's ModelType (config model.type); bound to the
  // encrypted artifact with the id and hash.
  std::string model_type;
};

// A version's stored metadata without its parameters (never decrypted).
struct ModelSummary {
  std::string version_id;
  int64_t sequence = 0;
  int64_t round_id = 0;
  std::string parent_version;
  std::string hash;
  std::string model_type;
  std::string created_at;
  std::string kek_id;  // "" while the artifact is still plaintext
  int64_t artifact_bytes = 0;
};

// The held-out evaluations the sites reported for one version, summed
// (protocol EvaluationReport): training samples and the binary classifier's
// confusion counts and score histograms (core/score_counts.h).
struct VersionEvaluation {
  int64_t reports = 0;
  int64_t count = 0;
  int64_t correct = 0;
  double loss_sum = 0;
  int64_t train_samples = 0;
  core::BinaryScoreCounts scores;
  // Multi-class models: per-class counts summed over the reports; empty
  // for binary models.
  core::ClassCounts classes;
};

struct RoundRecord {
  int64_t round_id = 0;
  std::string status;  // running | completed | aborted
  std::string started_at;
  std::string finished_at;
  std::vector<std::string> participants;
  std::vector<std::string> contributors;
  nlohmann::json dropped = nlohmann::json::array();  // [{site_id, reason}]
  std::string model_version;
  int64_t val_count = 0, val_correct = 0;
  double val_loss_sum = 0;
  int64_t eval_count = 0, eval_correct = 0, eval_reports = 0;
  std::string abort_reason;
  int64_t duration_ms = 0;  // announce to commit, steady clock
};

// The coordinator's durable state in one SQLite database (WAL, synchronous
// FULL): site registry, rounds, model versions and the hash-chained audit
// log. Thread-compatible: used from the coordinator's io thread only.
class CoordinatorStore {
 public:
  static Result<std::unique_ptr<CoordinatorStore>> Open(
      const std::string& path);

  // Sites.
  Result<std::optional<SiteRecord>> FindSite(const std::string& site_id);
  Result<std::vector<SiteRecord>> ListSites();
  Status InsertSite(const SiteRecord& site);
  Status UpdateSiteHello(const std::string& site_id, const std::string& name,
                         const std::string& location, int64_t num_samples,
                         const std::string& agent_version);
  Status SetSiteStatus(const std::string& site_id, SiteStatus status);
  // The operator's trust score (0..1).
  Status SetSiteTrustScore(const std::string& site_id, double trust_score);
  Status TouchSite(const std::string& site_id);

  // Models (model_store.cc). With a vault attached every artifact is
  // stored encrypted (coordinator/storage/model_vault.h); a store without one
  // (unit tests, tools) reads and writes plaintext rows, which the coordinator
  // encrypts when it attaches its vault at start.
  Result<std::optional<ModelRecord>> LatestModel();
  // nullopt when no such version; DataLoss when its artifact is damaged or
  // was moved from another row, PermissionDenied when it is wrapped by
  // another key-encryption key.
  Result<std::optional<ModelRecord>> FindModel(const std::string& version_id);
  Status InsertModel(const ModelRecord& model);
  // The same, with the artifact sealed beforehand (SealModel, off the io
  // thread): 4 MB of AES-GCM less inside the transaction. Sealed again here
  // if the vault changed since (a key rotation in between).
  Status InsertModel(const ModelRecord& model, const SealedArtifact& sealed);
  // Newest first; metadata only.
  Result<std::vector<ModelSummary>> ListModels();
  Result<std::optional<ModelSummary>> FindModelSummary(
      const std::string& version_id);

  // Uses `vault` from now on. Plaintext artifacts are encrypted in place in
  // one transaction (their parameters column emptied); returns how many.
  // FailedPrecondition, changing nothing, if an artifact is wrapped by a
  // key-encryption key other than the vault's.
  Result<int64_t> AttachVault(std::shared_ptr<const ModelVault> vault);
  const ModelVault* vault() const { return vault_.get(); }
  // For sealing on another thread; may be null.
  std::shared_ptr<const ModelVault> shared_vault() const { return vault_; }
  // The distinct KEK ids of the stored artifacts ("" = plaintext).
  Result<std::vector<std::string>> ModelKekIds();
  // Re-wraps every artifact's data key under `to` in one transaction and
  // then uses it; returns how many. On any error nothing changes. A vault
  // must be attached.
  Result<int64_t> RewrapModelKeys(const KeyEncryptionKey& to);

  // Adds one site's evaluation of a version to its sums.
  Status AddVersionEvaluation(const std::string& version_id,
                              const VersionEvaluation& evaluation);
  // Zero sums when no site has reported.
  Result<VersionEvaluation> FindVersionEvaluation(
      const std::string& version_id);

  // Rounds.
  Result<int64_t> NextRoundId();
  Status InsertRound(const RoundRecord& round);
  Status UpdateRound(const RoundRecord& round);
  Result<std::optional<RoundRecord>> FindRound(int64_t round_id);
  Result<std::vector<RoundRecord>> ListRounds(int limit);
  // Rounds left "running" by a crash are aborted; returns how many.
  Result<int> AbortInterruptedRounds(const std::string& reason);
  Status AddEvaluation(int64_t round_id, int64_t count, int64_t correct);

  // Audit: appends an entry chained to the previous one by SHA-256
  // (coordinator/audit/audit_log.h).
  Status Audit(const std::string& actor, const std::string& actor_role,
               const std::string& event_type, const nlohmann::json& fields);
  // Runs `change` and appends its audit entry in one transaction: both are
  // stored or neither is. A checkpoint the entry makes due is signed after
  // the commit.
  template <typename Change>
  Status AuditedChange(const std::string& actor, const std::string& actor_role,
                       const std::string& event_type,
                       const nlohmann::json& fields, Change&& change) {
    Status committed = db_->Transaction([&]() -> Status {
      if (auto s = change(); !s) return s;
      return Audit(actor, actor_role, event_type, fields);
    });
    audit_log_->SignCheckpointIfCommitted();
    return committed;
  }
  AuditLog& audit_log() { return *audit_log_; }

  SqliteDb& db() { return *db_; }

 private:
  explicit CoordinatorStore(std::unique_ptr<SqliteDb> db)
      : db_(std::move(db)), audit_log_(std::make_unique<AuditLog>(*db_)) {}
  Status Migrate();
  Result<ModelRecord> OpenArtifact(const ModelSummary& summary,
                                   const Bytes& artifact,
                                   const Bytes& wrapped_key,
                                   const Bytes& plaintext) const;
  Result<std::optional<ModelRecord>> ReadOneModel(
      const std::string& where, std::initializer_list<SqlValue> args);
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<AuditLog> audit_log_;
  std::shared_ptr<const ModelVault> vault_;
};

// "2026-11-27T05:16:42Z"
std::string UtcNow();

// `model`'s parameters as its stored artifact under `vault`, bound to its
// id, hash and type. No I/O; any thread.
Result<SealedArtifact> SealModel(const ModelVault& vault,
                                 const ModelRecord& model);

// Milliseconds from `since` to now, as RoundRecord::duration_ms counts them.
inline int64_t ElapsedMs(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now() - since)
      .count();
}

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STORAGE_STORE_H_
