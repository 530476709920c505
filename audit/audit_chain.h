#ifndef CLS_AUDIT_AUDIT_CHAIN_H_
#define CLS_AUDIT_AUDIT_CHAIN_H_

// The audit log's hash chain and signed checkpoints, with no daemon
// dependencies: the coordinator writes with it, and clsctl verifies an export
// with it, offline, recomputing everything independently (docs/audit.md).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "crypto/signature.h"

namespace cls::audit {

// prev_hash of the first entry ever written.
inline const std::string kGenesisHash(64, '0');

// One audit entry. `hash` = SHA-256(prev_hash || CanonicalEncoding(entry)),
// lower-case hex.
struct AuditEntry {
  int64_t seq = 0;        // 1, 2, 3, ... with no gaps
  std::string timestamp;  // ISO 8601 UTC, "2026-11-27T05:16:42Z"
  std::string actor;      // certificate CN, or "coordinator" for the daemon
  std::string actor_role;
  std::string event_type;
  nlohmann::json fields = nlohmann::json::object();
  std::string prev_hash;
  std::string hash;
};

// JSON of {seq, timestamp, actor, actor_role, event_type, fields} with keys
// in byte order at every level, no whitespace, non-ASCII escaped as \uXXXX,
// integers in decimal and doubles in their shortest round-trip form.
std::string CanonicalEncoding(const AuditEntry& entry);
std::string ComputeEntryHash(const AuditEntry& entry);

// Makes `fields` an object whose encoding survives a JSON round trip
// unchanged (invalid UTF-8 replaced), so a verifier that parses the export
// recomputes the same bytes. InvalidArgument if it is not an object.
Result<nlohmann::json> NormalizeFields(const nlohmann::json& fields);

// The export shape: the original guide's entry (`event_type`, `timestamp`,
// and each field such as `version_id`, `accuracy`, `strategy` at the top
// level) plus the chain fields (`seq`, `actor`, `actor_role`, `fields`,
// `prev_hash`, `hash`). Field names that collide with those stay only in
// `fields`.
nlohmann::json EntryToJson(const AuditEntry& entry);
// Reads an exported entry; the copies of fields at the top level must equal
// `fields` (an edit to either is an edit). InvalidArgument names the problem.
Result<AuditEntry> EntryFromJson(const nlohmann::json& json);

// The head of the chain at one moment, signed by the coordinator's TLS key.
struct AuditCheckpoint {
  std::string coordinator_id;
  int64_t seq = 0;        // the last entry covered
  std::string hash;       // that entry's hash
  std::string timestamp;  // when the checkpoint was made
  std::string reason;     // "every 100 entries", "round completed", "prune"
  std::string signature;  // hex DER ECDSA (or RSA) signature, SHA-256
};

// The bytes that are signed: "cls-audit-checkpoint-v1\n" followed by the
// canonical JSON of every field but the signature.
std::string CheckpointSigningInput(const AuditCheckpoint& checkpoint);
nlohmann::json CheckpointToJson(const AuditCheckpoint& checkpoint);
Result<AuditCheckpoint> CheckpointFromJson(const nlohmann::json& json);

// Signs checkpoints with a PEM private key (the coordinator's TLS key: EC
// P-256, so ECDSA with SHA-256). Immutable after Load: thread-safe.
class CheckpointSigner {
 public:
  static Result<std::unique_ptr<CheckpointSigner>> LoadKeyFile(
      const std::string& key_file);
  // Fills checkpoint.signature.
  Status Sign(AuditCheckpoint& checkpoint) const;

 private:
  explicit CheckpointSigner(crypto::SigningKey key) : key_(std::move(key)) {}
  crypto::SigningKey key_;
};

// Checks checkpoint signatures against the coordinator's certificate.
// Immutable: thread-safe.
class CheckpointVerifier {
 public:
  // `certificate_pem`: the coordinator's certificate. With a CA file, the
  // certificate must chain to it (crypto::CertificateAuthority; its validity
  // period is not checked, so old checkpoints stay verifiable after it
  // expired) and carry the role (OU) "coordinator"; otherwise the caller
  // vouches for it.
  static Result<std::unique_ptr<CheckpointVerifier>> FromCertificatePem(
      const std::string& certificate_pem, const std::string& ca_file);
  bool Verify(const AuditCheckpoint& checkpoint) const;
  // The certificate's subject CN.
  const std::string& subject() const { return certificate_.common_name(); }

 private:
  explicit CheckpointVerifier(crypto::Certificate certificate)
      : certificate_(std::move(certificate)) {}
  crypto::Certificate certificate_;
};

// What a verification found. `seq` is the entry the problem is at.
enum class ChainProblemKind {
  kMalformed,     // an entry or checkpoint that cannot be read
  kEdited,        // content no longer matches its hash
  kDeleted,       // entries missing (gap, head cut without a checkpoint)
  kInserted,      // an entry the chain does not link through
  kReordered,     // entries out of their chain order
  kRewritten,     // a consistent chain that disagrees with a signed checkpoint
  kBadSignature,  // a checkpoint whose signature does not verify
};
std::string_view ChainProblemKindName(ChainProblemKind kind);

struct ChainProblem {
  ChainProblemKind kind;
  int64_t seq = 0;
  std::string message;
};

struct ChainReport {
  int64_t entries = 0;
  int64_t first_seq = 0;
  int64_t last_seq = 0;
  int checkpoints_checked = 0;  // signature valid and matched an entry
  int64_t last_signed_seq = 0;  // highest seq covered by a valid checkpoint
  std::vector<ChainProblem> problems;
  std::vector<std::string> notes;  // not failures: what could not be checked
  bool ok() const { return problems.empty(); }
};

struct VerifyOptions {
  // A whole log (not a --since/--until slice): the first entry must be the
  // genesis entry or sit right after a signed checkpoint (a prune cut), and
  // a checkpoint beyond the last entry means the tail was deleted.
  bool complete = true;
  // Null: signatures are not checked (and checkpoints are not trusted).
  const CheckpointVerifier* verifier = nullptr;
};

// Recomputes every hash and link, and compares the chain with the signed
// checkpoints. Entries are taken in the given order (as exported).
ChainReport VerifyChain(const std::vector<AuditEntry>& entries,
                        const std::vector<AuditCheckpoint>& checkpoints,
                        const VerifyOptions& options);
nlohmann::json ReportToJson(const ChainReport& report);

// An export document (GET /v1/audit, `clsctl audit export`):
//   {"format": "cls-audit-export-v1", "coordinator_id", "exported_at",
//    "since", "until", "complete", "coordinator_certificate",
//    "entries": [...], "checkpoints": [...]}
inline constexpr std::string_view kExportFormat = "cls-audit-export-v1";

// Verifies an export: entries that cannot be read (or whose top-level copies
// of fields disagree with `fields`) are problems at their seq; `extra`
// checkpoints (kept by the sites, or saved earlier) are checked along with
// the export's own. InvalidArgument if `doc` is not an export at all.
Result<ChainReport> VerifyExport(const nlohmann::json& doc,
                                 const std::vector<AuditCheckpoint>& extra,
                                 const CheckpointVerifier* verifier);

// "2026-11-27" or "2026-11-27T05:16:42Z" (also without the Z) -> the
// canonical "2026-11-27T05:16:42Z" form used by entries; InvalidArgument
// otherwise.
Result<std::string> NormalizeTimestamp(std::string_view text);

}  // namespace cls::audit

#endif  // CLS_AUDIT_AUDIT_CHAIN_H_
