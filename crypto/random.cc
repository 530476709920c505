#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace cls::crypto {

void FillRandom(std::span<uint8_t> out) {
  // RAND_bytes takes an int length, so very large requests go in pieces.
  while (!out.empty()) {
    const size_t n = std::min<size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
      std::fputs("cls::crypto: RAND_bytes failed, aborting\n", stderr);
      std::abort();
    }
    out = out.subspan(n);
  }
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  FillRandom(out);
  return out;
}

Key32 RandomKey32() {
  Key32 key;
  FillRandom(key);
  return key;
}

}  // namespace cls::crypto
