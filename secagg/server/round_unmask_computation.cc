#include "secagg/server/round_unmask_computation.h"

#include <algorithm>
#include <functional>
#include <optional>

#include "crypto/prg.h"
#include "crypto/sha256.h"
#include "crypto/x25519.h"
#include "secagg/common/secagg.h"

namespace cls::coordinator {
namespace {

constexpr size_t kSecretBytes = 32;
// How many subsets of the revealed shares are tried when an owner dealt
// shares that do not fit: enough to step around a couple of bad shares in
// any neighbourhood, bounded so a malicious owner cannot stall the round.
constexpr int kMaxReconstructionAttempts = 1024;

std::optional<Key32> Combine(const std::vector<crypto::ShamirShare>& shares,
                             uint32_t threshold) {
  auto secret =
      crypto::ShamirCombine(shares, static_cast<int>(threshold), kSecretBytes);
  if (!secret || secret->size() != kSecretBytes) return std::nullopt;
  Key32 key{};
  std::copy(secret->begin(), secret->end(), key.begin());
  return key;
}

// Visits the subsets of {0..n-1} of size n - leave_out in order, stopping
// when `visit` returns true or the budget runs out.
bool ForEachSubset(
    size_t n, size_t leave_out, int& budget,
    const std::function<bool(const std::vector<size_t>&)>& visit) {
  std::vector<size_t> out(leave_out);
  for (size_t i = 0; i < leave_out; ++i) out[i] = i;
  while (budget > 0) {
    std::vector<size_t> keep;
    for (size_t i = 0, j = 0; i < n; ++i) {
      if (j < leave_out && out[j] == i) {
        ++j;
      } else {
        keep.push_back(i);
      }
    }
    --budget;
    if (visit(keep)) return true;
    // Next combination of `leave_out` indices out of n.
    size_t i = leave_out;
    while (i > 0 && out[i - 1] == n - leave_out + i - 1) --i;
    if (i == 0) return false;
    ++out[i - 1];
    for (size_t j = i; j < leave_out; ++j) out[j] = out[j - 1] + 1;
  }
  return false;
}

// One unmask: the inputs, what was proved about the sites, and the
// holders caught forging (trusted with none of their shares afterwards).
class Unmasker {
 public:
  explicit Unmasker(UnmaskInputs inputs) : in_(std::move(inputs)) {}

  UnmaskResult Run() {
    std::set<uint32_t> survivors;  // sites whose input is in the sum
    for (const auto& site : in_.participants) {
      if (site.masked) survivors.insert(site.index);
    }
    result_.abort_reason = RemoveMasks(survivors);
    if (result_.abort_reason.empty()) DecodeOutcome(survivors);
    return std::move(result_);
  }

 private:
  const ParticipantState& at(uint32_t index) const {
    return in_.participants[index - 1];
  }
  void Blame(uint32_t index, std::string what) {
    result_.findings.push_back({index, std::move(what), ""});
  }

  bool SignedByOwner(uint32_t owner, protocol::SecretKind kind,
                     const RevealedShare& revealed) const {
    return at(owner).certificate->Verify(
        protocol::SharePayload(in_.coordinator_id, in_.round_id, kind, owner,
                               revealed.share),
        revealed.signature);
  }

  // Blames the holder of a share its owner never signed and drops it; its
  // other shares are no longer used.
  void RejectForger(uint32_t holder, uint32_t owner) {
    if (!forgers_.insert(holder).second) return;
    const std::string& owner_id = at(owner).site_id;
    result_.findings.push_back(
        {holder,
         "revealed a share of " + owner_id + " that " + owner_id +
             " never signed",
         "unmask_response: share of " + owner_id + " not signed by it"});
  }

  // The owner's secret from its revealed shares, or nullopt with why not in
  // `why`; names the holders that made up shares and the owner if it dealt
  // shares that do not fit.
  std::optional<Key32> Recover(uint32_t owner, protocol::SecretKind kind,
                               const std::vector<RevealedShare>& all,
                               const std::function<bool(const Key32&)>& fits,
                               std::string& why);
  // Removes the masks from in_.masked_sum; the abort reason on failure.
  std::string RemoveMasks(const std::set<uint32_t>& survivors);
  void DecodeOutcome(const std::set<uint32_t>& survivors);

