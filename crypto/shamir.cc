#include "crypto/shamir.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <string>

#include "crypto/random.h"

namespace cls::crypto {
namespace {

// 7 bytes = 56 bits, so every chunk is below p = 2^61 - 1.
constexpr size_t kChunkBytes = 7;
constexpr uint64_t kP = kShamirPrime;

uint64_t AddMod(uint64_t a, uint64_t b) {
  const uint64_t sum = a + b;  // < 2^62, no overflow
  return sum >= kP ? sum - kP : sum;
}

uint64_t SubMod(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kP - b; }

// 2^61 = 1 (mod p), so the high bits of the product fold onto the low bits.
uint64_t MulMod(uint64_t a, uint64_t b) {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  const uint64_t low = static_cast<uint64_t>(product) & kP;
  const uint64_t high = static_cast<uint64_t>(product >> 61);
  // a, b < p makes low <= p and high < p - 1, so one subtraction suffices.
  const uint64_t sum = low + high;
  return sum >= kP ? sum - kP : sum;
}

uint64_t PowMod(uint64_t base, uint64_t exponent) {
  uint64_t result = 1;
  while (exponent != 0) {
    if (exponent & 1) result = MulMod(result, base);
    base = MulMod(base, base);
    exponent >>= 1;
  }
  return result;
}

// Fermat: a^(p-2) = a^-1 for a != 0 (mod p).
uint64_t InvMod(uint64_t a) { return PowMod(a, kP - 2); }

// Uniform in [0, p): 61 random bits are uniform in [0, p], so only p itself
// (probability 2^-61) is rejected and redrawn.
void FillRandomFieldElements(std::span<uint64_t> out) {
  FillRandom({reinterpret_cast<uint8_t*>(out.data()), out.size_bytes()});
  for (uint64_t& element : out) {
    element &= kP;
    while (element == kP) {
      FillRandom({reinterpret_cast<uint8_t*>(&element), sizeof(element)});
      element &= kP;
    }
  }
}

uint64_t ReadChunk(ByteSpan bytes) {
  uint64_t value = 0;
  for (size_t i = bytes.size(); i-- > 0;) value = (value << 8) | bytes[i];
  return value;
}

void WriteChunk(uint64_t value, std::span<uint8_t> out) {
  for (uint8_t& byte : out) {
    byte = static_cast<uint8_t>(value);
    value >>= 8;
  }
}

// Empty when fine, otherwise the reason.
std::string CheckPoints(std::span<const uint32_t> xs) {
  std::vector<uint32_t> sorted(xs.begin(), xs.end());
  std::sort(sorted.begin(), sorted.end());
  if (!sorted.empty() && sorted.front() == 0) return "shamir: x = 0";
  const auto repeated = std::adjacent_find(sorted.begin(), sorted.end());
  if (repeated != sorted.end()) {
    return "shamir: x = " + std::to_string(*repeated) + " repeated";
  }
  return {};
}

}  // namespace

size_t ShamirChunkCount(size_t secret_length) {
  return (secret_length + kChunkBytes - 1) / kChunkBytes;
}

Result<std::vector<ShamirShare>> ShamirSplit(ByteSpan secret, int threshold,
                                             std::span<const uint32_t> xs) {
  if (threshold < 1) {
    return InvalidArgument("shamir: threshold " + std::to_string(threshold) +
                           " < 1");
  }
  if (static_cast<size_t>(threshold) > xs.size()) {
    return InvalidArgument("shamir: threshold " + std::to_string(threshold) +
                           " > " + std::to_string(xs.size()) + " shares");
  }
  if (secret.empty()) return InvalidArgument("shamir: empty secret");
  if (std::string reason = CheckPoints(xs); !reason.empty()) {
    return InvalidArgument(std::move(reason));
  }

  const size_t chunks = ShamirChunkCount(secret.size());
  const size_t degree = static_cast<size_t>(threshold) - 1;
  std::vector<ShamirShare> shares(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    shares[i].x = xs[i];
    shares[i].y.resize(chunks);
  }
  // coefficients[1..degree] of one chunk's polynomial; [0] is the chunk.
  std::vector<uint64_t> coefficients(degree + 1);
  for (size_t c = 0; c < chunks; ++c) {
    const size_t begin = c * kChunkBytes;
    const size_t length = std::min(kChunkBytes, secret.size() - begin);
    coefficients[0] = ReadChunk(secret.subspan(begin, length));
    FillRandomFieldElements(std::span(coefficients).subspan(1));
    for (ShamirShare& share : shares) {
      uint64_t y = 0;  // Horner from the top coefficient down
      for (size_t k = coefficients.size(); k-- > 0;) {
        y = AddMod(MulMod(y, share.x), coefficients[k]);
      }
      share.y[c] = y;
    }
  }
  // The coefficients determine the secret; do not leave them in freed memory.
  OPENSSL_cleanse(coefficients.data(), coefficients.size() * sizeof(uint64_t));
  return shares;
}

Result<Bytes> ShamirCombine(std::span<const ShamirShare> shares, int threshold,
                            size_t secret_length) {
  if (threshold < 1) {
    return InvalidArgument("shamir: threshold " + std::to_string(threshold) +
                           " < 1");
  }
  if (shares.size() < static_cast<size_t>(threshold)) {
    return InvalidArgument("shamir: " + std::to_string(shares.size()) +
                           " shares, threshold " + std::to_string(threshold));
  }
  if (secret_length == 0) return InvalidArgument("shamir: empty secret");
  const auto used = shares.first(static_cast<size_t>(threshold));
  const size_t chunks = ShamirChunkCount(secret_length);

  std::vector<uint32_t> xs;
  xs.reserve(used.size());
  for (const ShamirShare& share : used) {
    if (share.y.size() != chunks) {
      return InvalidArgument("shamir: share x = " + std::to_string(share.x) +
                             " has " + std::to_string(share.y.size()) +
                             " elements, expected " + std::to_string(chunks));
    }
    for (uint64_t y : share.y) {
      if (y >= kP) {
        return InvalidArgument("shamir: share x = " + std::to_string(share.x) +
                               " has an element >= p");
      }
    }
    xs.push_back(share.x);
  }
  if (std::string reason = CheckPoints(xs); !reason.empty()) {
    return InvalidArgument(std::move(reason));
  }

  // Lagrange basis at 0: l_j = prod_{m != j} x_m / (x_m - x_j).
  std::vector<uint64_t> basis(used.size());
  for (size_t j = 0; j < used.size(); ++j) {
    uint64_t numerator = 1;
    uint64_t denominator = 1;
    for (size_t m = 0; m < used.size(); ++m) {
      if (m == j) continue;
      numerator = MulMod(numerator, used[m].x);
      denominator = MulMod(denominator, SubMod(used[m].x, used[j].x));
    }
    basis[j] = MulMod(numerator, InvMod(denominator));
  }

  Bytes secret(secret_length);
  for (size_t c = 0; c < chunks; ++c) {
    uint64_t value = 0;
    for (size_t j = 0; j < used.size(); ++j) {
      value = AddMod(value, MulMod(basis[j], used[j].y[c]));
    }
    const size_t begin = c * kChunkBytes;
    const size_t length = std::min(kChunkBytes, secret_length - begin);
    // With the right shares the value fits in `length` bytes; with too few it
    // is an arbitrary field element, cut to size like the header promises.
    WriteChunk(value, std::span(secret).subspan(begin, length));
  }
  return secret;
}

}  // namespace cls::crypto
