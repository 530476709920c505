#ifndef CLS_COORDINATOR_STORE_H_
#define CLS_COORDINATOR_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/sqlite_db.h"
#include "coordinator/audit_log.h"

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
};

struct ModelRecord {
  std::string version_id;  // v{N}_{YYYYMMDD_HHMMSS}
  int64_t sequence = 0;    // N
  int64_t round_id = 0;    // 0 for the initial model
  std::string parent_version;
  std::string hash;  // SHA-256 hex of the float32 parameter bytes
  std::vector<float> parameters;
  std::string created_at;
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
                         const std::string& location, int64_t num_samples);
  Status SetSiteStatus(const std::string& site_id, SiteStatus status);
  Status TouchSite(const std::string& site_id);

  // Models.
  Result<std::optional<ModelRecord>> LatestModel();
  // nullopt when no such version; DataLoss when its artifact is damaged.
  Result<std::optional<ModelRecord>> FindModel(const std::string& version_id);
  Status InsertModel(const ModelRecord& model);

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
  // (coordinator/audit_log.h).
  Status Audit(const std::string& actor, const std::string& actor_role,
               const std::string& event_type, const nlohmann::json& fields);
  AuditLog& audit_log() { return *audit_log_; }

  SqliteDb& db() { return *db_; }

 private:
  explicit CoordinatorStore(std::unique_ptr<SqliteDb> db)
      : db_(std::move(db)), audit_log_(std::make_unique<AuditLog>(*db_)) {}
  Status Migrate();
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<AuditLog> audit_log_;
};

// "2026-11-27T05:16:42Z"
std::string UtcNow();

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STORE_H_
