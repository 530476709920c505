#include "crypto/hkdf.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <string>
#include <utility>

#include "crypto/openssl_ptr.h"

namespace cls::crypto {
namespace {

using internal::EvpKdfCtxPtr;
using internal::EvpKdfPtr;

constexpr size_t kSha256Bytes = 32;
// RFC 5869: L <= 255 * HashLen.
constexpr size_t kMaxOutputBytes = 255 * kSha256Bytes;

// Fetched once: a provider lookup per call would dominate short derivations.
EVP_KDF* HkdfAlgorithm() {
  static const EvpKdfPtr kdf(
      EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr));
  return kdf.get();
}

// OSSL_PARAM takes non-const pointers even for inputs it only reads.
OSSL_PARAM OctetParam(const char* name, ByteSpan data) {
  return OSSL_PARAM_construct_octet_string(
      name, const_cast<uint8_t*>(data.data()), data.size());
}

}  // namespace

Result<Bytes> HkdfSha256(ByteSpan input_key, ByteSpan salt, ByteSpan info,
                         size_t length) {
  if (input_key.empty()) return InvalidArgument("hkdf: empty input key");
  if (length == 0 || length > kMaxOutputBytes) {
    return InvalidArgument("hkdf: output length " + std::to_string(length) +
                           " not in 1.." + std::to_string(kMaxOutputBytes));
  }
  EVP_KDF* kdf = HkdfAlgorithm();
  if (kdf == nullptr) return Internal("hkdf: HKDF not available");
  EvpKdfCtxPtr ctx(EVP_KDF_CTX_new(kdf));
  if (ctx == nullptr) return Internal("hkdf: cannot create context");

  char digest[] = "SHA256";
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[n++] = OctetParam(OSSL_KDF_PARAM_KEY, input_key);
  // An absent salt is the RFC's HashLen zero bytes; OpenSSL applies that when
  // the parameter is left out.
  if (!salt.empty()) params[n++] = OctetParam(OSSL_KDF_PARAM_SALT, salt);
  if (!info.empty()) params[n++] = OctetParam(OSSL_KDF_PARAM_INFO, info);
  params[n] = OSSL_PARAM_construct_end();

  Bytes out(length);
  if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
    OPENSSL_cleanse(out.data(), out.size());
    return Internal("hkdf: derivation failed");
  }
  return out;
}

Result<Key32> DeriveKey32(ByteSpan input_key, ByteSpan salt,
                          std::string_view info) {
  auto derived = HkdfSha256(input_key, salt, AsBytes(info), Key32{}.size());
  if (!derived) return std::unexpected(std::move(derived.error()));
  Key32 key;
  std::copy(derived->begin(), derived->end(), key.begin());
  OPENSSL_cleanse(derived->data(), derived->size());
  return key;
}

}  // namespace cls::crypto
