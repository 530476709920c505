#include "coordinator/round/round_r3_unmask_state.h"

#include "crypto/prg.h"
#include "crypto/sha256.h"
#include "crypto/x25519.h"
#include "protocol/secagg.h"

namespace cls::coordinator {
namespace {

constexpr size_t kSecretBytes = 32;

Result<Key32> Reconstruct(const std::vector<crypto::ShamirShare>& shares,
                          uint32_t threshold) {
  auto secret =
      crypto::ShamirCombine(shares, static_cast<int>(threshold), kSecretBytes);
  if (!secret) return std::unexpected(secret.error());
  Key32 key{};
  if (secret->size() != key.size())
    return Internal("shamir: secret of wrong length");
  std::copy(secret->begin(), secret->end(), key.begin());
  return key;
}

}  // namespace

void RoundUnmaskState::Handle(uint32_t index,
                              const protocol::Message& message) {
  const auto* response = std::get_if<protocol::UnmaskResponse>(&message);
  if (response == nullptr) {
    return Reject(index, "expected unmask_response, got " +
                             std::string(protocol::MessageName(message)));
  }
  if (response->round_id != round_id()) {
    return Reject(index, "unmask_response for round " +
                             std::to_string(response->round_id));
  }
  ParticipantState& site = context_.at(index);
  const size_t chunks = crypto::ShamirChunkCount(kSecretBytes);
  std::set<uint32_t> neighbours(site.neighbours.begin(), site.neighbours.end());
  // A site may omit a share it could not decrypt, but may not add any.
  auto check = [&](const std::vector<protocol::SecretShare>& shares,
                   bool survivors) -> std::string {
    std::set<uint32_t> owners;
    for (const auto& share : shares) {
      bool owner_ok = neighbours.count(share.owner_index) &&
                      (survivors ? context_.at(share.owner_index).masked
                                 : dropped_.count(share.owner_index) > 0);
      if (!owner_ok || !owners.insert(share.owner_index).second) {
        return "unexpected or repeated share owner " +
               std::to_string(share.owner_index);
      }
      if (share.x != index || share.y.size() != chunks) {
        return "malformed share of owner " + std::to_string(share.owner_index);
      }
    }
    return "";
  };
  std::string why = check(response->self_mask_shares, true);
  if (why.empty()) why = check(response->mask_key_shares, false);
  if (!why.empty()) return Reject(index, "unmask_response: " + why);

  for (const auto& s : response->self_mask_shares) {
    context_.self_mask_shares[s.owner_index].push_back({s.x, s.y});
  }
  for (const auto& s : response->mask_key_shares) {
    context_.mask_key_shares[s.owner_index].push_back({s.x, s.y});
  }
  site.unmasked = true;
}

std::unique_ptr<RoundState> RoundUnmaskState::Finish() {
  std::set<uint32_t> survivors;  // sites whose input is in the sum
  for (const auto& site : context_.participants) {
    if (site.masked) survivors.insert(site.index);
  }
  if (std::string why = RemoveMasks(survivors); !why.empty()) {
    return Abort("unmask: " + why);
  }
  DecodeOutcome(survivors);
  return std::make_unique<RoundCompletedState>(context_);
}

std::string RoundUnmaskState::RemoveMasks(const std::set<uint32_t>& survivors) {
  const int bits = context_.settings.quantization.ring_bits;
  auto& sum = context_.masked_sum;
  for (uint32_t u : survivors) {
    const ParticipantState& site = context_.at(u);
    const auto& shares = context_.self_mask_shares[u];
    if (shares.size() < site.threshold) {
      return "self mask of " + site.site_id + ": " +
             std::to_string(shares.size()) + " shares, threshold " +
             std::to_string(site.threshold);
    }
    auto seed = Reconstruct(shares, site.threshold);
    if (!seed || crypto::Sha256(*seed) != site.keys.self_mask_commitment) {
      return "self mask of " + site.site_id + " does not match its commitment";
    }
    crypto::AddMask(*seed, bits, -1, sum);
  }
  for (uint32_t d : dropped_) {
    const ParticipantState& site = context_.at(d);
    const auto& shares = context_.mask_key_shares[d];
    if (shares.size() < site.threshold) {
      return "mask key of dropped " + site.site_id + ": " +
             std::to_string(shares.size()) + " shares, threshold " +
             std::to_string(site.threshold);
    }
    auto key = Reconstruct(shares, site.threshold);
    auto pair =
        key ? crypto::X25519KeyPairFromPrivate(*key)
            : Result<crypto::X25519KeyPair>(std::unexpected(key.error()));
    if (!pair || pair->public_key != site.keys.mask_public_key) {
      return "mask key of dropped " + site.site_id +
             " does not match its public key";
    }
    // Each survivor v added sign(v, d) * PRG(s_vd); take it back out.
    for (uint32_t v : site.neighbours) {
      if (!survivors.count(v)) continue;
      auto seed = protocol::PairwiseMaskSeed(
          pair->private_key, context_.at(v).keys.mask_public_key, round_id());
      if (!seed) return "pairwise seed: " + seed.error().message;
      crypto::AddMask(*seed, bits, -protocol::PairwiseMaskSign(v, d), sum);
    }
  }
  return "";
}

void RoundUnmaskState::DecodeOutcome(const std::set<uint32_t>& survivors) {
  RoundOutcome& out = context_.outcome;
  out.ring_sum = context_.masked_sum;
  out.mean_delta.assign(context_.masked_sum.size(), 0.0f);
  core::DequantizeSum(context_.masked_sum, static_cast<int>(survivors.size()),
                      context_.settings.quantization, out.mean_delta);
  for (uint32_t u : survivors) {
    const ParticipantState& site = context_.at(u);
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

}  // namespace cls::coordinator
