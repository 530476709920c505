#ifndef CLS_SECAGG_CLIENT_SECAGG_CLIENT_H_
#define CLS_SECAGG_CLIENT_SECAGG_CLIENT_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/error.h"
#include "crypto/shamir.h"
#include "crypto/signature.h"
#include "crypto/x25519.h"
#include "protocol/messages.h"

namespace cls::site {

// What a site brings to every round: who it is, whom it trusts, and the
// limits its own operator set. Shared by the rounds of one agent.
struct SecAggSiteSetup {
  std::string site_id;  // the CN of the site's certificate
  // The site certificate's key: signs key advertisements, shares and the
  // survivor set.
  std::shared_ptr<const crypto::SigningKey> signing_key;
  // The consortium CA: checks the neighbours' certificates that the
  // coordinator relays.
  std::shared_ptr<const crypto::CertificateAuthority> authority;
  // The CN of the coordinator's certificate, as the TLS handshake verified
  // it; bound into every signature.
  std::string coordinator_id;
  // The smallest neighbourhood (this site included) the site joins: in a
  // smaller one the sum could be little more than its own update.
  uint32_t min_neighbourhood = 3;
  // Whether the site takes part in a round of itself alone (the audited
  // per-site mode, [robust] secure_aggregation = false at the coordinator),
  // where the coordinator learns its update.
  bool allow_single_site = false;
};

// The site's side of one secure aggregation round: its defence against a
// coordinator that may be malicious, not only curious. It checks everything
// the coordinator tells it (each neighbour's certificate against the CA and
// signature over its keys, a neighbourhood no smaller than the site allows, a
// threshold of at least a strict majority, a survivor set that enough
// neighbours signed), masks its input with a self mask and pairwise masks,
// and at unmask time reveals for each neighbour either the self-mask share
// (survivor) or the mask-key share (dropped), never both, and only once.
//
// Stages: Start (announce) -> OnKeyDirectory -> OnShareDelivery (+ input)
// -> OnSurvivorSet -> OnUnmaskRequest. Any error means the site leaves the
// round. Not thread-safe.
class SecAggClient {
 public:
  // Checks the announce against the setup and generates the round's two key
  // pairs and self-mask seed; the AdvertiseKeys it returns is signed.
  static Result<SecAggClient> Start(const protocol::RoundAnnounce& announce,
                                    const SecAggSiteSetup& setup);

  const protocol::AdvertiseKeys& advertise_keys() const { return advertise_; }
  uint64_t round_id() const { return round_id_; }

  // Checks the directory (own keys present and unchanged, only neighbours,
  // no repeated key, each neighbour's certificate issued by the CA to the
  // site the announce named, each signature valid, at least threshold
  // entries) and encrypts one signed share pair for every other neighbour.
  Result<protocol::ShareKeys> OnKeyDirectory(
      const protocol::KeyDirectory& directory);

  // Decrypts the shares addressed to this site (a share that fails to
  // authenticate or whose owner's signature does not verify is discarded:
  // see TakeWarnings) and masks `input` (already quantized into
  // Z_(2^ring_bits)).
  Result<protocol::MaskedInput> OnShareDelivery(
      const protocol::ShareDelivery& delivery, std::span<const uint32_t> input,
      const protocol::ValidationMetrics& metrics);

  // Signs the set of survivors the coordinator announces, after checking it
  // names this site and only neighbours it masked with, and leaves at least
  // threshold of its neighbourhood.
  Result<protocol::SurvivorSetSignature> OnSurvivorSet(
      const protocol::SurvivorSet& survivors);

  // Refuses a request whose survivors and dropped sites are not exactly what
  // the signed survivor set implies for this neighbourhood, that carries
  // fewer than threshold valid neighbour signatures over that same set, or
  // that comes a second time.
  Result<protocol::UnmaskResponse> OnUnmaskRequest(
      const protocol::UnmaskRequest& request);

  // Things worth logging that did not stop the round (e.g. a neighbour's
  // share that was discarded). Cleared by the call.
  std::vector<std::string> TakeWarnings() { return std::move(warnings_); }

 private:
  SecAggClient() = default;

  enum class Stage { kAdvertised, kShared, kMasked, kSigned, kUnmasked };

  struct HeldShare {
    crypto::ShamirShare share;
    Bytes signature;  // the owner's
  };

  Stage stage_ = Stage::kAdvertised;
  SecAggSiteSetup setup_;
  uint64_t round_id_ = 0;
  uint32_t self_index_ = 0;
  uint32_t threshold_ = 0;
  int ring_bits_ = 32;
  std::set<uint32_t> neighbours_;
  std::map<uint32_t, std::string> site_ids_;  // by index, from the announce
  crypto::X25519KeyPair cipher_keys_;
  crypto::X25519KeyPair mask_keys_;
  Key32 self_mask_seed_{};
  protocol::AdvertiseKeys advertise_;
  std::map<uint32_t, protocol::KeyEntry> directory_;
  std::map<uint32_t, crypto::Certificate> certificates_;  // checked, by index
  // Shares this site holds, by owner (its own included).
  std::map<uint32_t, HeldShare> mask_key_shares_;
  std::map<uint32_t, HeldShare> self_mask_shares_;
  std::set<uint32_t> masked_with_;      // U2 seen from here, itself excluded
  std::vector<uint32_t> survivor_set_;  // the set this site signed
  std::vector<std::string> warnings_;
};

}  // namespace cls::site

#endif  // CLS_SECAGG_CLIENT_SECAGG_CLIENT_H_
