#ifndef CLS_SITE_AGENT_SECAGG_CLIENT_H_
#define CLS_SITE_AGENT_SECAGG_CLIENT_H_

#include <cstdint>
#include <map>
#include <set>
#include <span>
#include <vector>

#include "common/error.h"
#include "crypto/shamir.h"
#include "crypto/x25519.h"
#include "protocol/messages.h"

namespace cls::site {

// The site's side of one secure aggregation round. It is the site's defence
// against a curious coordinator: it checks everything the coordinator tells
// it, masks its input with a self mask and pairwise masks, and at unmask time
// reveals for each neighbour either the self-mask share (survivor) or the
// mask-key share (dropped), never both, and only once.
//
// Stages: Start (announce) -> OnKeyDirectory -> OnShareDelivery (+ input)
// -> OnUnmaskRequest. Any error means the site leaves the round. Not
// thread-safe.
class SecAggClient {
 public:
  // Generates the round's two key pairs and self-mask seed.
  static Result<SecAggClient> Start(const protocol::RoundAnnounce& announce);

  const protocol::AdvertiseKeys& advertise_keys() const { return advertise_; }
  uint64_t round_id() const { return round_id_; }

  // Checks the directory (own keys present and unchanged, only neighbours,
  // no repeated key, at least threshold entries) and encrypts one share pair
  // for every other neighbour in it.
  Result<protocol::ShareKeys> OnKeyDirectory(
      const protocol::KeyDirectory& directory);

  // Decrypts the shares addressed to this site (a share that fails to
  // authenticate is discarded: its sender is treated as having dropped) and
  // masks `input` (already quantized into Z_(2^ring_bits)).
  Result<protocol::MaskedInput> OnShareDelivery(
      const protocol::ShareDelivery& delivery, std::span<const uint32_t> input,
      const protocol::ValidationMetrics& metrics);

  // Refuses a request that names a site both survivor and dropped, names a
  // site it did not mask with, leaves fewer than threshold survivors, drops
  // this site, or comes a second time.
  Result<protocol::UnmaskResponse> OnUnmaskRequest(
      const protocol::UnmaskRequest& request);

 private:
  SecAggClient() = default;

  enum class Stage { kAdvertised, kShared, kMasked, kUnmasked };

  Stage stage_ = Stage::kAdvertised;
  uint64_t round_id_ = 0;
  uint32_t self_index_ = 0;
  uint32_t threshold_ = 0;
  int ring_bits_ = 32;
  std::set<uint32_t> neighbours_;
  crypto::X25519KeyPair cipher_keys_;
  crypto::X25519KeyPair mask_keys_;
  Key32 self_mask_seed_{};
  protocol::AdvertiseKeys advertise_;
  std::map<uint32_t, protocol::KeyEntry> directory_;
  // Shares this site holds, by owner (its own included).
  std::map<uint32_t, crypto::ShamirShare> mask_key_shares_;
  std::map<uint32_t, crypto::ShamirShare> self_mask_shares_;
  std::set<uint32_t> masked_with_;  // U2 seen from here, itself excluded
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_SECAGG_CLIENT_H_
