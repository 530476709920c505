#include "audit/audit_chain.h"
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include "common/bytes.h"
#include "crypto/sha256.h"

namespace cls::audit {
namespace {

using nlohmann::json;

// Keys of the export shape that belong to the chain, not to `fields`.
const std::set<std::string>& ReservedKeys() {
  static const std::set<std::string> kReserved = {
      "seq",    "timestamp", "actor", "actor_role",
      "fields", "prev_hash", "hash",  "event_type",
  };
  return kReserved;
}

// ensure_ascii and replace: the same bytes whatever produced the string.
std::string Dump(const json& j) {
  return j.dump(-1, ' ', true, json::error_handler_t::replace);
}

bool IsHex64(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::optional<Bytes> FromHex(const std::string& hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  Bytes out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

Result<std::string> StringField(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string()) {
    return InvalidArgument(std::string("'") + key +
                           "' is missing or not a string");
  }
  return it->get<std::string>();
}

Result<int64_t> IntField(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) {
    return InvalidArgument(std::string("'") + key +
                           "' is missing or not an integer");
  }
  return it->get<int64_t>();
}

void AddProblem(ChainReport& r, ChainProblemKind kind, int64_t seq,
                std::string message) {
  r.problems.push_back({kind, seq, std::move(message)});
}

std::string Seq(int64_t s) { return std::to_string(s); }

}  // namespace

std::string CanonicalEncoding(const AuditEntry& e) {
  json j = {{"seq", e.seq},
            {"timestamp", e.timestamp},
            {"actor", e.actor},
            {"actor_role", e.actor_role},
            {"event_type", e.event_type},
            {"fields", e.fields}};
  return Dump(j);
}

std::string ComputeEntryHash(const AuditEntry& e) {
  return crypto::Sha256Hex(AsBytes(e.prev_hash + CanonicalEncoding(e)));
}

Result<json> NormalizeFields(const json& fields) {
  if (!fields.is_object()) {
    return InvalidArgument("audit fields must be a JSON object");
  }
  // NaN and infinities dump as null; the parse makes that explicit.
  return json::parse(Dump(fields));
}

json EntryToJson(const AuditEntry& e) {
  json j = {{"seq", e.seq},
            {"timestamp", e.timestamp},
            {"actor", e.actor},
            {"actor_role", e.actor_role},
            {"event_type", e.event_type},
            {"fields", e.fields},
            {"prev_hash", e.prev_hash},
            {"hash", e.hash}};
  if (e.fields.is_object()) {
    for (const auto& [key, value] : e.fields.items()) {
      if (!ReservedKeys().count(key)) j[key] = value;
    }
  }
  return j;
}

Result<AuditEntry> EntryFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("entry is not a JSON object");
  AuditEntry e;
  auto seq = IntField(j, "seq");
  if (!seq) return std::unexpected(seq.error());
  e.seq = *seq;
  for (auto [key, out] :
       {std::pair{"timestamp", &e.timestamp}, std::pair{"actor", &e.actor},
        std::pair{"actor_role", &e.actor_role},
        std::pair{"event_type", &e.event_type},
        std::pair{"prev_hash", &e.prev_hash}, std::pair{"hash", &e.hash}}) {
    auto v = StringField(j, key);
    if (!v) return std::unexpected(v.error());
    *out = std::move(*v);
  }
  auto fields = j.find("fields");
  if (fields == j.end() || !fields->is_object()) {
    return InvalidArgument("'fields' is missing or not an object");
  }
  e.fields = *fields;
  for (const auto& [key, value] : j.items()) {
    if (ReservedKeys().count(key)) continue;
    auto f = e.fields.find(key);
    if (f == e.fields.end() || *f != value) {
      return InvalidArgument("top-level '" + key + "' differs from fields." +
                             key);
    }
  }
  return e;
}

