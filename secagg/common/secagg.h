#ifndef CLS_SECAGG_COMMON_SECAGG_H_
#define CLS_SECAGG_COMMON_SECAGG_H_

#include <cstdint>
#include <random>
#include <span>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "common/error.h"
#include "crypto/shamir.h"

namespace cls::protocol {

// The rules of secure aggregation (Bonawitz et al., CCS 2017, with the sparse
// neighbour graph of SecAgg+, Bell et al., CCS 2020) that the coordinator and
// the site agents must apply identically: key derivation, the sign of a
// pairwise mask, the encoding of an encrypted share, the neighbour graph and
// the reconstruction threshold.

// Seed of the pairwise mask between two sites: HKDF-SHA256 over their X25519
// shared secret, salted with the round id, so keys reused by mistake across
// rounds still give fresh masks.
Result<Key32> PairwiseMaskSeed(const Key32& own_mask_private_key,
                               const Key32& peer_mask_public_key,
                               uint64_t round_id);

// AES-256-GCM key for the shares one site encrypts for another.
Result<Key32> ShareEncryptionKey(const Key32& own_cipher_private_key,
                                 const Key32& peer_cipher_public_key,
                                 uint64_t round_id);

// Site u adds PRG(s_uv) when u < v and subtracts it when u > v, so the pair's
// masks cancel in the sum.
inline int PairwiseMaskSign(uint32_t self_index, uint32_t peer_index) {
  return self_index < peer_index ? +1 : -1;
}

// What a site signs with its certificate key (ECDSA P-256), so that what it
// said in a round can be checked by its neighbours, whom the coordinator
// relays it to, and attributed to it by the coordinator. Each payload starts
// with its own label and binds the coordinator's id (the CN of the
// coordinator's certificate, as each side knows it from TLS) and the round,
// so no signature can be replayed in another stage, round or federation.

// The site at `index` advertises these keys in this round.
Bytes AdvertisePayload(std::string_view coordinator_id, uint64_t round_id,
                       uint32_t index, const Key32& cipher_public_key,
                       const Key32& mask_public_key,
                       const Key32& self_mask_commitment);

enum class SecretKind : uint8_t { kMaskKey = 1, kSelfMask = 2 };

// The owner dealt this share (evaluated at share.x, the holder's index) of
// its mask key or self-mask seed.
Bytes SharePayload(std::string_view coordinator_id, uint64_t round_id,
                   SecretKind kind, uint32_t owner_index,
                   const crypto::ShamirShare& share);

// The signer saw exactly these sites (sorted) as the round's survivors.
Bytes SurvivorSetPayload(std::string_view coordinator_id, uint64_t round_id,
                         std::span<const uint32_t> survivors);

// What one site sends another, encrypted: its shares of the sender's mask
// private key and of its self-mask seed, both at the receiver's x, each with
// the sender's signature over its SharePayload.
struct SharePlaintext {
  uint32_t from_index = 0;
  uint32_t to_index = 0;
  crypto::ShamirShare mask_key_share;
  crypto::ShamirShare self_mask_share;
  Bytes mask_key_signature;
  Bytes self_mask_signature;
};

// Associated data binding a ciphertext to its round, sender and receiver, so
// the coordinator cannot replay or redirect a share.
Bytes ShareAssociatedData(uint64_t round_id, uint32_t from_index,
                          uint32_t to_index);
Bytes EncodeSharePlaintext(const SharePlaintext& plaintext);
Result<SharePlaintext> DecodeSharePlaintext(ByteSpan bytes);

// The fewest shares a site accepts as the threshold of a neighbourhood of
// `size` sites (the site itself included): a strict majority, so that the
// coordinator can never hold t shares of both secrets of one site while a
// majority is honest. A graph may use a higher threshold
// (PlanNeighbourhood), never a lower one.
uint32_t ThresholdFor(size_t neighbourhood_size);

// What the SecAgg+ neighbourhood is sized against (Bell et al., CCS 2020;
// docs/protocol.md "Neighbour graph"). The corrupt sites are any
// ceil(corrupt_fraction n) sites colluding with the coordinator, fixed
// before the graph is drawn (the graph seed is fresh each round); the
// dropouts are any ceil(dropout_fraction n) sites lost before unmasking,
// also independent of the graph. Corrupt sites follow the protocol (honest
// but curious); a corrupt site that withholds its shares counts as a
// dropout.
struct SecAggAssumptions {
  double corrupt_fraction = 0.2;
  double dropout_fraction = 0.1;
  double target_failure = 0x1p-20;  // per round, for each of the two events
};

// Union bounds, over the sites, of the two ways a round's graph can fail,
// for n participants in a random k-regular ring (each site's k neighbours
// a uniformly random k-subset of the other n - 1) with threshold t:
//   privacy: some honest site has >= t corrupt neighbours, who could then
//            reconstruct both of its secrets and unmask its input;
//            (n - c) P[X >= t], X ~ Hypergeometric(n - 1, c, k).
//   correctness: some site has fewer than t surviving neighbours, so a
//            secret it shared cannot be reconstructed and the round aborts;
//            n P[Y >= k - t + 1], Y ~ Hypergeometric(n - 1, dropouts, k).
// Both are capped at 1. A pure function of its arguments.
struct NeighbourhoodFailure {
  double privacy = 0;
  double correctness = 0;
};
NeighbourhoodFailure NeighbourhoodFailureBound(
    size_t n, size_t k, uint32_t t, const SecAggAssumptions& assumptions);

// The graph a round of n participants uses: complete with a strict-majority
// threshold when n <= complete_up_to (or n <= 3); otherwise the smallest
// even degree k <= n - 1 and, for it, the smallest threshold t >= the
// strict majority of k + 1 whose failure bounds are both below the target.
// When no k meets the target, the largest k with the threshold minimising
// the larger of the two bounds (meets_target false).
struct NeighbourhoodPlan {
  size_t degree = 0;       // neighbours of each site, itself not counted
  uint32_t threshold = 0;  // out of degree + 1
  bool complete = false;
  bool meets_target = false;
  NeighbourhoodFailure failure;
};
NeighbourhoodPlan PlanNeighbourhood(size_t n, size_t complete_up_to,
                                    const SecAggAssumptions& assumptions = {});

// The neighbour graph over participant positions 0..n-1 (each list includes
// the site itself, sorted). Complete when n <= complete_up_to; otherwise a
// Harary-style ring over a random permutation, each site linked to the k/2
// nearest on either side with k = PlanNeighbourhood(n, complete_up_to).degree
// (SecAgg+).
std::vector<std::vector<uint32_t>> BuildNeighbourGraph(size_t n,
                                                       size_t complete_up_to,
                                                       std::mt19937_64& rng);

}  // namespace cls::protocol

#endif  // CLS_SECAGG_COMMON_SECAGG_H_
