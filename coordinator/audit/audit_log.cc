#include "coordinator/audit/audit_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <tuple>

#include "common/bytes.h"
#include "common/durable_file.h"
#include "coordinator/config.h"

namespace cls::coordinator {
namespace {

using audit::AuditCheckpoint;
using audit::AuditEntry;
using nlohmann::json;
namespace fs = std::filesystem;

// A checkpoint follows every completed round, so the sites' copy and the
// files move with the rounds.
constexpr const char* kCheckpointEvents[] = {"federated_round_completed"};

constexpr const char* kEntryColumns =
    "seq, timestamp, actor, actor_role, event_type, fields, prev_hash, hash";

AuditEntry ReadEntry(const SqlStatement& s) {
  AuditEntry e;
  e.seq = s.Int(0);
  e.timestamp = s.Text(1);
  e.actor = s.Text(2);
  e.actor_role = s.Text(3);
  e.event_type = s.Text(4);
  // A row edited into invalid JSON still verifies as "edited", not a crash.
  e.fields = json::parse(s.Text(5), nullptr, false);
  if (e.fields.is_discarded()) e.fields = s.Text(5);
  e.prev_hash = s.Text(6);
  e.hash = s.Text(7);
  return e;
}

AuditCheckpoint ReadCheckpoint(const SqlStatement& s) {
  return AuditCheckpoint{s.Text(0), s.Int(1),  s.Text(2),
                         s.Text(3), s.Text(4), s.Text(5)};
}

std::string ReadTextFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string FormatUtc(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

AuditLog::AuditLog(SqliteDb& db)
    : db_(db), clock_([] { return std::chrono::system_clock::now(); }) {}

std::string AuditLog::Now() const { return FormatUtc(clock_()); }

void AuditLog::EnableCheckpoints(AuditCheckpointing checkpointing) {
  checkpointing_ = std::move(checkpointing);
  checkpointing_.every_entries = std::max(1, checkpointing_.every_entries);
}

Result<AuditEntry> AuditLog::Append(const std::string& actor,
                                    const std::string& actor_role,
                                    const std::string& event_type,
                                    const json& fields) {
  SignCheckpointIfCommitted();  // one an earlier transaction made due
  auto normalized = audit::NormalizeFields(fields);
  if (!normalized) return std::unexpected(normalized.error());
  AuditEntry e;
  e.timestamp = Now();
  e.actor = actor;
  e.actor_role = actor_role;
  e.event_type = event_type;
  e.fields = std::move(*normalized);
  // Emergency access is visible on every entry it makes, whoever wrote it.
  if (actor_role == "break_glass") e.fields["break_glass"] = true;
  Status written = db_.Transaction([&]() -> Status {
    auto head = QueryRows<std::pair<int64_t, std::string>>(
        db_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", {},
        [](const SqlStatement& s) {
          return std::pair{s.Int(0), s.Text(1)};
        });
    if (!head) return std::unexpected(head.error());
    e.seq = head->empty() ? 1 : head->front().first + 1;
    e.prev_hash = head->empty() ? audit::kGenesisHash : head->front().second;
    e.hash = audit::ComputeEntryHash(e);
    return db_.Run(
        "INSERT INTO audit_log (seq, timestamp, actor, actor_role, "
        "event_type, fields, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        {e.seq, e.timestamp, e.actor, e.actor_role, e.event_type,
         e.fields.dump(), e.prev_hash, e.hash});
  });
  if (!written) return std::unexpected(written.error());

  if (checkpoints_enabled()) {
    std::string reason;
    if (e.seq % checkpointing_.every_entries == 0) {
      reason =
          "every " + std::to_string(checkpointing_.every_entries) + " entries";
    }
    for (const char* event : kCheckpointEvents) {
      if (event_type == event) reason = event;
    }
    if (!reason.empty()) due_checkpoint_ = DueCheckpoint{e.seq, e.hash, reason};
  }
  SignCheckpointIfCommitted();
  return e;
}

void AuditLog::SignCheckpointIfCommitted() {
  if (!due_checkpoint_ || db_.InTransaction()) return;
  const DueCheckpoint due = std::move(*due_checkpoint_);
  due_checkpoint_.reset();
  auto stored = QueryRows<std::string>(
      db_, "SELECT hash FROM audit_log WHERE seq = ?", {due.seq},
      [](const SqlStatement& s) { return s.Text(0); });
  if (!stored || stored->size() != 1 || stored->front() != due.hash) {
    // The transaction that wrote the entry rolled back.
    return;
  }
  if (auto c = SignAndStore(due.seq, due.hash, due.reason); !c) {
    // The entry is durable; the next checkpoint will cover it.
    spdlog::error("audit checkpoint at seq {} failed: {}", due.seq,
                  c.error().message);
  }
}

Result<std::vector<AuditEntry>> AuditLog::Entries(const std::string& since,
                                                  const std::string& until) {
  return QueryRows<AuditEntry>(
      db_,
      std::string("SELECT ") + kEntryColumns +
          " FROM audit_log WHERE timestamp >= ? AND timestamp <= ? ORDER BY "
          "seq",
      {since, until.empty() ? std::string("~") : until}, ReadEntry);
}

Result<std::vector<AuditCheckpoint>> AuditLog::Checkpoints() {
  auto rows = QueryRows<AuditCheckpoint>(
      db_,
      "SELECT coordinator_id, seq, hash, timestamp, reason, signature FROM "
      "audit_checkpoints ORDER BY seq, id",
      {}, ReadCheckpoint);
  if (!rows) return rows;
  if (checkpointing_.directory.empty()) return rows;
  // Union with the files, one copy of each signed checkpoint.
  std::map<std::tuple<int64_t, std::string, std::string>, AuditCheckpoint> all;
  for (auto& c : *rows) all[{c.seq, c.timestamp, c.signature}] = c;
  std::error_code ec;
  for (const auto& file :
       fs::directory_iterator(checkpointing_.directory, ec)) {
    if (file.path().extension() != ".json") continue;
    auto j = json::parse(ReadTextFile(file.path().string()), nullptr, false);
    auto c = audit::CheckpointFromJson(j);
    if (!c) {
      spdlog::warn("audit: ignoring unreadable checkpoint file {}",
                   file.path().string());
      continue;
    }
    all[{c->seq, c->timestamp, c->signature}] = std::move(*c);
  }
  std::vector<AuditCheckpoint> out;
  for (auto& [key, c] : all) out.push_back(std::move(c));
  return out;
}

Result<AuditCheckpoint> AuditLog::WriteCheckpoint(const std::string& reason) {
  if (!checkpoints_enabled()) {
    return FailedPrecondition("audit checkpoints are not enabled");
  }
  auto head = QueryRows<std::pair<int64_t, std::string>>(
      db_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1", {},
      [](const SqlStatement& s) {
        return std::pair{s.Int(0), s.Text(1)};
      });
  if (!head) return std::unexpected(head.error());
  if (head->empty()) return FailedPrecondition("the audit log is empty");
  return SignAndStore(head->front().first, head->front().second, reason);
}

Result<AuditCheckpoint> AuditLog::SignAndStore(int64_t seq,
                                               const std::string& hash,
                                               const std::string& reason) {
  AuditCheckpoint c{
      checkpointing_.coordinator_id, seq, hash, Now(), reason, ""};
  if (auto s = checkpointing_.signer->Sign(c); !s) {
    return std::unexpected(s.error());
  }
  if (auto s =
          db_.Run("INSERT INTO audit_checkpoints (coordinator_id, seq, hash, "
                  "timestamp, reason, signature) VALUES (?,?,?,?,?,?)",
                  {c.coordinator_id, c.seq, c.hash, c.timestamp, c.reason,
                   c.signature});
      !s) {
    return std::unexpected(s.error());
  }
  if (auto s = WriteCheckpointFile(c); !s) return std::unexpected(s.error());
  if (on_checkpoint_) on_checkpoint_(c);
  return c;
}

Status AuditLog::WriteCheckpointFile(const AuditCheckpoint& c) {
  if (checkpointing_.directory.empty()) return {};
  char name[64];
  std::snprintf(name, sizeof name, "checkpoint-%012lld-%lld.json",
                static_cast<long long>(c.seq),
                static_cast<long long>(clock_().time_since_epoch().count()));
  fs::path path = fs::path(checkpointing_.directory) / name;
  // Durable (fsync of the file and the folder): a checkpoint is evidence
  // that must survive a crash. Public (signed, no secrets): 0644.
  const std::string text = audit::CheckpointToJson(c).dump(2) + "\n";
  if (auto s = WriteFileDurably(path, AsBytes(text), {.mode = 0644}); !s) {
    return Unavailable("audit: cannot write checkpoint file " + path.string() +
                       ": " + s.error().message);
  }
  return {};
}

Result<int64_t> AuditLog::Prune(const std::string& cutoff) {
  auto cut = QueryRows<std::pair<int64_t, std::string>>(
      db_,
      "SELECT seq, hash FROM audit_log WHERE timestamp < ? AND seq < (SELECT "
      "MAX(seq) FROM audit_log) ORDER BY seq DESC LIMIT 1",
      {cutoff}, [](const SqlStatement& s) {
        return std::pair{s.Int(0), s.Text(1)};
      });
  if (!cut) return std::unexpected(cut.error());
  if (cut->empty()) return 0;
  if (!checkpoints_enabled()) {
    return FailedPrecondition(
        "audit: pruning needs checkpoint signing, so the rest of the log "
        "still verifies");
  }
  auto [seq, hash] = cut->front();
  // The signed checkpoint at the cut anchors the first remaining entry.
  auto checkpoint = SignAndStore(seq, hash, "prune");
  if (!checkpoint) return std::unexpected(checkpoint.error());
  auto count =
      QueryRows<int64_t>(db_, "SELECT COUNT(*) FROM audit_log WHERE seq <= ?",
                         {seq}, [](const SqlStatement& s) { return s.Int(0); });
  if (!count) return std::unexpected(count.error());
  if (auto s = db_.Run("DELETE FROM audit_log WHERE seq <= ?", {seq}); !s) {
    return std::unexpected(s.error());
  }
  auto entry = Append(
      "coordinator", "system", "audit_pruned",
      {{"through_seq", seq}, {"cutoff", cutoff}, {"entries", count->front()}});
  if (!entry) return std::unexpected(entry.error());
  return count->front();
}

Result<int64_t> AuditLog::PruneOlderThanYears(int retention_years) {
  using namespace std::chrono;
  auto age = duration_cast<system_clock::duration>(hours(24) * 365.25 *
                                                   retention_years);
  return Prune(FormatUtc(clock_() - age));
}

Result<json> AuditLog::Export(const std::string& since,
                              const std::string& until) {
  auto entries = Entries(since, until);
  if (!entries) return std::unexpected(entries.error());
  auto checkpoints = Checkpoints();
  if (!checkpoints) return std::unexpected(checkpoints.error());
  json list = json::array();
  for (const auto& e : *entries) list.push_back(audit::EntryToJson(e));
  json signed_heads = json::array();
  for (const auto& c : *checkpoints)
    signed_heads.push_back(audit::CheckpointToJson(c));
  auto or_null = [](const std::string& s) {
    return s.empty() ? json(nullptr) : json(s);
  };
  return json{
      {"format", audit::kExportFormat},
      {"coordinator_id", checkpointing_.coordinator_id},
      {"exported_at", Now()},
      {"since", or_null(since)},
      {"until", or_null(until)},
      {"complete", since.empty() && until.empty()},
      {"coordinator_certificate", or_null(checkpointing_.certificate_pem)},
      {"entries", std::move(list)},
      {"checkpoints", std::move(signed_heads)}};
}

Result<audit::ChainReport> AuditLog::Verify(
    const audit::CheckpointVerifier* verifier) {
  auto entries = Entries("", "");
  if (!entries) return std::unexpected(entries.error());
  auto checkpoints = Checkpoints();
  if (!checkpoints) return std::unexpected(checkpoints.error());
  return audit::VerifyChain(*entries, *checkpoints,
                            {.complete = true, .verifier = verifier});
}

Status ConfigureAuditLog(AuditLog& log, const CoordinatorConfig& config) {
  AuditCheckpointing c;
  c.coordinator_id = config.coordinator_id;
  c.every_entries = config.audit_checkpoint_every;
  auto signer = audit::CheckpointSigner::LoadKeyFile(config.tls.key_file);
  if (!signer) return std::unexpected(signer.error());
  c.signer = std::move(*signer);
  c.certificate_pem = ReadTextFile(config.tls.cert_file);
  if (c.certificate_pem.empty()) {
    return NotFound("audit: cannot read certificate " + config.tls.cert_file);
  }
  c.directory = config.data_dir + "/audit-checkpoints";
  std::error_code ec;
  fs::create_directories(c.directory, ec);
  if (ec) {
    return Unavailable("audit: cannot create " + c.directory + ": " +
                       ec.message());
  }
  log.EnableCheckpoints(std::move(c));
  auto pruned = log.PruneOlderThanYears(config.audit_retention_years);
  if (!pruned) return std::unexpected(pruned.error());
  if (*pruned > 0) {
    spdlog::info("audit: pruned {} entries older than {} years", *pruned,
                 config.audit_retention_years);
  }
  // Sign the head if nothing covers it yet (a first start, or a stop
  // between checkpoints).
  auto head = log.Entries("", "");
  auto checkpoints = log.Checkpoints();
  if (head && checkpoints && !head->empty()) {
    int64_t covered = 0;
    for (const auto& cp : *checkpoints) covered = std::max(covered, cp.seq);
    if (covered < head->back().seq) {
      if (auto s = log.WriteCheckpoint("coordinator started"); !s) {
        return std::unexpected(s.error());
      }
    }
  }
  return {};
}

}  // namespace cls::coordinator
