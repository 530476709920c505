#ifndef CLS_CRYPTO_X25519_H_
#define CLS_CRYPTO_X25519_H_

#include "common/bytes.h"
#include "common/error.h"

namespace cls::crypto {

struct X25519KeyPair {
  Key32 private_key;
  Key32 public_key;
};

// A fresh key pair from OpenSSL's EVP_PKEY X25519.
Result<X25519KeyPair> GenerateX25519KeyPair();
// The key pair whose private key is `private_key` (used when a dropped site's
// masking key is reconstructed from Shamir shares).
Result<X25519KeyPair> X25519KeyPairFromPrivate(const Key32& private_key);
// The raw shared secret. Fails (InvalidArgument) on an all-zero result, i.e. a
// low-order peer key.
Result<Key32> X25519SharedSecret(const Key32& private_key,
                                 const Key32& peer_public_key);

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_X25519_H_
