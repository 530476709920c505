#include "secagg/client/secagg_client.h"

#include <algorithm>

#include "crypto/aead.h"
#include "crypto/prg.h"
#include "crypto/random.h"
#include "crypto/sha256.h"
#include "secagg/common/secagg.h"

#include <string_view>

namespace cls::site {
namespace {

std::string Where(uint64_t round_id) {
  return "round " + std::to_string(round_id) + ": ";
}

std::string Str(uint64_t n) { return std::to_string(n); }

// Signs `payload` or says why not.
Result<Bytes> SignPayload(const SecAggSiteSetup& setup, const Bytes& payload) {
  if (!setup.signing_key) return Internal("secure aggregation: no signing key");
  return setup.signing_key->Sign(payload);
}

}  // namespace

Result<SecAggClient> SecAggClient::Start(const protocol::RoundAnnounce& a,
                                         const SecAggSiteSetup& setup) {
  const std::string where = Where(a.round_id);
  if (!setup.signing_key || !setup.authority || setup.coordinator_id.empty()) {
    return Internal(where + "secure aggregation is not set up");
  }
  SecAggClient c;
  c.setup_ = setup;
  c.round_id_ = a.round_id;
  c.self_index_ = a.self_index;
  c.threshold_ = a.threshold;
  c.ring_bits_ = a.ring_bits;
  std::set<std::string> ids;
  for (const auto& n : a.neighbours) {
    if (n.index == 0 || !c.neighbours_.insert(n.index).second ||
        !ids.insert(n.site_id).second) {
      return InvalidArgument(where + "bad neighbour list");
    }
    c.site_ids_[n.index] = n.site_id;
  }
  auto self = c.site_ids_.find(a.self_index);
  if (self == c.site_ids_.end()) {
    return InvalidArgument(where + "neighbour list omits this site");
  }
  if (self->second != setup.site_id) {
    return InvalidArgument(where + "neighbour list names this site '" +
                           self->second + "'");
  }
  // A neighbourhood of one is the audited per-site mode: the coordinator
  // learns this site's update, so only where the site's own operator allows
  // it. Otherwise a coordinator could isolate the site into a group whose sum
  // is (nearly) its own update.
  const size_t size = c.neighbours_.size();
  if (size == 1) {
    if (!setup.allow_single_site) {
      return PermissionDenied(
          where +
          "refused a round of this site alone: the coordinator would learn "
          "its update ([secure_aggregation] allow_single_site = false)");
    }
  } else if (size < setup.min_neighbourhood) {
    return PermissionDenied(where + "refused a neighbourhood of " + Str(size) +
                            " sites, fewer than this site's minimum of " +
                            Str(setup.min_neighbourhood) +
                            " ([secure_aggregation] min_neighbourhood)");
  }
  // The threshold protects this site's secrets: below a strict majority of
  // its neighbourhood a coordinator could obtain both of its secrets.
  if (c.threshold_ < protocol::ThresholdFor(size) || c.threshold_ > size) {
    return PermissionDenied(where + "threshold " + Str(c.threshold_) +
                            " unsafe for " + Str(size) + " neighbours");
  }
  if (c.ring_bits_ < 1 || c.ring_bits_ > 32) {
    return InvalidArgument(where + "ring bits out of range");
  }
  auto cipher = crypto::GenerateX25519KeyPair();
  auto mask = crypto::GenerateX25519KeyPair();
  if (!cipher) return std::unexpected(cipher.error());
  if (!mask) return std::unexpected(mask.error());
  c.cipher_keys_ = *cipher;
  c.mask_keys_ = *mask;
  c.self_mask_seed_ = crypto::RandomKey32();
  c.advertise_ = {a.round_id,
                  c.cipher_keys_.public_key,
                  c.mask_keys_.public_key,
                  crypto::Sha256(c.self_mask_seed_),
                  {}};
  auto signature = SignPayload(
      setup, protocol::AdvertisePayload(
                 setup.coordinator_id, a.round_id, a.self_index,
                 c.advertise_.cipher_public_key, c.advertise_.mask_public_key,
                 c.advertise_.self_mask_commitment));
  if (!signature) return std::unexpected(signature.error());
  c.advertise_.signature = std::move(*signature);
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
                             Str(entry.index));
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
      self->second.mask_public_key != mask_keys_.public_key ||
      self->second.self_mask_commitment != advertise_.self_mask_commitment) {
    return InvalidArgument(where +
                           "this site's own keys are missing or altered");
  }
  // Every other key must come from the site the announce named at that
  // index, as its certificate (issued by the consortium CA) and its
  // signature show: the coordinator cannot substitute a key of its own.
  for (const auto& [index, entry] : directory_) {
    if (index == self_index_) continue;
    const std::string& expected_id = site_ids_[index];
    auto certificate = setup_.authority->Check(entry.certificate);
    if (!certificate) {
      return PermissionDenied(where + "the certificate of " + expected_id +
                              " was refused: " + certificate.error().message);
    }
    if (certificate->common_name() != expected_id ||
        certificate->role() != "site") {
      return PermissionDenied(
          where + "the certificate given for " + expected_id + " belongs to '" +
          certificate->common_name() + "' (" + certificate->role() + ")");
    }
    if (!certificate->Verify(protocol::AdvertisePayload(
                                 setup_.coordinator_id, round_id_, index,
                                 entry.cipher_public_key, entry.mask_public_key,
                                 entry.self_mask_commitment),
                             entry.signature)) {
      return PermissionDenied(where + "the keys given for " + expected_id +
                              " are not signed by it");
    }
    certificates_.emplace(index, std::move(*certificate));
  }
  if (directory_.size() < threshold_) {
    return InvalidArgument(where + Str(directory_.size()) +
                           " sites, threshold " + Str(threshold_));
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
    auto key_signature = SignPayload(
        setup_, protocol::SharePayload(setup_.coordinator_id, round_id_,
                                       protocol::SecretKind::kMaskKey,
                                       self_index_, (*key_shares)[i]));
    auto seed_signature = SignPayload(
        setup_, protocol::SharePayload(setup_.coordinator_id, round_id_,
                                       protocol::SecretKind::kSelfMask,
                                       self_index_, (*seed_shares)[i]));
    if (!key_signature) return std::unexpected(key_signature.error());
    if (!seed_signature) return std::unexpected(seed_signature.error());
    if (to == self_index_) {
      mask_key_shares_[self_index_] = {(*key_shares)[i],
                                       std::move(*key_signature)};
      self_mask_shares_[self_index_] = {(*seed_shares)[i],
                                        std::move(*seed_signature)};
      continue;
    }
    auto key = protocol::ShareEncryptionKey(
        cipher_keys_.private_key, directory_[to].cipher_public_key, round_id_);
    if (!key) return std::unexpected(key.error());
    protocol::SharePlaintext plain{self_index_,
                                   to,
                                   (*key_shares)[i],
                                   (*seed_shares)[i],
                                   std::move(*key_signature),
                                   std::move(*seed_signature)};
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
                             Str(from));
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
    const crypto::Certificate& owner = certificates_.at(from);
    const bool usable =
        plain && plain->from_index == from && plain->to_index == self_index_ &&
        plain->mask_key_share.x == self_index_ &&
        plain->self_mask_share.x == self_index_ &&
        owner.Verify(protocol::SharePayload(setup_.coordinator_id, round_id_,
                                            protocol::SecretKind::kMaskKey,
                                            from, plain->mask_key_share),
                     plain->mask_key_signature) &&
        owner.Verify(protocol::SharePayload(setup_.coordinator_id, round_id_,
                                            protocol::SecretKind::kSelfMask,
                                            from, plain->self_mask_share),
                     plain->self_mask_signature);
    if (!usable) {
      warnings_.push_back(where + "discarded the share from " +
                          site_ids_[from] +
                          ": it does not decrypt or is not signed by it");
      continue;
    }
    mask_key_shares_[from] = {plain->mask_key_share,
                              std::move(plain->mask_key_signature)};
    self_mask_shares_[from] = {plain->self_mask_share,
                               std::move(plain->self_mask_signature)};
  }
  if (masked_with_.size() + 1 < threshold_) {
    return InvalidArgument(where + Str(masked_with_.size() + 1) +
                           " sites left, threshold " + Str(threshold_));
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

Result<protocol::SurvivorSetSignature> SecAggClient::OnSurvivorSet(
    const protocol::SurvivorSet& set) {
  const std::string where = Where(round_id_) + "survivor set: ";
  if (stage_ != Stage::kMasked || set.round_id != round_id_) {
    return InvalidArgument(where + "unexpected");
  }
  if (!std::is_sorted(set.survivors.begin(), set.survivors.end()) ||
      std::adjacent_find(set.survivors.begin(), set.survivors.end()) !=
          set.survivors.end()) {
    return InvalidArgument(where + "not a sorted set");
  }
  if (!std::binary_search(set.survivors.begin(), set.survivors.end(),
                          self_index_)) {
    return InvalidArgument(where + "does not name this site");
  }
  uint32_t in_neighbourhood = 0;
  for (uint32_t s : set.survivors) {
    if (!neighbours_.count(s)) continue;
    if (s != self_index_ && !masked_with_.count(s)) {
      return InvalidArgument(where + "names " + site_ids_[s] +
                             ", which this site never masked with");
    }
    ++in_neighbourhood;
  }
  if (in_neighbourhood < threshold_) {
    return InvalidArgument(where + Str(in_neighbourhood) +
                           " survivors in this neighbourhood, threshold " +
                           Str(threshold_));
  }
  auto signature =
      SignPayload(setup_, protocol::SurvivorSetPayload(
                              setup_.coordinator_id, round_id_, set.survivors));
  if (!signature) return std::unexpected(signature.error());
  survivor_set_ = set.survivors;
  stage_ = Stage::kSigned;
  return protocol::SurvivorSetSignature{round_id_, std::move(*signature)};
}

Result<protocol::UnmaskResponse> SecAggClient::OnUnmaskRequest(
    const protocol::UnmaskRequest& request) {
  const std::string where = Where(round_id_) + "unmask request: ";
  if (stage_ != Stage::kSigned || request.round_id != round_id_) {
    return InvalidArgument(where + "unexpected");
  }
  // The survivors and dropped sites of this neighbourhood follow from the
  // survivor set this site signed; the request must say exactly that, so a
  // coordinator cannot ask for a self-mask share of a site it calls dropped
  // elsewhere, or the reverse.
  std::vector<uint32_t> survivors, dropped;
  for (uint32_t n : neighbours_) {
    const bool survived =
        std::binary_search(survivor_set_.begin(), survivor_set_.end(), n);
    if (survived) {
      survivors.push_back(n);
    } else if (masked_with_.count(n)) {
      dropped.push_back(n);
    }
  }
  std::vector<uint32_t> asked_survivors = request.survivors;
  std::vector<uint32_t> asked_dropped = request.dropped;
  std::sort(asked_survivors.begin(), asked_survivors.end());
  std::sort(asked_dropped.begin(), asked_dropped.end());
  if (asked_survivors != survivors || asked_dropped != dropped) {
    return PermissionDenied(
        where +
        "the survivors and dropped sites differ from the survivor "
        "set this site signed");
  }
  // Consistency check: at least threshold neighbours (this site included)
  // signed the very set this site signed. Honest neighbours sign one set
  // only, so a coordinator that showed them different sets cannot collect
  // enough signatures for both.
  const Bytes payload = protocol::SurvivorSetPayload(setup_.coordinator_id,
                                                     round_id_, survivor_set_);
  std::set<uint32_t> signers;
  for (const auto& s : request.signatures) {
    if (signers.count(s.index)) {
      return InvalidArgument(where + "two signatures from site " +
                             Str(s.index));
    }
    if (s.index == self_index_) {
      signers.insert(s.index);  // its own: nothing to learn from it
      continue;
    }
    auto certificate = certificates_.find(s.index);
    if (certificate == certificates_.end() ||
        !std::binary_search(survivor_set_.begin(), survivor_set_.end(),
                            s.index)) {
      return InvalidArgument(where + "a signature from site " + Str(s.index) +
                             ", not a surviving neighbour");
    }
    if (!certificate->second.Verify(payload, s.signature)) {
      return PermissionDenied(where + "the signature of " + site_ids_[s.index] +
                              " is not over the survivor set this site saw");
    }
    signers.insert(s.index);
  }
  if (signers.size() < threshold_) {
    return PermissionDenied(where + Str(signers.size()) +
                            " neighbours signed the survivor set, threshold " +
                            Str(threshold_));
  }

  protocol::UnmaskResponse out;
  out.round_id = round_id_;
  for (uint32_t s : survivors) {
    auto it = self_mask_shares_.find(s);
    if (it == self_mask_shares_.end()) continue;
    out.self_mask_shares.push_back(
        {s, it->second.share.x, it->second.share.y, it->second.signature});
  }
  for (uint32_t d : dropped) {
    auto it = mask_key_shares_.find(d);
    if (it == mask_key_shares_.end()) continue;
    out.mask_key_shares.push_back(
        {d, it->second.share.x, it->second.share.y, it->second.signature});
  }
  stage_ = Stage::kUnmasked;
  return out;
}

}  // namespace cls::site
