#ifndef CLS_COORDINATOR_VERSIONS_MODEL_KEYS_H_
#define CLS_COORDINATOR_VERSIONS_MODEL_KEYS_H_

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "coordinator/config.h"
#include "coordinator/storage/store.h"

namespace cls::coordinator {

struct KekRotation {
  std::string old_kek_id;
  std::string new_kek_id;
  int64_t artifacts = 0;
  std::string source;  // "file" | "environment"
  std::string note;    // what the operator must do next, if anything
};

// The coordinator's key-encryption key for model artifacts: where it comes
// from ([versions] kek_file, or CLS_MODEL_KEK), loading it into the store at
// start, and rotating it while the coordinator runs.
//
// Rotation with a KEK file is crash-safe in three durable steps:
//   1. the new key is written to `<kek_file>.new` (0600, fsync);
//   2. every data key is re-wrapped in one SQLite transaction, which records
//      the new KEK id in each row;
//   3. `<kek_file>.new` is renamed over `<kek_file>` (fsync of the folder).
// At start, a leftover `.new` file is resolved by the KEK ids in the
// database: if the rows name the new key the rename is completed, if they
// name the old one the file is discarded. Either way every artifact opens.
//
// Thread-compatible: the coordinator's io thread. Borrows the store.
class ModelKeys {
 public:
  // Loads (or, with a file and no encrypted artifacts yet, creates) the KEK,
  // finishes or discards a half-done rotation, and attaches the vault to the
  // store, which encrypts any plaintext artifact. `notes` receives what was
  // done, for the log (never key material).
  static Result<std::unique_ptr<ModelKeys>> Open(
      const VersionsConfig& config, CoordinatorStore& store,
      std::vector<std::string>* notes = nullptr);

  // Re-wraps every artifact's data key under a new KEK: a fresh random one
  // written to the KEK file, or the one in `new_key_file` (a 0600 file on
  // the coordinator's host). With CLS_MODEL_KEK, `new_key_file` is required
  // (the environment cannot be rewritten) and the operator sets the variable
  // to the new key before the next start. The artifacts stay readable
  // throughout; on error nothing changes (or a restart completes step 3).
  Result<KekRotation> Rotate(const std::string& new_key_file);

  const std::string& kek_id() const;
  // "file" or "environment".
  const char* source() const {
    return from_environment_ ? "environment" : "file";
  }
  const std::string& kek_file() const { return config_.kek_file; }

 private:
  ModelKeys(VersionsConfig config, CoordinatorStore& store, bool env)
      : config_(std::move(config)), store_(store), from_environment_(env) {}

  VersionsConfig config_;
  CoordinatorStore& store_;
  bool from_environment_;
};

// "<kek_file>.new"
std::string PendingKekFile(const std::string& kek_file);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_VERSIONS_MODEL_KEYS_H_
