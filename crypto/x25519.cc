#include "crypto/x25519.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "crypto/openssl_ptr.h"

namespace cls::crypto {
namespace {

using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;

Result<X25519KeyPair> ExtractKeyPair(EVP_PKEY* pkey) {
  X25519KeyPair pair;
  size_t private_length = pair.private_key.size();
  size_t public_length = pair.public_key.size();
  if (EVP_PKEY_get_raw_private_key(pkey, pair.private_key.data(),
                                   &private_length) != 1 ||
      EVP_PKEY_get_raw_public_key(pkey, pair.public_key.data(),
                                  &public_length) != 1 ||
      private_length != pair.private_key.size() ||
      public_length != pair.public_key.size()) {
    OPENSSL_cleanse(pair.private_key.data(), pair.private_key.size());
    return Internal("x25519: cannot export raw keys");
  }
  return pair;
}

}  // namespace

Result<X25519KeyPair> GenerateX25519KeyPair() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_X25519, nullptr));
  EVP_PKEY* raw = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &raw) != 1) {
    return Internal("x25519: key generation failed");
  }
  EvpPkeyPtr pkey(raw);
  return ExtractKeyPair(pkey.get());
}

Result<X25519KeyPair> X25519KeyPairFromPrivate(const Key32& private_key) {
  EvpPkeyPtr pkey(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()));
  if (pkey == nullptr) return Internal("x25519: cannot load private key");
  return ExtractKeyPair(pkey.get());
}

Result<Key32> X25519SharedSecret(const Key32& private_key,
                                 const Key32& peer_public_key) {
  EvpPkeyPtr own(EVP_PKEY_new_raw_private_key(
      EVP_PKEY_X25519, nullptr, private_key.data(), private_key.size()));
  EvpPkeyPtr peer(EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr,
                                              peer_public_key.data(),
                                              peer_public_key.size()));
  if (own == nullptr || peer == nullptr) {
    return Internal("x25519: cannot load keys");
  }
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new(own.get(), nullptr));
  if (ctx == nullptr || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1) {
    return Internal("x25519: cannot set up key agreement");
  }
  Key32 secret;
  size_t length = secret.size();
  // OpenSSL itself refuses an all-zero result, so with valid 32-byte keys a
  // failing derive means a low-order peer key.
  if (EVP_PKEY_derive(ctx.get(), secret.data(), &length) != 1) {
    return InvalidArgument("x25519: low-order peer public key");
  }
  if (length != secret.size()) {
    return Internal("x25519: shared secret has the wrong length");
  }
  static constexpr Key32 kZero{};
  if (CRYPTO_memcmp(secret.data(), kZero.data(), secret.size()) == 0) {
    OPENSSL_cleanse(secret.data(), secret.size());
    return InvalidArgument("x25519: low-order peer public key");
  }
  return secret;
}

}  // namespace cls::crypto
