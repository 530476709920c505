#include "coordinator/storage/store.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <ctime>

#include "coordinator/storage/schema.h"

namespace cls::coordinator {
namespace {

SiteStatus ParseSiteStatus(const std::string& s) {
  if (s == "approved") return SiteStatus::kApproved;
  if (s == "revoked") return SiteStatus::kRevoked;
  if (s == "quarantined") return SiteStatus::kQuarantined;
  return SiteStatus::kPending;
}

std::string ToJsonList(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}

std::vector<std::string> FromJsonList(const std::string& s) {
  auto j = nlohmann::json::parse(s, nullptr, false);
  if (!j.is_array()) return {};
  return j.get<std::vector<std::string>>();
}

SiteRecord ReadSite(const SqlStatement& s) {
  return SiteRecord{s.Text(0), s.Text(1),   s.Text(2),
                    s.Int(3),  s.Double(4), ParseSiteStatus(s.Text(5)),
                    s.Text(6), s.Text(7),   s.Text(8)};
}

RoundRecord ReadRound(const SqlStatement& s) {
  RoundRecord r;
  r.round_id = s.Int(0);
  r.status = s.Text(1);
  r.started_at = s.Text(2);
  r.finished_at = s.Text(3);
  r.participants = FromJsonList(s.Text(4));
  r.contributors = FromJsonList(s.Text(5));
  r.dropped = nlohmann::json::parse(s.Text(6), nullptr, false);
  if (!r.dropped.is_array()) r.dropped = nlohmann::json::array();
  r.model_version = s.Text(7);
  r.val_count = s.Int(8);
  r.val_correct = s.Int(9);
  r.val_loss_sum = s.Double(10);
  r.eval_count = s.Int(11);
  r.eval_correct = s.Int(12);
  r.eval_reports = s.Int(13);
  r.abort_reason = s.Text(14);
  r.duration_ms = s.Int(15);
  return r;
}

constexpr const char* kRoundColumns =
    "round_id, status, started_at, finished_at, participants, contributors, "
    "dropped, model_version, val_count, val_correct, val_loss_sum, eval_count, "
    "eval_correct, eval_reports, abort_reason, duration_ms";

}  // namespace

std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string_view SiteStatusName(SiteStatus status) {
  switch (status) {
    case SiteStatus::kPending:
      return "pending";
    case SiteStatus::kApproved:
      return "approved";
    case SiteStatus::kRevoked:
      return "revoked";
    case SiteStatus::kQuarantined:
      return "quarantined";
  }
  return "pending";
}

Result<std::unique_ptr<CoordinatorStore>> CoordinatorStore::Open(
    const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db) return std::unexpected(db.error());
  std::unique_ptr<CoordinatorStore> store(new CoordinatorStore(std::move(*db)));
  if (auto s = store->Migrate(); !s) return std::unexpected(s.error());
  // A model version is a 4 MB row: its checkpoint must not be paid on the
  // io thread inside the round's commit.
  if (path != ":memory:") {
    if (auto s = store->db_->CheckpointInBackground(); !s) {
      return std::unexpected(s.error());
    }
  }
  return store;
}

Status CoordinatorStore::Migrate() { return storage::Migrate(*db_); }

Result<std::optional<SiteRecord>> CoordinatorStore::FindSite(
    const std::string& site_id) {
  auto rows = QueryRows<SiteRecord>(
      *db_,
      "SELECT site_id, site_name, location, num_samples, trust_score, status, "
      "registered_at, last_seen, agent_version FROM sites WHERE site_id = ?",
      {site_id}, ReadSite);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return rows->front();
}

Result<std::vector<SiteRecord>> CoordinatorStore::ListSites() {
  return QueryRows<SiteRecord>(
      *db_,
      "SELECT site_id, site_name, location, num_samples, trust_score, status, "
      "registered_at, last_seen, agent_version FROM sites ORDER BY site_id",
      {}, ReadSite);
}

Status CoordinatorStore::InsertSite(const SiteRecord& s) {
  return db_->Run(
      "INSERT INTO sites (site_id, site_name, location, num_samples, "
      "trust_score, status, registered_at, last_seen, agent_version) VALUES "
      "(?,?,?,?,?,?,?,?,?)",
      {s.site_id, s.site_name, s.location, s.num_samples, s.trust_score,
       std::string(SiteStatusName(s.status)), s.registered_at, s.last_seen,
       s.agent_version});
}

