#ifndef CLS_SITE_AGENT_AUDIT_CHECKPOINT_STORE_H_
#define CLS_SITE_AGENT_AUDIT_CHECKPOINT_STORE_H_

#include <filesystem>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cls::site {

// The site's copy of the coordinator's latest signed audit checkpoint
// (docs/audit.md): data_dir/audit_checkpoint.json, replaced atomically. A
// copy the coordinator cannot reach is what exposes a rewrite of its whole
// database: `clsctl audit verify --checkpoint FILE` checks the live log
// against it.
inline constexpr std::string_view kAuditCheckpointFile =
    "audit_checkpoint.json";

enum class CheckpointVerdict {
  kStored,    // newer than the kept one (or the first): kept
  kSame,      // the one already kept
  kWentBack,  // an older seq, or the same seq with another hash: refused
};

// Keeps `checkpoint_json` if it is newer than the stored one. The signature
// is not checked here (the site has no use for the verdict beyond keeping
// the evidence); InvalidArgument on JSON without seq and hash.
Result<CheckpointVerdict> KeepLatestCheckpoint(
    const std::filesystem::path& data_dir, const std::string& checkpoint_json);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_AUDIT_CHECKPOINT_STORE_H_