std::string CheckpointSigningInput(const AuditCheckpoint& c) {
  json j = {{"coordinator_id", c.coordinator_id},
            {"seq", c.seq},
            {"hash", c.hash},
            {"timestamp", c.timestamp},
            {"reason", c.reason}};
  return "cls-audit-checkpoint-v1\n" + Dump(j);
}

json CheckpointToJson(const AuditCheckpoint& c) {
  return {{"coordinator_id", c.coordinator_id},
          {"seq", c.seq},
          {"hash", c.hash},
          {"timestamp", c.timestamp},
          {"reason", c.reason},
          {"signature", c.signature}};
}

Result<AuditCheckpoint> CheckpointFromJson(const json& j) {
  if (!j.is_object()) return InvalidArgument("checkpoint is not an object");
  AuditCheckpoint c;
  auto seq = IntField(j, "seq");
  if (!seq) return std::unexpected(seq.error());
  c.seq = *seq;
  for (auto [key, out] :
       {std::pair{"coordinator_id", &c.coordinator_id},
        std::pair{"hash", &c.hash}, std::pair{"timestamp", &c.timestamp},
        std::pair{"reason", &c.reason}, std::pair{"signature", &c.signature}}) {
    auto v = StringField(j, key);
    if (!v) return std::unexpected(v.error());
    *out = std::move(*v);
  }
  return c;
}

Result<std::unique_ptr<CheckpointSigner>> CheckpointSigner::LoadKeyFile(
    const std::string& key_file) {
  auto key = crypto::SigningKey::FromPemFile(key_file);
  if (!key) {
    return MakeError(key.error().code, "audit: signing key " + key_file + ": " +
                                           key.error().message);
  }
  return std::unique_ptr<CheckpointSigner>(
      new CheckpointSigner(std::move(*key)));
}

Status CheckpointSigner::Sign(AuditCheckpoint& checkpoint) const {
  auto signature = key_.Sign(AsBytes(CheckpointSigningInput(checkpoint)));
  if (!signature) return Internal("audit: signing the checkpoint failed");
  checkpoint.signature = ToHex(*signature);
  return {};
}

Result<std::unique_ptr<CheckpointVerifier>>
CheckpointVerifier::FromCertificatePem(const std::string& certificate_pem,
                                       const std::string& ca_file) {
  auto certificate = crypto::Certificate::FromPem(certificate_pem);
  if (!certificate) {
    return InvalidArgument(
        "audit: the coordinator certificate is not a PEM certificate");
  }
  if (!ca_file.empty()) {
    auto ca = crypto::CertificateAuthority::FromFiles(
        ca_file, "", crypto::CertificateAuthority::Validity::kIgnored);
    if (!ca) {
      return NotFound("audit: CA certificate " + ca_file + ": " +
                      ca.error().message);
    }
    auto checked = ca->Check(certificate->der());
    if (!checked) {
      return PermissionDenied(
          "audit: the coordinator certificate does not chain to " + ca_file +
          ": " + checked.error().message);
    }
    if (certificate->role() != "coordinator") {
      return PermissionDenied("audit: certificate '" +
                              certificate->common_name() +
                              "' is not a coordinator certificate");
    }
  }
  return std::unique_ptr<CheckpointVerifier>(
      new CheckpointVerifier(std::move(*certificate)));
}

bool CheckpointVerifier::Verify(const AuditCheckpoint& checkpoint) const {
  auto signature = FromHex(checkpoint.signature);
  if (!signature || signature->empty()) return false;
  return certificate_.Verify(AsBytes(CheckpointSigningInput(checkpoint)),
                             *signature);
}

std::string_view ChainProblemKindName(ChainProblemKind kind) {
  switch (kind) {
    case ChainProblemKind::kMalformed:
      return "malformed";
    case ChainProblemKind::kEdited:
      return "edited";
    case ChainProblemKind::kDeleted:
      return "deleted";
    case ChainProblemKind::kInserted:
      return "inserted";
    case ChainProblemKind::kReordered:
      return "reordered";
    case ChainProblemKind::kRewritten:
      return "rewritten";
    case ChainProblemKind::kBadSignature:
      return "bad_signature";
  }
  return "unknown";
}

