#include "site-agent/secagg_client.h"

#include <algorithm>

#include "crypto/aead.h"
#include "crypto/prg.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "protocol/secagg.h"

namespace cls::site {
namespace {

std::string Where(uint64_t round_id) {
  return "round " + std::to_string(round_id) + ": ";
}

}  // namespace

Result<SecAggClient> SecAggClient::Start(const protocol::RoundAnnounce& a) {
  SecAggClient c;
  c.round_id_ = a.round_id;
  c.self_index_ = a.self_index;
  c.threshold_ = a.threshold;
  c.ring_bits_ = a.ring_bits;
  for (const auto& n : a.neighbours) {
    if (n.index == 0 || !c.neighbours_.insert(n.index).second) {
      return InvalidArgument(Where(a.round_id) + "bad neighbour list");
    }
  }
  if (!c.neighbours_.count(a.self_index)) {
    return InvalidArgument(Where(a.round_id) +
                           "neighbour list omits this site");
  }
  // The threshold protects this site's secrets: below a strict majority of
  // its neighbourhood a coordinator could obtain both of its secrets.
  if (c.threshold_ < protocol::ThresholdFor(c.neighbours_.size()) ||
      c.threshold_ > c.neighbours_.size()) {
    return InvalidArgument(
        Where(a.round_id) + "threshold " + std::to_string(c.threshold_) +
        " unsafe for " + std::to_string(c.neighbours_.size()) + " neighbours");
  }
  if (c.ring_bits_ < 1 || c.ring_bits_ > 32) {
    return InvalidArgument(Where(a.round_id) + "ring bits out of range");
  }
  auto cipher = crypto::GenerateX25519KeyPair();
  auto mask = crypto::GenerateX25519KeyPair();
  if (!cipher) return std::unexpected(cipher.error());
  if (!mask) return std::unexpected(mask.error());
  c.cipher_keys_ = *cipher;
  c.mask_keys_ = *mask;
  c.self_mask_seed_ = crypto::RandomKey32();
  c.advertise_ = {a.round_id, c.cipher_keys_.public_key,
                  c.mask_keys_.public_key, crypto::Sha256(c.self_mask_seed_)};
  return c;
}

Result<protocol::ShareKeys> SecAggClient::OnKeyDirectory(
    const protocol::KeyDirectory& directory) {
  const std::string where = Where(round_id_) + "key directory: ";
  if (stage_ != Stage::kAdvertised || directory.round_id != round_id_) {
    return InvalidArgument(where + "unexpected");
  }
  std::set<Key32> seen_keys;
  for (const auto& entry : directory.keys) {
    if (!neighbours_.count(entry.index) || directory_.count(entry.index)) {
      return InvalidArgument(where + "unexpected or repeated site " +
                             std::to_string(entry.index));
    }
    if (!seen_keys.insert(entry.cipher_public_key).second ||
        !seen_keys.insert(entry.mask_public_key).second) {
      return InvalidArgument(where + "a public key appears twice");
    }
    directory_[entry.index] = entry;
  }
  auto self = directory_.find(self_index_);
  if (self == directory_.end() ||
      self->second.cipher_public_key != cipher_keys_.public_key ||
      self->second.mask_public_key != mask_keys_.public_key) {
    return InvalidArgument(where +
                           "this site's own keys are missing or altered");
  }
  if (directory_.size() < threshold_) {
    return InvalidArgument(where + std::to_string(directory_.size()) +
                           " sites, threshold " + std::to_string(threshold_));
  }

  std::vector<uint32_t> xs;
  for (const auto& [index, entry] : directory_) xs.push_back(index);
  auto key_shares = crypto::ShamirSplit(mask_keys_.private_key,
                                        static_cast<int>(threshold_), xs);
  auto seed_shares =
      crypto::ShamirSplit(self_mask_seed_, static_cast<int>(threshold_), xs);
  if (!key_shares) return std::unexpected(key_shares.error());
  if (!seed_shares) return std::unexpected(seed_shares.error());

  protocol::ShareKeys out{.round_id = round_id_, .shares = {}};
  for (size_t i = 0; i < xs.size(); ++i) {
    const uint32_t to = xs[i];
    if (to == self_index_) {
      mask_key_shares_[self_index_] = (*key_shares)[i];
      self_mask_shares_[self_index_] = (*seed_shares)[i];
      continue;
    }
    auto key = protocol::ShareEncryptionKey(
        cipher_keys_.private_key, directory_[to].cipher_public_key, round_id_);
    if (!key) return std::unexpected(key.error());
    protocol::SharePlaintext plain{self_index_, to, (*key_shares)[i],
                                   (*seed_shares)[i]};
    auto sealed = crypto::AesGcmSeal(
        *key, protocol::EncodeSharePlaintext(plain),
        protocol::ShareAssociatedData(round_id_, self_index_, to));
    if (!sealed) return std::unexpected(sealed.error());
    out.shares.push_back({self_index_, to, std::move(*sealed)});
  }
  stage_ = Stage::kShared;
  return out;
}

Result<protocol::MaskedInput> SecAggClient::OnShareDelivery(
    const protocol::ShareDelivery& delivery, std::span<const uint32_t> input,
    const protocol::ValidationMetrics& metrics) {
  const std::string where = Where(round_id_) + "share delivery: ";
  if (stage_ != Stage::kShared || delivery.round_id != round_id_) {
    return InvalidArgument(where + "unexpected");
  }
  for (const auto& share : delivery.shares) {
    const uint32_t from = share.from_index;
    if (share.to_index != self_index_ || from == self_index_ ||
        !directory_.count(from) || masked_with_.count(from)) {
      return InvalidArgument(where + "unexpected or repeated sender " +
                             std::to_string(from));
    }
    auto key = protocol::ShareEncryptionKey(cipher_keys_.private_key,
                                            directory_[from].cipher_public_key,
                                            round_id_);
    if (!key) return std::unexpected(key.error());
    auto opened = crypto::AesGcmOpen(
        *key, share.ciphertext,
        protocol::ShareAssociatedData(round_id_, from, self_index_));
    auto plain =
        opened
            ? protocol::DecodeSharePlaintext(*opened)
            : Result<protocol::SharePlaintext>(std::unexpected(opened.error()));
    // The sender still counts as a survivor of share-keys (the coordinator
    // forwarded its share), so it is masked with; its share is just unusable.
    masked_with_.insert(from);
    if (!plain || plain->from_index != from || plain->to_index != self_index_ ||
        plain->mask_key_share.x != self_index_ ||
        plain->self_mask_share.x != self_index_) {
      continue;
    }
    mask_key_shares_[from] = plain->mask_key_share;
    self_mask_shares_[from] = plain->self_mask_share;
  }
  if (masked_with_.size() + 1 < threshold_) {
    return InvalidArgument(where + std::to_string(masked_with_.size() + 1) +
                           " sites left, threshold " +
                           std::to_string(threshold_));
  }

  protocol::MaskedInput out;
  out.round_id = round_id_;
  out.metrics = metrics;
  out.ring_bits = static_cast<uint8_t>(ring_bits_);  // packed at this width
  out.masked.assign(input.begin(), input.end());
  crypto::AddMask(self_mask_seed_, ring_bits_, +1, out.masked);
  for (uint32_t peer : masked_with_) {
    auto seed = protocol::PairwiseMaskSeed(
        mask_keys_.private_key, directory_[peer].mask_public_key, round_id_);
    if (!seed) return std::unexpected(seed.error());
    crypto::AddMask(*seed, ring_bits_,
                    protocol::PairwiseMaskSign(self_index_, peer), out.masked);
  }
  stage_ = Stage::kMasked;
  return out;
}

Result<protocol::UnmaskResponse> SecAggClient::OnUnmaskRequest(
    const protocol::UnmaskRequest& request) {
  const std::string where = Where(round_id_) + "unmask request: ";
  if (stage_ != Stage::kMasked || request.round_id != round_id_) {
    return InvalidArgument(where + "unexpected");
  }
  std::set<uint32_t> survivors(request.survivors.begin(),
                               request.survivors.end());
  std::set<uint32_t> dropped(request.dropped.begin(), request.dropped.end());
  if (survivors.size() != request.survivors.size() ||
      dropped.size() != request.dropped.size()) {
    return InvalidArgument(where + "a site is listed twice");
  }
  for (uint32_t d : dropped) {
    if (survivors.count(d)) {
      return InvalidArgument(where + "site " + std::to_string(d) +
                             " listed as both survivor and dropped");
    }
  }
  if (!survivors.count(self_index_)) {
    return InvalidArgument(where + "this site is not listed as a survivor");
  }
  for (uint32_t s : survivors) {
    if (s != self_index_ && !masked_with_.count(s)) {
      return InvalidArgument(where + "survivor " + std::to_string(s) +
                             " was never masked with");
    }
  }
  for (uint32_t d : dropped) {
    if (!masked_with_.count(d)) {
      return InvalidArgument(where + "dropped site " + std::to_string(d) +
                             " was never masked with");
    }
  }
  if (survivors.size() < threshold_) {
    return InvalidArgument(where + std::to_string(survivors.size()) +
                           " survivors, threshold " +
                           std::to_string(threshold_));
  }
  // Every site this one masked with must be named one way or the other,
  // otherwise its pairwise mask could never be removed.
  if (survivors.size() + dropped.size() != masked_with_.size() + 1) {
    return InvalidArgument(where + "does not account for every neighbour");
  }

  protocol::UnmaskResponse out;
  out.round_id = round_id_;
  for (uint32_t s : survivors) {
    auto it = self_mask_shares_.find(s);
    if (it == self_mask_shares_.end()) continue;
    out.self_mask_shares.push_back({s, it->second.x, it->second.y});
  }
  for (uint32_t d : dropped) {
    auto it = mask_key_shares_.find(d);
    if (it == mask_key_shares_.end()) continue;
    out.mask_key_shares.push_back({d, it->second.x, it->second.y});
  }
  stage_ = Stage::kUnmasked;
  return out;
}

}  // namespace cls::site
