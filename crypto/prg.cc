#include "crypto/prg.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>

#include "crypto/openssl_ptr.h"

namespace cls::crypto {
namespace {

using internal::EvpCipherCtxPtr;
using internal::EvpCipherPtr;

// 16 KiB of keystream per EVP call: large enough to amortise the call, small
// enough to stay in L1 next to the values being masked.
constexpr size_t kChunkWords = 4096;
constexpr size_t kChunkBytes = kChunkWords * sizeof(uint32_t);

// CTR encryption of zeros is the raw keystream.
alignas(64) constexpr uint8_t kZeros[kChunkBytes] = {};

// These functions return nothing, and a wrong mask silently corrupts the
// aggregate of a whole round, so misuse and OpenSSL failures stop the process.
[[noreturn]] void Die(const char* message) {
  std::fprintf(stderr, "cls::crypto: prg: %s, aborting\n", message);
  std::abort();
}

const EVP_CIPHER* Aes256Ctr() {
  static const EvpCipherPtr cipher(
      EVP_CIPHER_fetch(nullptr, "AES-256-CTR", nullptr));
  return cipher.get();
}

uint32_t MaskFor(int bits) {
  if (bits < 1 || bits > 32) Die("bits must be in 1..32");
  return bits == 32 ? ~uint32_t{0} : (uint32_t{1} << bits) - 1;
}

// Calls combine(values_chunk, keystream_words) for consecutive chunks of
// `values`, with the keystream as little-endian words.
template <typename Combine>
void StreamKeystream(const Key32& seed, std::span<uint32_t> values,
                     Combine combine) {
  const EVP_CIPHER* cipher = Aes256Ctr();
  if (cipher == nullptr) Die("AES-256-CTR not available");
  static constexpr uint8_t kZeroIv[16] = {};
  EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr || EVP_EncryptInit_ex2(ctx.get(), cipher, seed.data(),
                                            kZeroIv, nullptr) != 1) {
    Die("cannot initialise AES-256-CTR");
  }
  alignas(64) uint32_t keystream[kChunkWords];
  while (!values.empty()) {
    const size_t words = std::min(values.size(), kChunkWords);
    const int bytes = static_cast<int>(words * sizeof(uint32_t));
    int written = 0;
    if (EVP_EncryptUpdate(ctx.get(), reinterpret_cast<uint8_t*>(keystream),
                          &written, kZeros, bytes) != 1 ||
        written != bytes) {
      Die("AES-256-CTR failed");
    }
    if constexpr (std::endian::native == std::endian::big) {
      for (size_t i = 0; i < words; ++i)
        keystream[i] = std::byteswap(keystream[i]);
    }
    combine(values.first(words), keystream);
    values = values.subspan(words);
  }
}

}  // namespace

void AddMask(const Key32& seed, int bits, int sign,
             std::span<uint32_t> values) {
  const uint32_t mask = MaskFor(bits);
  if (sign != 1 && sign != -1) Die("sign must be +1 or -1");
  // uint32_t arithmetic wraps modulo 2^32, and 2^bits divides 2^32, so masking
  // the wrapped sum gives the result modulo 2^bits. Separate loops keep the
  // branches out of the inner loop so it vectorises.
  if (sign == 1 && bits == 32) {
    StreamKeystream(seed, values, [](std::span<uint32_t> v, const uint32_t* k) {
      for (size_t i = 0; i < v.size(); ++i) v[i] += k[i];
    });
  } else if (sign == -1 && bits == 32) {
    StreamKeystream(seed, values, [](std::span<uint32_t> v, const uint32_t* k) {
      for (size_t i = 0; i < v.size(); ++i) v[i] -= k[i];
    });
  } else if (sign == 1) {
    StreamKeystream(seed, values,
                    [mask](std::span<uint32_t> v, const uint32_t* k) {
                      for (size_t i = 0; i < v.size(); ++i) {
                        v[i] = (v[i] + k[i]) & mask;
                      }
                    });
  } else {
    StreamKeystream(seed, values,
                    [mask](std::span<uint32_t> v, const uint32_t* k) {
                      for (size_t i = 0; i < v.size(); ++i) {
                        v[i] = (v[i] - k[i]) & mask;
                      }
                    });
  }
}

void ExpandMask(const Key32& seed, int bits, std::span<uint32_t> out) {
  const uint32_t mask = MaskFor(bits);
  StreamKeystream(seed, out, [mask](std::span<uint32_t> v, const uint32_t* k) {
    for (size_t i = 0; i < v.size(); ++i) v[i] = k[i] & mask;
  });
}

}  // namespace cls::crypto
