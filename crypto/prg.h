#ifndef CLS_CRYPTO_PRG_H_
#define CLS_CRYPTO_PRG_H_

#include <cstdint>
#include <span>

#include "common/bytes.h"

namespace cls::crypto {

// Pseudorandom generator for secure-aggregation masks: AES-256 in CTR mode
// keyed by a 32-byte seed with an all-zero IV, i.e. the keystream of the seed.
// Deterministic: the same seed always yields the same words, on every machine
// (little-endian words of the keystream).
//
// The masks live in Z_(2^bits), 1 <= bits <= 32: each word is reduced by
// taking its low `bits` bits, which is uniform because 2^bits divides 2^32.
//
// These functions add (sign = +1) or subtract (sign = -1) the mask words
// element-wise to `values` modulo 2^bits, in place, without materialising the
// mask (streams through a small buffer), so a 1,000,000-element vector costs
// one pass of AES-CTR.
void AddMask(const Key32& seed, int bits, int sign, std::span<uint32_t> values);

// The mask itself (for tests and benchmarks).
void ExpandMask(const Key32& seed, int bits, std::span<uint32_t> out);

}  // namespace cls::crypto

#endif  // CLS_CRYPTO_PRG_H_
