#ifndef CLS_CRYPTO_SHA256_H_
#define CLS_CRYPTO_SHA256_H_

#include <string>

#include "common/bytes.h"

namespace cls::crypto {

using Digest = std::array<uint8_t, 32>;

Digest Sha256(ByteSpan data);
// Hex of SHA-256 over the bytes, lower case.
std::string Sha256Hex(ByteSpan data);

// Incremental hashing (e.g. hash chains over several fields).
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(ByteSpan data);
  Digest Finish();

 private:
  void* ctx_;  // EVP_MD_CTX
};

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_SHA256_H_
