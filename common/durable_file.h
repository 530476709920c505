#ifndef CLS_COMMON_DURABLE_FILE_H_
#define CLS_COMMON_DURABLE_FILE_H_

#include <sys/types.h>

#include <filesystem>

#include "common/bytes.h"
#include "common/error.h"

namespace cls {

// The system calls a durable write depends on for its ordering. Tests replace
// one to inject a fault (leveldb's Env seam); everything else uses the
// defaults.
struct FileSystemCalls {
  int (*rename)(const char* from, const char* to) = nullptr;  // ::rename
  int (*fsync)(int fd) = nullptr;                             // ::fsync
};

struct DurableWriteOptions {
  // The file's mode, set explicitly (not left to the umask).
  mode_t mode = 0600;
  // false: an existing file is never replaced (kAlreadyExists), e.g. a
  // key-encryption key that data may already be encrypted under.
  bool replace = true;
  // Create missing folders (mode 0700) on the way to the file.
  bool create_folders = false;
  const FileSystemCalls* calls = nullptr;  // tests only
};

// Writes `data` to `path` so that a crash at any moment leaves either the old
// file (or none) or the complete new one, never a torn mix: the data goes to
// `<path>.tmp`, which is fsynced, then renamed over `path` (linked, when
// `replace` is false), then the folder is fsynced so the new name is on disk.
// On failure the temporary file is removed and `path` is as it was.
// Unavailable naming the step and the file; never quotes the data.
Status WriteFileDurably(const std::filesystem::path& path, ByteSpan data,
                        const DurableWriteOptions& options = {});

// rename(2) then fsync of the target's folder: atomic and durable.
Status RenameDurably(const std::filesystem::path& from,
                     const std::filesystem::path& to);

// unlink(2) then fsync of the folder; a missing file is not an error.
Status RemoveDurably(const std::filesystem::path& path);

// fsync of the folder holding `path`, making a create, rename or unlink there
// durable.
Status SyncFolderOf(const std::filesystem::path& path);

}  // namespace cls

#endif  // CLS_COMMON_DURABLE_FILE_H_
