#ifndef CLS_SECAGG_SERVER_ROUND_CONTEXT_H_
#define CLS_SECAGG_SERVER_ROUND_CONTEXT_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/quantization.h"
#include "crypto/shamir.h"
#include "crypto/signature.h"
#include "protocol/messages.h"

namespace cls {
class WorkerPool;
}  // namespace cls

namespace cls::coordinator {

class RoundState;

// Where the round's messages go. Implemented by the network layer (and by a
// recording fake in tests). Calls are made from the round's thread only.
class RoundSender {
 public:
  virtual ~RoundSender() = default;
  virtual void Send(const std::string& site_id, protocol::Message message) = 0;
  // The site broke the protocol: close its connection.
  virtual void Disconnect(const std::string& site_id,
                          std::string_view reason) = 0;
  // The round's thread, where work done on a WorkerPool reports back. Only
  // rounds given a pool need it.
  virtual boost::asio::any_io_executor executor() { return {}; }
};

enum class RoundStage {
  kAdvertiseKeys,
  kShareKeys,
  kMaskedInput,
  kConsistencyCheck,
  kUnmask,
  kCompleted,
  kAborted,
};
std::string_view RoundStageName(RoundStage stage);

// What the coordinator decides before a round starts.
struct RoundSettings {
  uint64_t round_id = 0;
  // The CN of the coordinator's certificate: what the sites bind into every
  // signature of the round (they read it from the TLS handshake).
  std::string coordinator_id;
  std::string model_version;
  std::string model_hash;
  std::string model_kind;
  std::string model_spec;  // core::ModelSpec text; "" = the sites' default
  std::vector<float> global_parameters;
  protocol::TrainingConfig training;
  core::QuantizationSpec quantization;
  std::chrono::milliseconds stage_timeout{30000};
  size_t complete_graph_up_to = 32;
  uint64_t graph_seed = 0;
  // Length of each site's masked input; 0 = one entry per parameter. A
  // feature-statistics round sums a differently sized vector.
  size_t input_length = 0;
  // Federation-wide feature statistics sent with the announce (may be empty).
  std::vector<double> feature_statistics;
  // Distributed DP: each site's Skellam variance per quantized coordinate
  // (sent in the announce); 0 = no noise at the sites.
  double noise_variance = 0;
  // Secure aggregation off ([robust] secure_aggregation = false): a round of
  // one site is allowed. The protocol still runs (the site needs no other
  // code path) but with threshold 1 its self-mask seed is revealed at unmask,
  // so the coordinator learns that site's own input: only for the audited
  // per-site mode, never by default.
  bool allow_single_site = false;
  // The fewest live sites any stage may close with ([federation] min_sites);
  // never below 2 unless allow_single_site.
  size_t min_sites = 0;

  size_t InputLength() const {
    return input_length ? input_length : global_parameters.size();
  }
};

struct RoundParticipant {
  std::string site_id;
  double weight = 0;  // FedAvg weight; the participants' weights sum to 1
  // The certificate the site connected with: relayed to its neighbours and
  // used to check what it signs.
  std::shared_ptr<const crypto::Certificate> certificate;
};

// A site that broke the protocol in a way its signature proves (a share it
// dealt that does not fit its secret, or a share it revealed that its owner
// never signed): named, audited and distrusted by the federation.
struct Misbehaviour {
  std::string site_id;
  std::string what;
};

// A share revealed at unmask, with its owner's signature.
struct RevealedShare {
  crypto::ShamirShare share;
  Bytes signature;
  uint32_t holder = 0;  // who revealed it
};

// One participant's progress. `index` is its 1-based position, which is also
// its Shamir evaluation point.
struct ParticipantState {
  std::string site_id;
  uint32_t index = 0;
  double weight = 0;
  std::shared_ptr<const crypto::Certificate> certificate;
  std::vector<uint32_t> neighbours;  // 1-based, includes itself
  uint32_t threshold = 0;

  bool dropped = false;
  std::string drop_reason;
  bool advertised = false;
  protocol::AdvertiseKeys keys;
  bool shared = false;
  // In U2: its shares were forwarded, so its neighbours mask with it.
  bool in_masking_set = false;
  std::vector<protocol::EncryptedShare> shares_out;
  // Its masked input is in the sum (even if it was lost afterwards).
  bool masked = false;
  protocol::ValidationMetrics metrics;
  bool signed_survivors = false;
  Bytes survivor_signature;
  bool unmasked = false;
};

// What a completed round produced.
struct RoundOutcome {
  std::vector<float> mean_delta;          // weighted mean of clipped deltas
  std::vector<uint32_t> ring_sum;         // the unmasked sum mod 2^ring_bits
  std::vector<std::string> contributors;  // sites whose input is in the sum
  protocol::ValidationMetrics metrics;    // summed over contributors
  double contributor_weight = 0;
};

// The data of one round, handed from stage to stage. Owned by SecureRound.
struct RoundContext {
  RoundSettings settings;
  std::vector<ParticipantState> participants;  // participants[index - 1]
  std::unordered_map<std::string, uint32_t> index_of;
  RoundSender* sender = nullptr;

  // U1: the sites in the key directories (advertised, still live when the
  // stage closed).
  std::set<uint32_t> key_directory;
  // U3: the sites whose masked input is in the sum, as sent for signing.
  std::vector<uint32_t> survivor_set;
  // Running modular sum of masked inputs, then the unmasked sum.
  std::vector<uint32_t> masked_sum;
  // Shares received at unmask, by owner index.
  std::map<uint32_t, std::vector<RevealedShare>> self_mask_shares;
  std::map<uint32_t, std::vector<RevealedShare>> mask_key_shares;

  RoundOutcome outcome;
  std::string abort_reason;
  std::vector<Misbehaviour> misbehaviours;

  // With a pool, the unmask arithmetic runs there and its result comes back
  // on sender->executor() (SecureRound::Start); without, it runs inline.
  WorkerPool* workers = nullptr;
  // Moves the round to the state background work produced (set by
  // SecureRound); call on the round's thread.
  std::function<void(std::unique_ptr<RoundState>)> advance;
  // Expires with the round, so background work that finishes after the
  // round was destroyed is dropped.
  std::shared_ptr<const bool> lifetime = std::make_shared<const bool>(true);

  ParticipantState& at(uint32_t index) { return participants[index - 1]; }
  const ParticipantState& at(uint32_t index) const {
    return participants[index - 1];
  }
  uint32_t Modulus() const;  // 2^ring_bits - 1 as a bit mask
  // The fewest live sites a stage may close with.
  size_t MinSites() const;
  // Records a protocol breach the site's own signature proves.
  void Blame(uint32_t index, std::string what);
  // Marks the site dropped for this round. With disconnect, its connection is
  // closed too (it broke the protocol).
  void Drop(uint32_t index, std::string reason, bool disconnect);
  void Send(uint32_t index, protocol::Message message);
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_CONTEXT_H_