ChainReport VerifyChain(const std::vector<AuditEntry>& input,
                        const std::vector<AuditCheckpoint>& checkpoints,
                        const VerifyOptions& options) {
  ChainReport r;
  r.entries = static_cast<int64_t>(input.size());

  // 1. Order. The chain is in seq order; anything else was moved.
  for (size_t i = 1; i < input.size(); ++i) {
    if (input[i].seq == input[i - 1].seq) {
      AddProblem(r, ChainProblemKind::kInserted, input[i].seq,
                 "seq " + Seq(input[i].seq) + " appears twice (inserted)");
    } else if (input[i].seq < input[i - 1].seq) {
      AddProblem(r, ChainProblemKind::kReordered, input[i].seq,
                 "entry " + Seq(input[i].seq) + " appears after entry " +
                     Seq(input[i - 1].seq) + " (reordered)");
    }
  }
  std::vector<const AuditEntry*> chain;
  for (const auto& e : input) chain.push_back(&e);
  std::stable_sort(chain.begin(), chain.end(),
                   [](auto* a, auto* b) { return a->seq < b->seq; });
  std::map<std::string, size_t> position_of_hash;
  for (size_t i = 0; i < chain.size(); ++i)
    position_of_hash.emplace(chain[i]->hash, i);

  // Checkpoints whose signature holds (all of them when none is checked).
  std::vector<const AuditCheckpoint*> trusted;
  for (const auto& c : checkpoints) {
    if (options.verifier && !options.verifier->Verify(c)) {
      AddProblem(r, ChainProblemKind::kBadSignature, c.seq,
                 "checkpoint at seq " + Seq(c.seq) + " (" + c.timestamp +
                     ") has an invalid signature");
      continue;
    }
    trusted.push_back(&c);
  }
  if (!options.verifier && !checkpoints.empty()) {
    r.notes.push_back(
        "checkpoint signatures were not checked (no coordinator certificate)");
  }

  // 2. Each entry's own hash, then its link to the one before.
  std::vector<bool> self_ok(chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    const AuditEntry& e = *chain[i];
    self_ok[i] = IsHex64(e.hash) && ComputeEntryHash(e) == e.hash;
    if (!self_ok[i]) {
      // Content moved to another seq (rows swapped) still hashes under the
      // seq it was written with.
      int64_t moved_from = 0;
      for (int64_t t = std::max<int64_t>(1, e.seq - 8); t <= e.seq + 8; ++t) {
        if (t == e.seq) continue;
        AuditEntry copy = e;
        copy.seq = t;
        if (ComputeEntryHash(copy) == e.hash) {
          moved_from = t;
          break;
        }
      }
      if (moved_from) {
        AddProblem(r, ChainProblemKind::kReordered, e.seq,
                   "entry at seq " + Seq(e.seq) + " holds entry " +
                       Seq(moved_from) + " (reordered)");
      } else {
        AddProblem(r, ChainProblemKind::kEdited, e.seq,
                   "entry " + Seq(e.seq) + " (" + e.event_type +
                       ") does not match its hash (edited)");
      }
    }
  }
  for (size_t i = 1; i < chain.size(); ++i) {
    const AuditEntry& e = *chain[i];
    const AuditEntry& prev = *chain[i - 1];
    if (e.seq == prev.seq) continue;  // reported as inserted above
    if (e.prev_hash == prev.hash) {
      if (e.seq > prev.seq + 1) {
        AddProblem(r, ChainProblemKind::kDeleted, prev.seq + 1,
                   "entries " + Seq(prev.seq + 1) + ".." + Seq(e.seq - 1) +
                       " are missing (deleted, later hashes recomputed)");
      }
      continue;
    }
    if (!self_ok[i - 1] || !self_ok[i]) {
      // Already reported; a swapped row also breaks the links around it.
      continue;
    }
    if (i >= 2 && e.prev_hash == chain[i - 2]->hash) {
      AddProblem(r, ChainProblemKind::kInserted, prev.seq,
                 "entry " + Seq(prev.seq) + " (" + prev.event_type +
                     ") is not in the chain: entry " + Seq(e.seq) +
                     " links past it (inserted)");
    } else if (auto it = position_of_hash.find(e.prev_hash);
               it != position_of_hash.end() && it->second > i) {
      AddProblem(r, ChainProblemKind::kReordered, e.seq,
                 "entry " + Seq(e.seq) + " links to the later entry " +
                     Seq(chain[it->second]->seq) + " (reordered)");
    } else if (e.seq > prev.seq + 1) {
      AddProblem(r, ChainProblemKind::kDeleted, prev.seq + 1,
                 "entries " + Seq(prev.seq + 1) + ".." + Seq(e.seq - 1) +
                     " are missing (deleted)");
    } else {
      AddProblem(r, ChainProblemKind::kEdited, prev.seq,
                 "entry " + Seq(prev.seq) + " (" + prev.event_type +
                     ") was changed and its hash recomputed: entry " +
                     Seq(e.seq) + " links to a different hash (edited)");
    }
  }

  // 3. Where the chain starts.
  if (!chain.empty()) {
    const AuditEntry& first = *chain.front();
    r.first_seq = first.seq;
    r.last_seq = chain.back()->seq;
    if (first.seq == 1) {
      if (first.prev_hash != kGenesisHash && self_ok[0]) {
        AddProblem(r, ChainProblemKind::kEdited, 1,
                   "entry 1 does not start from the genesis hash (edited)");
      }
    } else {
      bool anchored = std::any_of(trusted.begin(), trusted.end(), [&](auto* c) {
        return c->seq == first.seq - 1 && c->hash == first.prev_hash;
      });
      if (anchored) {
        r.notes.push_back("the log starts at seq " + Seq(first.seq) +
                          ", after a signed checkpoint (earlier entries "
                          "were pruned)");
      } else if (options.complete) {
        AddProblem(r, ChainProblemKind::kDeleted, 1,
                   "entries 1.." + Seq(first.seq - 1) +
                       " are missing and no signed checkpoint covers the cut "
                       "(deleted)");
      } else {
        r.notes.push_back("this slice starts at seq " + Seq(first.seq) +
                          "; its link to earlier entries was not checked");
      }
    }
  }

  // 4. The chain against the signed checkpoints.
  std::map<int64_t, const AuditEntry*> by_seq;
  for (const auto* e : chain) by_seq.emplace(e->seq, e);
  for (const auto* c : trusted) {
    auto it = by_seq.find(c->seq);
    if (it != by_seq.end()) {
      if (it->second->hash != c->hash) {
        AddProblem(r, ChainProblemKind::kRewritten, c->seq,
                   "entry " + Seq(c->seq) +
                       " differs from the signed checkpoint of " +
                       c->timestamp +
                       ": the log was rewritten at or before "
                       "seq " +
                       Seq(c->seq));
      } else {
        ++r.checkpoints_checked;
        r.last_signed_seq = std::max(r.last_signed_seq, c->seq);
      }
    } else if (options.complete && c->seq > r.last_seq) {
      AddProblem(r, ChainProblemKind::kDeleted, r.last_seq + 1,
                 "a signed checkpoint covers seq " + Seq(c->seq) +
                     " but the log ends at seq " + Seq(r.last_seq) +
                     ": entries " + Seq(r.last_seq + 1) + ".." + Seq(c->seq) +
                     " were deleted");
    }
  }
  if (options.verifier && r.last_seq > r.last_signed_seq && r.entries > 0) {
    r.notes.push_back(
        "entries " + Seq(std::max(r.last_signed_seq + 1, r.first_seq)) + ".." +
        Seq(r.last_seq) + " are not yet covered by a signed checkpoint");
  }
  return r;
}

