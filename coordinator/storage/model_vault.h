#ifndef CLS_COORDINATOR_STORAGE_MODEL_VAULT_H_
#define CLS_COORDINATOR_STORAGE_MODEL_VAULT_H_

#include <string>

#include "common/bytes.h"
#include "common/error.h"

namespace cls::coordinator {

// A key-encryption key (KEK) and its public fingerprint. The id is stored
// beside every artifact, so a row tells which KEK wraps its data key without
// revealing anything about the key.
struct KeyEncryptionKey {
  Key32 key{};
  std::string id;  // "kek-" + first 16 hex digits of SHA-256(label || key)
};

KeyEncryptionKey MakeKek(const Key32& key);
// A fresh random KEK (OpenSSL's RAND_bytes).
KeyEncryptionKey GenerateKek();
// 64 hex digits, surrounding whitespace ignored; InvalidArgument otherwise
// (the message never quotes the input).
Result<KeyEncryptionKey> ParseKekHex(std::string_view text);
std::string KekHex(const KeyEncryptionKey& kek);

// What an artifact is bound to: authenticated as associated data of both the
// artifact and its wrapped data key, so a ciphertext or wrapped key moved to
// another row, or a row whose id, hash or type was edited, fails to open.
struct ArtifactBinding {
  std::string version_id;
  std::string parameter_hash;  // SHA-256 hex of the plaintext
  std::string model_type;
};

// An artifact as stored: AES-256-GCM under its own random data key
// (nonce || ciphertext || tag), and that data key sealed by the KEK.
struct SealedArtifact {
  Bytes ciphertext;
  Bytes wrapped_key;
  std::string kek_id;
};

// Envelope encryption of model artifacts at rest. Holds one KEK in memory;
// no I/O. Thread-compatible.
class ModelVault {
 public:
  explicit ModelVault(KeyEncryptionKey kek) : kek_(std::move(kek)) {}

  Result<SealedArtifact> Seal(const ArtifactBinding& binding,
                              ByteSpan plaintext) const;
  // PermissionDenied when the artifact names another KEK; DataLoss when the
  // wrapped key or the ciphertext does not authenticate under this KEK and
  // binding (edited bytes, a swapped row, or a KEK with a forged id).
  Result<Bytes> Open(const ArtifactBinding& binding,
                     const SealedArtifact& sealed) const;
  // The artifact's data key re-sealed under `to`; the ciphertext is
  // unchanged. Errors as Open.
  Result<SealedArtifact> Rewrap(const ArtifactBinding& binding,
                                const SealedArtifact& sealed,
                                const KeyEncryptionKey& to) const;

  const std::string& kek_id() const { return kek_.id; }

 private:
  Result<Key32> Unwrap(const ArtifactBinding& binding,
                       const SealedArtifact& sealed) const;
  KeyEncryptionKey kek_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STORAGE_MODEL_VAULT_H_
