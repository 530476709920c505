#ifndef CLS_CRYPTO_RANDOM_H_
#define CLS_CRYPTO_RANDOM_H_

#include "common/bytes.h"

namespace cls::crypto {

// Cryptographically secure random bytes from OpenSSL's RAND_bytes.
// Aborts the process if the system RNG fails: no caller can continue safely.
void FillRandom(std::span<uint8_t> out);
Bytes RandomBytes(size_t n);
Key32 RandomKey32();

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_RANDOM_H_
