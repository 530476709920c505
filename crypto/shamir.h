#ifndef CLS_CRYPTO_SHAMIR_H_
#define CLS_CRYPTO_SHAMIR_H_

#include <cstdint>
#include <span>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"

namespace cls::crypto {

// Shamir t-of-n secret sharing over the prime field GF(p), p = 2^61 - 1.
// A secret of any length is cut into 7-byte chunks (each < p); every chunk is
// shared with its own random polynomial of degree threshold - 1, coefficients
// from the OpenSSL RNG. A share is the evaluation point x (1..2^31) and one
// field element per chunk.
struct ShamirShare {
  uint32_t x = 0;
  std::vector<uint64_t> y;
};

inline constexpr uint64_t kShamirPrime = (uint64_t{1} << 61) - 1;

// One share for each evaluation point in `xs` (distinct, non-zero).
// InvalidArgument if threshold < 1, threshold > xs.size(), an x is 0 or
// repeated, or the secret is empty.
Result<std::vector<ShamirShare>> ShamirSplit(ByteSpan secret, int threshold,
                                             std::span<const uint32_t> xs);

// Lagrange interpolation at 0 from the first `threshold` shares.
// InvalidArgument if fewer than `threshold` shares, x values repeat, share
// lengths differ or do not match secret_length, or a y is >= p. With fewer
// shares than the polynomial's degree + 1 the result is simply wrong (that is
// the scheme's secrecy), so callers must pass the threshold they split with.
Result<Bytes> ShamirCombine(std::span<const ShamirShare> shares, int threshold,
                            size_t secret_length);

// Number of field elements a secret of this length is cut into.
size_t ShamirChunkCount(size_t secret_length);

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_SHAMIR_H_
