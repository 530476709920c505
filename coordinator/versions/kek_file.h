#ifndef CLS_COORDINATOR_VERSIONS_KEK_FILE_H_
#define CLS_COORDINATOR_VERSIONS_KEK_FILE_H_

#include <optional>
#include <string>

#include "common/durable_file.h"
#include "common/error.h"
#include "coordinator/storage/model_vault.h"

namespace cls::coordinator {

// The environment variable that, when set, holds the key-encryption key as
// 64 hex digits and takes precedence over [versions] kek_file.
inline constexpr const char* kKekEnvironmentVariable = "CLS_MODEL_KEK";

// Reads a KEK file (64 hex digits). NotFound if it does not exist;
// PermissionDenied if group or others have any access to it (the key would
// be readable beyond the coordinator's account); InvalidArgument if the
// content is not a key (never quoted).
Result<KeyEncryptionKey> ReadKekFile(const std::string& path);

// Creates `path` with mode 0600 (refusing to replace an existing file,
// kAlreadyExists), writing the key durably (common/durable_file.h: the
// file and its folder fsynced) so it is on disk before anything is
// encrypted under it.
Status WriteKekFile(const std::string& path, const KeyEncryptionKey& kek);

// The KEK from the environment variable, nullopt if it is unset or empty.
Result<std::optional<KeyEncryptionKey>> KekFromEnvironment(
    const char* variable = kKekEnvironmentVariable);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_VERSIONS_KEK_FILE_H_
