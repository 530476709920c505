#include "coordinator/versions/model_keys.h"

#include <algorithm>
#include <filesystem>

#include "coordinator/versions/kek_file.h"

namespace cls::coordinator {
namespace {

// The KEK ids of encrypted artifacts, without "" (plaintext rows).
Result<std::vector<std::string>> EncryptedKekIds(CoordinatorStore& store) {
  auto ids = store.ModelKekIds();
  if (!ids) return std::unexpected(ids.error());
  std::erase(*ids, std::string());
  return ids;
}

bool OnlyId(const std::vector<std::string>& ids, const std::string& id) {
  return std::all_of(ids.begin(), ids.end(),
                     [&](const std::string& x) { return x == id; });
}

void Note(std::vector<std::string>* notes, std::string note) {
  if (notes != nullptr) notes->push_back(std::move(note));
}

// A `.new` file left by a rotation that stopped before its rename: the
// database says which key is in force.
Status ResolvePendingRotation(const std::string& kek_file,
                              const std::vector<std::string>& ids,
                              std::vector<std::string>* notes) {
  const std::string pending = PendingKekFile(kek_file);
  auto next = ReadKekFile(pending);
  if (!next && next.error().code == ErrorCode::kNotFound) return {};
  if (!next) return std::unexpected(next.error());
  if (OnlyId(ids, next->id)) {
    if (auto s = RenameDurably(pending, kek_file); !s) return s;
    Note(notes, "completed an interrupted key rotation: " + kek_file +
                    " now holds " + next->id);
    return {};
  }
  auto current = ReadKekFile(kek_file);
  if (!current) return std::unexpected(current.error());
  if (OnlyId(ids, current->id)) {
    if (auto s = RemoveDurably(pending); !s) return s;
    Note(notes, "discarded an interrupted key rotation to " + next->id +
                    "; artifacts stay under " + current->id);
    return {};
  }
  return FailedPrecondition("model artifacts are wrapped by neither " +
                            current->id + " (" + kek_file + ") nor " +
                            next->id + " (" + pending + ")");
}

}  // namespace

std::string PendingKekFile(const std::string& kek_file) {
  return kek_file + ".new";
}

Result<std::unique_ptr<ModelKeys>> ModelKeys::Open(
    const VersionsConfig& config, CoordinatorStore& store,
    std::vector<std::string>* notes) {
  auto env = KekFromEnvironment();
  if (!env) return std::unexpected(env.error());
  auto ids = EncryptedKekIds(store);
  if (!ids) return std::unexpected(ids.error());

  KeyEncryptionKey kek;
  if (*env) {
    kek = std::move(**env);
    Note(notes, std::string("key-encryption key ") + kek.id + " from " +
                    kKekEnvironmentVariable);
  } else {
    if (auto s = ResolvePendingRotation(config.kek_file, *ids, notes); !s) {
      return std::unexpected(s.error());
    }
    auto loaded = ReadKekFile(config.kek_file);
    if (!loaded && loaded.error().code == ErrorCode::kNotFound) {
      // Creating a key is safe only when nothing is encrypted yet: a fresh
      // key could never open what an earlier one sealed.
      if (!ids->empty()) {
        return FailedPrecondition(
            "model artifacts are wrapped by key-encryption key " +
            ids->front() + " but " + config.kek_file +
            " is missing: restore it from backup (or set " +
            kKekEnvironmentVariable + ")");
      }
      KeyEncryptionKey fresh = GenerateKek();
      if (auto s = WriteKekFile(config.kek_file, fresh); !s) {
        return std::unexpected(s.error());
      }
      Note(notes, "created key-encryption key " + fresh.id + " in " +
                      config.kek_file + " (mode 0600): back it up");
      loaded = std::move(fresh);
    }
    if (!loaded) return std::unexpected(loaded.error());
    kek = std::move(*loaded);
  }
  auto encrypted = store.AttachVault(std::make_shared<const ModelVault>(kek));
  if (!encrypted) return std::unexpected(encrypted.error());
  if (*encrypted > 0) {
    Note(notes, "encrypted " + std::to_string(*encrypted) +
                    " plaintext model artifacts under " + kek.id);
  }
  return std::unique_ptr<ModelKeys>(
      new ModelKeys(config, store, env->has_value()));
}

const std::string& ModelKeys::kek_id() const {
  return store_.vault()->kek_id();
}

Result<KekRotation> ModelKeys::Rotate(const std::string& new_key_file) {
  KekRotation out;
  out.old_kek_id = kek_id();
  out.source = source();
  if (from_environment_ && new_key_file.empty()) {
    return FailedPrecondition(
        std::string("the key-encryption key comes from ") +
        kKekEnvironmentVariable +
        ", which the coordinator cannot rewrite: put the new key (64 hex "
        "digits, mode 0600) in a file on the coordinator host and pass "
        "--new-key-file PATH");
  }
  KeyEncryptionKey next;
  if (!new_key_file.empty()) {
    if (!std::filesystem::path(new_key_file).is_absolute()) {
      return InvalidArgument(
          "--new-key-file must be an absolute path on the "
          "coordinator host");
    }
    auto read = ReadKekFile(new_key_file);
    if (!read) return std::unexpected(read.error());
    next = std::move(*read);
  } else {
    next = GenerateKek();
  }
  if (next.id == out.old_kek_id) {
    return InvalidArgument("the new key-encryption key is the current one (" +
                           next.id + ")");
  }
  out.new_kek_id = next.id;

  if (from_environment_) {
    auto n = store_.RewrapModelKeys(next);
    if (!n) return std::unexpected(n.error());
    out.artifacts = *n;
    out.note = std::string("set ") + kKekEnvironmentVariable +
               " to the key in " + new_key_file +
               " before the coordinator next starts";
    return out;
  }

  const std::string pending = PendingKekFile(config_.kek_file);
  // A `.new` left by a rotation whose rename failed while running names the
  // key in force (finish it); any other is stale (drop it).
  if (auto stale = ReadKekFile(pending); stale) {
    Status s = stale->id == out.old_kek_id
                   ? RenameDurably(pending, config_.kek_file)
                   : RemoveDurably(pending);
    if (!s) return std::unexpected(s.error());
  } else if (stale.error().code != ErrorCode::kNotFound) {
    if (auto s = RemoveDurably(pending); !s) return std::unexpected(s.error());
  }
  if (auto s = WriteKekFile(pending, next); !s) {
    return std::unexpected(s.error());
  }
  auto n = store_.RewrapModelKeys(next);
  if (!n) {
    // Nothing was re-wrapped: the old key stays in force.
    (void)RemoveDurably(pending);
    return std::unexpected(n.error());
  }
  out.artifacts = *n;
  if (auto s = RenameDurably(pending, config_.kek_file); !s) {
    return Unavailable("artifacts re-wrapped under " + next.id + " but " +
                       s.error().message +
                       "; the coordinator completes the rename at its next "
                       "start");
  }
  return out;
}

}  // namespace cls::coordinator
