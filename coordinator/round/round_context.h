#ifndef CLS_COORDINATOR_ROUND_ROUND_CONTEXT_H_
#define CLS_COORDINATOR_ROUND_ROUND_CONTEXT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/quantization.h"
#include "crypto/shamir.h"
#include "protocol/messages.h"

namespace cls::coordinator {

// Where the round's messages go. Implemented by the network layer (and by a
// recording fake in tests). Calls are made from the round's thread only.
class RoundSender {
 public:
  virtual ~RoundSender() = default;
  virtual void Send(const std::string& site_id, protocol::Message message) = 0;
  // The site broke the protocol: close its connection.
  virtual void Disconnect(const std::string& site_id,
                          std::string_view reason) = 0;
};

enum class RoundStage {
  kAdvertiseKeys,
  kShareKeys,
  kMaskedInput,
  kUnmask,
  kCompleted,
  kAborted,
};
std::string_view RoundStageName(RoundStage stage);

// What the coordinator decides before a round starts.
struct RoundSettings {
  uint64_t round_id = 0;
  std::string model_version;
  std::string model_hash;
  std::string model_kind;
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

  size_t InputLength() const {
    return input_length ? input_length : global_parameters.size();
  }
};

struct RoundParticipant {
  std::string site_id;
  double weight = 0;  // FedAvg weight; the participants' weights sum to 1
};

// One participant's progress. `index` is its 1-based position, which is also
// its Shamir evaluation point.
struct ParticipantState {
  std::string site_id;
  uint32_t index = 0;
  double weight = 0;
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
  bool masked = false;
  protocol::ValidationMetrics metrics;
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

  // Running modular sum of masked inputs, then the unmasked sum.
  std::vector<uint32_t> masked_sum;
  // Shares received at unmask, by owner index.
  std::map<uint32_t, std::vector<crypto::ShamirShare>> self_mask_shares;
  std::map<uint32_t, std::vector<crypto::ShamirShare>> mask_key_shares;

  RoundOutcome outcome;
  std::string abort_reason;

  ParticipantState& at(uint32_t index) { return participants[index - 1]; }
  const ParticipantState& at(uint32_t index) const {
    return participants[index - 1];
  }
  uint32_t Modulus() const;  // 2^ring_bits - 1 as a bit mask
  // Marks the site dropped for this round. With disconnect, its connection is
  // closed too (it broke the protocol).
  void Drop(uint32_t index, std::string reason, bool disconnect);
  void Send(uint32_t index, protocol::Message message);
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_CONTEXT_H_