Status CoordinatorStore::UpdateSiteHello(const std::string& site_id,
                                         const std::string& name,
                                         const std::string& location,
                                         int64_t num_samples,
                                         const std::string& agent_version) {
  return db_->Run(
      "UPDATE sites SET site_name = ?, location = ?, num_samples = ?, "
      "last_seen = ?, agent_version = ? WHERE site_id = ?",
      {name, location, num_samples, UtcNow(), agent_version, site_id});
}

Status CoordinatorStore::SetSiteStatus(const std::string& site_id,
                                       SiteStatus status) {
  return db_->Run("UPDATE sites SET status = ? WHERE site_id = ?",
                  {std::string(SiteStatusName(status)), site_id});
}

Status CoordinatorStore::SetSiteTrustScore(const std::string& site_id,
                                           double trust_score) {
  return db_->Run("UPDATE sites SET trust_score = ? WHERE site_id = ?",
                  {trust_score, site_id});
}

Status CoordinatorStore::TouchSite(const std::string& site_id) {
  return db_->Run("UPDATE sites SET last_seen = ? WHERE site_id = ?",
                  {UtcNow(), site_id});
}

Result<int64_t> CoordinatorStore::NextRoundId() {
  auto rows =
      QueryRows<int64_t>(*db_, "SELECT COALESCE(MAX(round_id), 0) FROM rounds",
                         {}, [](const SqlStatement& s) { return s.Int(0); });
  if (!rows) return std::unexpected(rows.error());
  return rows->front() + 1;
}

Status CoordinatorStore::InsertRound(const RoundRecord& r) {
  return db_->Run(
      "INSERT INTO rounds (round_id, status, started_at, participants) "
      "VALUES (?,?,?,?)",
      {r.round_id, r.status, r.started_at, ToJsonList(r.participants)});
}

Status CoordinatorStore::UpdateRound(const RoundRecord& r) {
  return db_->Run(
      "UPDATE rounds SET status = ?, finished_at = ?, contributors = ?, "
      "dropped = ?, model_version = ?, val_count = ?, val_correct = ?, "
      "val_loss_sum = ?, abort_reason = ?, duration_ms = ? WHERE round_id = ?",
      {r.status, r.finished_at, ToJsonList(r.contributors), r.dropped.dump(),
       r.model_version, r.val_count, r.val_correct, r.val_loss_sum,
       r.abort_reason, r.duration_ms, r.round_id});
}

Result<std::optional<RoundRecord>> CoordinatorStore::FindRound(
    int64_t round_id) {
  auto rows = QueryRows<RoundRecord>(*db_,
                                     std::string("SELECT ") + kRoundColumns +
                                         " FROM rounds WHERE round_id = ?",
                                     {round_id}, ReadRound);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return rows->front();
}

Result<std::vector<RoundRecord>> CoordinatorStore::ListRounds(int limit) {
  auto rows =
      QueryRows<RoundRecord>(*db_,
                             std::string("SELECT ") + kRoundColumns +
                                 " FROM rounds ORDER BY round_id DESC LIMIT ?",
                             {int64_t{limit}}, ReadRound);
  if (rows) std::reverse(rows->begin(), rows->end());
  return rows;
}

Result<int> CoordinatorStore::AbortInterruptedRounds(
    const std::string& reason) {
  auto rows = QueryRows<int64_t>(
      *db_, "SELECT round_id FROM rounds WHERE status = 'running'", {},
      [](const SqlStatement& s) { return s.Int(0); });
  if (!rows) return std::unexpected(rows.error());
  for (int64_t id : *rows) {
    if (auto s =
            db_->Run("UPDATE rounds SET status = 'aborted', finished_at = ?, "
                     "abort_reason = ? WHERE round_id = ?",
                     {UtcNow(), reason, id});
        !s) {
      return std::unexpected(s.error());
    }
  }
  return static_cast<int>(rows->size());
}

Status CoordinatorStore::AddEvaluation(int64_t round_id, int64_t count,
                                       int64_t correct) {
  return db_->Run(
      "UPDATE rounds SET eval_count = eval_count + ?, eval_correct = "
      "eval_correct + ?, eval_reports = eval_reports + 1 WHERE round_id = ?",
      {count, correct, round_id});
}

Status CoordinatorStore::Audit(const std::string& actor,
                               const std::string& actor_role,
                               const std::string& event_type,
                               const nlohmann::json& fields) {
  auto entry = audit_log_->Append(actor, actor_role, event_type, fields);
  if (!entry) return std::unexpected(entry.error());
  return {};
}

}  // namespace cls::coordinator
