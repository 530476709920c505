#include "coordinator/storage/model_vault.h"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "crypto/aead.h"
#include "crypto/random.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

constexpr std::string_view kKekIdLabel = "cls model kek id v1";
constexpr std::string_view kArtifactLabel = "cls model artifact v1";
constexpr std::string_view kDataKeyLabel = "cls model data key v1";

void AppendField(Bytes& out, std::string_view field) {
  // Length-prefixed, so no two different bindings encode alike.
  const uint32_t n = static_cast<uint32_t>(field.size());
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<uint8_t>(n >> shift));
  }
  out.insert(out.end(), field.begin(), field.end());
}

// Distinct labels keep a wrapped key from ever opening as an artifact and
// the reverse.
Bytes AssociatedData(std::string_view label, const ArtifactBinding& b) {
  Bytes out;
  AppendField(out, label);
  AppendField(out, b.version_id);
  AppendField(out, b.parameter_hash);
  AppendField(out, b.model_type);
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

KeyEncryptionKey MakeKek(const Key32& key) {
  Bytes material(kKekIdLabel.begin(), kKekIdLabel.end());
  material.insert(material.end(), key.begin(), key.end());
  return KeyEncryptionKey{key,
                          "kek-" + crypto::Sha256Hex(material).substr(0, 16)};
}

KeyEncryptionKey GenerateKek() { return MakeKek(crypto::RandomKey32()); }

Result<KeyEncryptionKey> ParseKekHex(std::string_view text) {
  while (!text.empty() &&
         std::isspace(static_cast<unsigned char>(text.front())))
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.remove_suffix(1);
  Key32 key{};
  if (text.size() != key.size() * 2) {
    return InvalidArgument("key-encryption key: expected 64 hex digits, got " +
                           std::to_string(text.size()) + " characters");
  }
  for (size_t i = 0; i < key.size(); ++i) {
    const int hi = HexValue(text[2 * i]), lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return InvalidArgument("key-encryption key: not hexadecimal");
    }
    key[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return MakeKek(key);
}

std::string KekHex(const KeyEncryptionKey& kek) { return ToHex(kek.key); }

Result<SealedArtifact> ModelVault::Seal(const ArtifactBinding& binding,
                                        ByteSpan plaintext) const {
  Key32 data_key = crypto::RandomKey32();
  auto ciphertext = crypto::AesGcmSeal(data_key, plaintext,
                                       AssociatedData(kArtifactLabel, binding));
  auto wrapped = crypto::AesGcmSeal(kek_.key, data_key,
                                    AssociatedData(kDataKeyLabel, binding));
  std::fill(data_key.begin(), data_key.end(), 0);
  if (!ciphertext) return std::unexpected(ciphertext.error());
  if (!wrapped) return std::unexpected(wrapped.error());
  return SealedArtifact{std::move(*ciphertext), std::move(*wrapped), kek_.id};
}

Result<Key32> ModelVault::Unwrap(const ArtifactBinding& binding,
                                 const SealedArtifact& sealed) const {
  if (sealed.kek_id != kek_.id) {
    return PermissionDenied("model " + binding.version_id +
                            ": its data key is wrapped by " + sealed.kek_id +
                            ", not by the configured key-encryption key " +
                            kek_.id);
  }
  auto key = crypto::AesGcmOpen(kek_.key, sealed.wrapped_key,
                                AssociatedData(kDataKeyLabel, binding));
  if (!key || key->size() != Key32{}.size()) {
    return DataLoss("model " + binding.version_id +
                    ": wrapped data key does not authenticate (edited, "
                    "moved from another version, or a wrong key-encryption "
                    "key)");
  }
  Key32 out;
  std::memcpy(out.data(), key->data(), out.size());
  std::fill(key->begin(), key->end(), 0);
  return out;
}

Result<Bytes> ModelVault::Open(const ArtifactBinding& binding,
                               const SealedArtifact& sealed) const {
  auto data_key = Unwrap(binding, sealed);
  if (!data_key) return std::unexpected(data_key.error());
  auto plaintext = crypto::AesGcmOpen(*data_key, sealed.ciphertext,
                                      AssociatedData(kArtifactLabel, binding));
  std::fill(data_key->begin(), data_key->end(), 0);
  if (!plaintext) {
    return DataLoss("model " + binding.version_id +
                    ": artifact does not authenticate (edited or moved from "
                    "another version)");
  }
  return plaintext;
}

Result<SealedArtifact> ModelVault::Rewrap(const ArtifactBinding& binding,
                                          const SealedArtifact& sealed,
                                          const KeyEncryptionKey& to) const {
  auto data_key = Unwrap(binding, sealed);
  if (!data_key) return std::unexpected(data_key.error());
  auto wrapped = crypto::AesGcmSeal(to.key, *data_key,
                                    AssociatedData(kDataKeyLabel, binding));
  std::fill(data_key->begin(), data_key->end(), 0);
  if (!wrapped) return std::unexpected(wrapped.error());
  return SealedArtifact{sealed.ciphertext, std::move(*wrapped), to.id};
}

}  // namespace cls::coordinator