json ReportToJson(const ChainReport& r) {
  json problems = json::array();
  for (const auto& p : r.problems) {
    problems.push_back({{"kind", ChainProblemKindName(p.kind)},
                        {"seq", p.seq},
                        {"message", p.message}});
  }
  return {{"ok", r.ok()},
          {"entries", r.entries},
          {"first_seq", r.first_seq},
          {"last_seq", r.last_seq},
          {"checkpoints_checked", r.checkpoints_checked},
          {"last_signed_seq", r.last_signed_seq},
          {"problems", problems},
          {"notes", r.notes}};
}

Result<ChainReport> VerifyExport(const json& doc,
                                 const std::vector<AuditCheckpoint>& extra,
                                 const CheckpointVerifier* verifier) {
  if (!doc.is_object() || doc.value("format", "") != kExportFormat ||
      !doc.contains("entries") || !doc["entries"].is_array()) {
    return InvalidArgument("not an audit export (expected \"format\": \"" +
                           std::string(kExportFormat) +
                           "\" and an \"entries\" list)");
  }
  std::vector<ChainProblem> unreadable;
  std::vector<AuditEntry> entries;
  int64_t index = 0;
  for (const auto& j : doc["entries"]) {
    ++index;
    auto e = EntryFromJson(j);
    if (e) {
      entries.push_back(std::move(*e));
      continue;
    }
    int64_t seq =
        j.is_object() && j.contains("seq") && j["seq"].is_number_integer()
            ? j["seq"].get<int64_t>()
            : 0;
    bool edited = e.error().message.starts_with("top-level");
    if (edited) {
      // The chain itself may be intact: keep checking it from `fields`.
      json chain_only = json::object();
      for (const auto& [key, value] : j.items()) {
        if (ReservedKeys().count(key)) chain_only[key] = value;
      }
      if (auto inner = EntryFromJson(chain_only)) {
        entries.push_back(std::move(*inner));
      }
    }
    unreadable.push_back(
        {edited ? ChainProblemKind::kEdited : ChainProblemKind::kMalformed, seq,
         "entry " + (seq ? Seq(seq) : "#" + Seq(index)) + ": " +
             e.error().message + (edited ? " (edited)" : "")});
  }
  std::vector<AuditCheckpoint> checkpoints = extra;
  if (doc.contains("checkpoints") && doc["checkpoints"].is_array()) {
    for (const auto& j : doc["checkpoints"]) {
      auto c = CheckpointFromJson(j);
      if (!c) {
        unreadable.push_back({ChainProblemKind::kMalformed, 0,
                              "checkpoint: " + c.error().message});
        continue;
      }
      checkpoints.push_back(std::move(*c));
    }
  }
  VerifyOptions options;
  options.complete = doc.value("complete", false);
  options.verifier = verifier;
  ChainReport report = VerifyChain(entries, checkpoints, options);
  report.entries = static_cast<int64_t>(doc["entries"].size());
  report.problems.insert(report.problems.begin(), unreadable.begin(),
                         unreadable.end());
  return report;
}

Result<std::string> NormalizeTimestamp(std::string_view text) {
  std::string t(text);
  if (t.size() == 10) t += "T00:00:00Z";
  if (t.size() == 19) t += "Z";
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:ddZ";
  bool ok = t.size() == kShape.size();
  for (size_t i = 0; ok && i < t.size(); ++i) {
    ok = kShape[i] == 'd' ? std::isdigit(static_cast<unsigned char>(t[i]))
                          : t[i] == kShape[i];
  }
  if (ok) {
    int month = std::stoi(t.substr(5, 2)), day = std::stoi(t.substr(8, 2));
    int hour = std::stoi(t.substr(11, 2)), minute = std::stoi(t.substr(14, 2));
    int second = std::stoi(t.substr(17, 2));
    ok = month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour < 24 &&
         minute < 60 && second <= 60;
  }
  if (!ok) {
    return InvalidArgument("'" + std::string(text) +
                           "' is not a UTC time: use 2026-11-27 or "
                           "2026-11-27T05:16:42Z");
  }
  return t;
}

}  // namespace cls::audit
