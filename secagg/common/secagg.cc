#include "secagg/common/secagg.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "crypto/hkdf.h"
#include "crypto/x25519.h"

namespace cls::protocol {
namespace {

Bytes RoundSalt(uint64_t round_id) {
  Bytes salt(8);
  for (int i = 0; i < 8; ++i)
    salt[i] = static_cast<uint8_t>(round_id >> (8 * i));
  return salt;
}

Result<Key32> DeriveFromAgreement(const Key32& own_private,
                                  const Key32& peer_public, uint64_t round_id,
                                  std::string_view label) {
  auto shared = crypto::X25519SharedSecret(own_private, peer_public);
  if (!shared) return std::unexpected(shared.error());
  return crypto::DeriveKey32(*shared, RoundSalt(round_id), label);
}

void PutU32(Bytes& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void PutU64(Bytes& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

// Reads little-endian integers from a byte span, remembering underflow.
class Reader {
 public:
  explicit Reader(ByteSpan bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == bytes_.size(); }
  uint64_t Read(int width) {
    if (!ok_ || bytes_.size() - pos_ < static_cast<size_t>(width)) {
      ok_ = false;
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < width; ++i) v |= uint64_t{bytes_[pos_ + i]} << (8 * i);
    pos_ += width;
    return v;
  }

 private:
  ByteSpan bytes_;
  size_t pos_ = 0;
  bool ok_ = true;
};

void PutShare(Bytes& out, const crypto::ShamirShare& share) {
  PutU32(out, share.x);
  PutU32(out, static_cast<uint32_t>(share.y.size()));
  for (uint64_t y : share.y) PutU64(out, y);
}

void PutBlob(Bytes& out, ByteSpan blob) {
  PutU32(out, static_cast<uint32_t>(blob.size()));
  out.insert(out.end(), blob.begin(), blob.end());
}

bool ReadBlob(Reader& in, Bytes& out) {
  constexpr uint32_t kMaxSignatureBytes = 256;
  const uint32_t size = static_cast<uint32_t>(in.Read(4));
  if (!in.ok() || size > kMaxSignatureBytes) return false;
  out.resize(size);
  for (auto& b : out) b = static_cast<uint8_t>(in.Read(1));
  return in.ok();
}

Bytes PayloadHeader(std::string_view label, std::string_view coordinator_id,
                    uint64_t round_id) {
  Bytes out(label.begin(), label.end());
  PutBlob(out, AsBytes(coordinator_id));
  PutU64(out, round_id);
  return out;
}

bool ReadShare(Reader& in, crypto::ShamirShare& share) {
  // A share of a 32-byte secret has 5 chunks; anything far larger is garbage.
  constexpr uint32_t kMaxChunks = 64;
  share.x = static_cast<uint32_t>(in.Read(4));
  uint32_t count = static_cast<uint32_t>(in.Read(4));
  if (!in.ok() || count > kMaxChunks) return false;
  share.y.resize(count);
  for (auto& y : share.y) y = in.Read(8);
  return in.ok();
}

}  // namespace

Result<Key32> PairwiseMaskSeed(const Key32& own_mask_private_key,
                               const Key32& peer_mask_public_key,
                               uint64_t round_id) {
  return DeriveFromAgreement(own_mask_private_key, peer_mask_public_key,
                             round_id, "cls secagg pairwise mask v1");
}

Result<Key32> ShareEncryptionKey(const Key32& own_cipher_private_key,
                                 const Key32& peer_cipher_public_key,
                                 uint64_t round_id) {
  return DeriveFromAgreement(own_cipher_private_key, peer_cipher_public_key,
                             round_id, "cls secagg share encryption v1");
}

Bytes ShareAssociatedData(uint64_t round_id, uint32_t from_index,
                          uint32_t to_index) {
  static constexpr std::string_view kLabel = "cls secagg share v1";
  Bytes aad(kLabel.begin(), kLabel.end());
  PutU64(aad, round_id);
  PutU32(aad, from_index);
  PutU32(aad, to_index);
  return aad;
}

Bytes AdvertisePayload(std::string_view coordinator_id, uint64_t round_id,
                       uint32_t index, const Key32& cipher_public_key,
                       const Key32& mask_public_key,
                       const Key32& self_mask_commitment) {
  Bytes out =
      PayloadHeader("cls secagg advertise v2", coordinator_id, round_id);
  PutU32(out, index);
  out.insert(out.end(), cipher_public_key.begin(), cipher_public_key.end());
  out.insert(out.end(), mask_public_key.begin(), mask_public_key.end());
  out.insert(out.end(), self_mask_commitment.begin(),
             self_mask_commitment.end());
  return out;
}

Bytes SharePayload(std::string_view coordinator_id, uint64_t round_id,
                   SecretKind kind, uint32_t owner_index,
                   const crypto::ShamirShare& share) {
  Bytes out = PayloadHeader("cls secagg share v2", coordinator_id, round_id);
  out.push_back(static_cast<uint8_t>(kind));
  PutU32(out, owner_index);
  PutShare(out, share);
  return out;
}

Bytes SurvivorSetPayload(std::string_view coordinator_id, uint64_t round_id,
                         std::span<const uint32_t> survivors) {
  Bytes out =
      PayloadHeader("cls secagg survivors v2", coordinator_id, round_id);
  PutU32(out, static_cast<uint32_t>(survivors.size()));
  for (uint32_t s : survivors) PutU32(out, s);
  return out;
}

Bytes EncodeSharePlaintext(const SharePlaintext& plaintext) {
  Bytes out;
  PutU32(out, plaintext.from_index);
  PutU32(out, plaintext.to_index);
  PutShare(out, plaintext.mask_key_share);
  PutShare(out, plaintext.self_mask_share);
  PutBlob(out, plaintext.mask_key_signature);
  PutBlob(out, plaintext.self_mask_signature);
  return out;
}

Result<SharePlaintext> DecodeSharePlaintext(ByteSpan bytes) {
  Reader in(bytes);
  SharePlaintext p;
  p.from_index = static_cast<uint32_t>(in.Read(4));
  p.to_index = static_cast<uint32_t>(in.Read(4));
  if (!ReadShare(in, p.mask_key_share) || !ReadShare(in, p.self_mask_share) ||
      !ReadBlob(in, p.mask_key_signature) ||
      !ReadBlob(in, p.self_mask_signature) || !in.at_end()) {
    return InvalidArgument("share: malformed plaintext");
  }
  return p;
}

uint32_t ThresholdFor(size_t neighbourhood_size) {
  return static_cast<uint32_t>(neighbourhood_size / 2 + 1);
}

namespace {

// P[X = x] for x = 0..draws, X ~ Hypergeometric(population, successes,
// draws), through log-gamma so that populations of many thousands stay
// finite.
std::vector<double> HypergeometricPmf(size_t population, size_t successes,
                                      size_t draws) {
  auto log_choose = [](double a, double b) {
    return std::lgamma(a + 1) - std::lgamma(b + 1) - std::lgamma(a - b + 1);
  };
  std::vector<double> pmf(draws + 1, 0.0);
  const double all = log_choose(double(population), double(draws));
  for (size_t x = 0; x <= draws; ++x) {
    if (x > successes || draws - x > population - successes) continue;
    pmf[x] = std::exp(
        log_choose(double(successes), double(x)) +
        log_choose(double(population - successes), double(draws - x)) - all);
  }
  return pmf;
}

// tail[x] = P[X >= x] for x = 0..draws + 1.
std::vector<double> UpperTails(const std::vector<double>& pmf) {
  std::vector<double> tail(pmf.size() + 1, 0.0);
  for (size_t x = pmf.size(); x-- > 0;) tail[x] = tail[x + 1] + pmf[x];
  return tail;
}

size_t CountOf(double fraction, size_t n) {
  const double c = std::ceil(std::clamp(fraction, 0.0, 1.0) * double(n));
  return std::min(static_cast<size_t>(c), n);
}

struct Tails {
  std::vector<double> corrupt;  // P[corrupt neighbours >= x]
  std::vector<double> dropped;  // P[dropped neighbours >= x]
  size_t corrupt_sites = 0;
};

Tails TailsFor(size_t n, size_t k, const SecAggAssumptions& a) {
  Tails t;
  t.corrupt_sites = CountOf(a.corrupt_fraction, n);
  // A corrupt site's own neighbourhood does not matter; an honest site's k
  // neighbours come from the n - 1 others, c of them corrupt.
  const size_t c = std::min(t.corrupt_sites, n - 1);
  t.corrupt = UpperTails(HypergeometricPmf(n - 1, c, k));
  t.dropped = UpperTails(HypergeometricPmf(
      n - 1, std::min(CountOf(a.dropout_fraction, n), n - 1), k));
  return t;
}

NeighbourhoodFailure FailureFrom(const Tails& tails, size_t n, size_t k,
                                 uint32_t t) {
  NeighbourhoodFailure f;
  const size_t honest = n - std::min(tails.corrupt_sites, n);
  const size_t need = std::min<size_t>(t, k + 1);
  f.privacy = std::min(1.0, double(honest) * tails.corrupt[need]);
  // Fewer than t of the k neighbours survive: k - t + 1 or more dropped.
  const size_t lost = t > k + 1 ? 0 : k + 1 - t;
  f.correctness = std::min(1.0, double(n) * tails.dropped[lost]);
  return f;
}

}  // namespace

NeighbourhoodFailure NeighbourhoodFailureBound(
    size_t n, size_t k, uint32_t t, const SecAggAssumptions& assumptions) {
  if (n < 2 || k < 1 || k > n - 1 || t < 1) return {1.0, 1.0};
  return FailureFrom(TailsFor(n, k, assumptions), n, k, t);
}

NeighbourhoodPlan PlanNeighbourhood(size_t n, size_t complete_up_to,
                                    const SecAggAssumptions& assumptions) {
  NeighbourhoodPlan plan;
  if (n <= std::max<size_t>(complete_up_to, 3)) {
    plan.complete = true;
    plan.degree = n == 0 ? 0 : n - 1;
    plan.threshold = ThresholdFor(n);
    if (n >= 2) {
      plan.failure =
          NeighbourhoodFailureBound(n, n - 1, plan.threshold, assumptions);
    }
    plan.meets_target = plan.failure.privacy < assumptions.target_failure &&
                        plan.failure.correctness < assumptions.target_failure;
    return plan;
  }
  // The ring links k/2 sites on either side, so k is even and at most n - 1.
  const size_t largest = (n - 1) - ((n - 1) % 2);
  double best_worst = 2.0;
  for (size_t k = 2; k <= largest; k += 2) {
    const Tails tails = TailsFor(n, k, assumptions);
    for (uint32_t t = ThresholdFor(k + 1); t <= k + 1; ++t) {
      const NeighbourhoodFailure f = FailureFrom(tails, n, k, t);
      if (f.privacy < assumptions.target_failure &&
          f.correctness < assumptions.target_failure) {
        return {k, t, false, true, f};
      }
      // Past this t only privacy improves; keep the best compromise for
      // the fallback at the largest degree.
      if (k == largest && std::max(f.privacy, f.correctness) < best_worst) {
        best_worst = std::max(f.privacy, f.correctness);
        plan = {k, t, false, false, f};
      }
    }
  }
  return plan;
}

std::vector<std::vector<uint32_t>> BuildNeighbourGraph(size_t n,
                                                       size_t complete_up_to,
                                                       std::mt19937_64& rng) {
  std::vector<std::vector<uint32_t>> graph(n);
  const NeighbourhoodPlan plan = PlanNeighbourhood(n, complete_up_to);
  if (plan.complete) {
    std::vector<uint32_t> all(n);
    std::iota(all.begin(), all.end(), 0u);
    for (auto& list : graph) list = all;
    return graph;
  }
  const size_t k = plan.degree;
  std::vector<uint32_t> order(n);
  std::iota(order.begin(), order.end(), 0u);
  std::shuffle(order.begin(), order.end(), rng);
  for (size_t pos = 0; pos < n; ++pos) {
    auto& list = graph[order[pos]];
    list.push_back(order[pos]);
    for (size_t step = 1; step <= k / 2; ++step) {
      list.push_back(order[(pos + step) % n]);
      list.push_back(order[(pos + n - step) % n]);
    }
    std::sort(list.begin(), list.end());
  }
  return graph;
}

}  // namespace cls::protocol