  UnmaskInputs in_;
  UnmaskResult result_;
  std::set<uint32_t> forgers_;
};

std::optional<Key32> Unmasker::Recover(
    uint32_t owner, protocol::SecretKind kind,
    const std::vector<RevealedShare>& all,
    const std::function<bool(const Key32&)>& fits, std::string& why) {
  const ParticipantState& site = at(owner);
  const uint32_t t = site.threshold;
  const std::string what = kind == protocol::SecretKind::kSelfMask
                               ? std::string("self mask")
                               : std::string("mask key");
  const std::string secret = what + " of " + site.site_id;
  // A holder caught making up one share is trusted with none.
  std::vector<RevealedShare> revealed;
  for (const auto& r : all) {
    if (!forgers_.count(r.holder)) revealed.push_back(r);
  }
  auto attempt = [&](const std::vector<size_t>& keep) -> std::optional<Key32> {
    std::vector<crypto::ShamirShare> subset;
    for (size_t i = 0; i < t; ++i) subset.push_back(revealed[keep[i]].share);
    auto key = Combine(subset, t);
    if (key && fits(*key)) return key;
    return std::nullopt;
  };
  auto first = [&] {
    std::vector<size_t> keep(revealed.size());
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = i;
    return keep;
  };
  if (revealed.size() < t) {
    why = secret + ": " + std::to_string(revealed.size()) +
          " shares, threshold " + std::to_string(t);
    return std::nullopt;
  }
  std::vector<size_t> good = first();
  std::optional<Key32> key = attempt(good);
  if (!key) {
    // Someone lied. A share its owner never signed was made up by the site
    // that revealed it; drop those and try again.
    std::vector<RevealedShare> signed_shares;
    for (const auto& r : revealed) {
      if (SignedByOwner(owner, kind, r)) {
        signed_shares.push_back(r);
      } else {
        RejectForger(r.holder, owner);
      }
    }
    revealed = std::move(signed_shares);
    if (revealed.size() < t) {
      why = secret + ": " + std::to_string(revealed.size()) +
            " genuine shares, threshold " + std::to_string(t);
      return std::nullopt;
    }
    good = first();
    key = attempt(good);
    if (!key) {
      // Every share left carries the owner's signature, so the owner dealt
      // shares that do not fit what it committed to. Step around them.
      int budget = kMaxReconstructionAttempts;
      const size_t spare = revealed.size() - t;
      for (size_t leave_out = 1; !key && leave_out <= spare && budget > 0;
           ++leave_out) {
        ForEachSubset(revealed.size(), leave_out, budget,
                      [&](const std::vector<size_t>& keep) {
                        key = attempt(keep);
                        if (key) good = keep;
                        return key.has_value();
                      });
      }
      Blame(owner,
            "dealt shares of its " + what + " that do not reconstruct it");
      if (!key) {
        why = secret + " cannot be reconstructed: " + site.site_id +
              " dealt shares that do not fit it";
        return std::nullopt;
      }
      return key;
    }
  }
  // The secret is known; every other share must lie on the same polynomial
  // (t - 1 shares that fit plus this one give the secret again). One that
  // does not was made up by its holder (no owner signature) or dealt wrong by
  // the owner (signed), however the shares happened to arrive.
  std::set<size_t> used(good.begin(), good.begin() + t);
  for (size_t e = 0; e < revealed.size(); ++e) {
    if (used.count(e)) continue;
    std::vector<size_t> keep(good.begin(), good.begin() + (t - 1));
    keep.push_back(e);
    if (attempt(keep)) continue;
    if (!SignedByOwner(owner, kind, revealed[e])) {
      RejectForger(revealed[e].holder, owner);
    } else {
      Blame(owner, "dealt a share of its " + what + " to " +
                       at(revealed[e].holder).site_id +
                       " that does not fit it");
      break;
    }
  }
  return key;
}

std::string Unmasker::RemoveMasks(const std::set<uint32_t>& survivors) {
  const int bits = in_.quantization.ring_bits;
  auto& sum = in_.masked_sum;
  std::string why;
  for (uint32_t u : survivors) {
    const ParticipantState& site = at(u);
    auto seed = Recover(
        u, protocol::SecretKind::kSelfMask, in_.self_mask_shares[u],
        [&](const Key32& k) {
          return crypto::Sha256(k) == site.keys.self_mask_commitment;
        },
        why);
    if (!seed) return why;
    crypto::AddMask(*seed, bits, -1, sum);
  }
  for (uint32_t d : in_.dropped) {
    const ParticipantState& site = at(d);
    std::optional<crypto::X25519KeyPair> pair;
    auto key = Recover(
        d, protocol::SecretKind::kMaskKey, in_.mask_key_shares[d],
        [&](const Key32& k) {
          auto p = crypto::X25519KeyPairFromPrivate(k);
          if (!p || p->public_key != site.keys.mask_public_key) return false;
          pair = *p;
          return true;
        },
        why);
    if (!key) return why;
    // Each survivor v added sign(v, d) * PRG(s_vd); take it back out.
    for (uint32_t v : site.neighbours) {
      if (!survivors.count(v)) continue;
      auto seed = protocol::PairwiseMaskSeed(
          pair->private_key, at(v).keys.mask_public_key, in_.round_id);
      if (!seed) return "pairwise seed: " + seed.error().message;
      crypto::AddMask(*seed, bits, -protocol::PairwiseMaskSign(v, d), sum);
    }
  }
  return "";
}

void Unmasker::DecodeOutcome(const std::set<uint32_t>& survivors) {
  RoundOutcome& out = result_.outcome;
  out.mean_delta.assign(in_.masked_sum.size(), 0.0f);
  core::DequantizeSum(in_.masked_sum, static_cast<int>(survivors.size()),
                      in_.quantization, out.mean_delta);
  out.ring_sum = std::move(in_.masked_sum);
  for (uint32_t u : survivors) {
    const ParticipantState& site = at(u);
    out.contributors.push_back(site.site_id);
    out.contributor_weight += site.weight;
    out.metrics.count += site.metrics.count;
    out.metrics.correct += site.metrics.correct;
    out.metrics.loss_sum += site.metrics.loss_sum;
    out.metrics.train_samples += site.metrics.train_samples;
  }
  // Sites sent weight * delta with weights summing to 1 over all
  // participants; renormalise over those whose input arrived.
  if (out.contributor_weight > 0) {
    const float scale = static_cast<float>(1.0 / out.contributor_weight);
    for (float& v : out.mean_delta) v *= scale;
  }
}

}  // namespace

UnmaskResult ComputeUnmask(UnmaskInputs inputs) {
  return Unmasker(std::move(inputs)).Run();
}

}  // namespace cls::coordinator
