#ifndef CLS_PROTOCOL_MESSAGES_H_
#define CLS_PROTOCOL_MESSAGES_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/bytes.h"

namespace cls::protocol {

// Bumped on any incompatible change to cls.capnp or the stage semantics.
inline constexpr uint16_t kProtocolVersion = 2;

// Plain C++ mirrors of the Cap'n Proto messages in cls.capnp. The round logic
// works on these; only the codecs (codec.h) touch Cap'n Proto.

// The site's record-level DP-SGD ledger as it reports it (issue 14); all
// zero when dp_sgd is off.
struct RecordPrivacyReport {
  bool dp_sgd = false;
  double epsilon = 0;
  double delta = 0;
  double target_epsilon = 0;
  uint64_t refusals = 0;
};

struct Hello {
  std::string site_id;
  std::string site_name;
  std::string location;
  uint64_t num_samples = 0;
  std::string agent_version;
  std::string model_version;
  RecordPrivacyReport record_privacy = {};
};

struct Welcome {
  std::string site_id;
  bool approved = false;
};

struct Rejected {
  std::string reason;
};

struct TrainingConfig {
  uint32_t epochs = 5;
  uint32_t batch_size = 32;
  double learning_rate = 0.1;
  double l2 = 1e-4;
  uint64_t seed = 1;
  double proximal_mu = 0;  // FedProx; 0 = plain local SGD (FedAvg)
};

struct Neighbour {
  std::string site_id;
  uint32_t index = 0;
};

struct RoundAnnounce {
  uint64_t round_id = 0;
  std::string model_version;
  std::string model_hash;
  std::string model_kind;
  std::vector<float> parameters;
  TrainingConfig training;
  double clip = 1.0;
  uint8_t value_bits = 16;
  uint8_t ring_bits = 32;
  double weight = 0;
  uint32_t self_index = 0;
  std::vector<Neighbour> neighbours;
  uint32_t threshold = 0;
  uint32_t stage_timeout_ms = 0;
  std::vector<double> feature_statistics;
  // Distributed DP: Skellam variance per quantized coordinate; 0 = none.
  double noise_variance = 0;
  // core::ModelSpec text; empty = the site's default for model_kind.
  std::string model_spec = {};
};

struct AdvertiseKeys {
  uint64_t round_id = 0;
  Key32 cipher_public_key{};
  Key32 mask_public_key{};
  Key32 self_mask_commitment{};
  Bytes signature;  // over secagg.h AdvertisePayload
};

struct KeyEntry {
  uint32_t index = 0;
  Key32 cipher_public_key{};
  Key32 mask_public_key{};
  Key32 self_mask_commitment{};
  Bytes certificate;  // DER
  Bytes signature;
};

struct KeyDirectory {
  uint64_t round_id = 0;
  std::vector<KeyEntry> keys;
};

struct EncryptedShare {
  uint32_t from_index = 0;
  uint32_t to_index = 0;
  Bytes ciphertext;
};

struct ShareKeys {
  uint64_t round_id = 0;
  std::vector<EncryptedShare> shares;
};

struct ShareDelivery {
  uint64_t round_id = 0;
  std::vector<EncryptedShare> shares;
};

struct ValidationMetrics {
  uint64_t count = 0;
  uint64_t correct = 0;
  double loss_sum = 0;
  uint64_t train_samples = 0;
  // K > 2 only (core::ClassCounts); empty for binary models.
  std::vector<uint64_t> class_correct = {};
  std::vector<uint64_t> class_support = {};
  std::vector<uint64_t> class_predicted = {};
};

struct MaskedInput {
  uint64_t round_id = 0;
  std::vector<uint32_t> masked;  // each < 2^ring_bits
  ValidationMetrics metrics;
  // The width `masked` is packed at on the wire: the round's ring bits, 1..32
  // (another value is sent at 32, which the coordinator then refuses).
  uint8_t ring_bits = 32;
  RecordPrivacyReport record_privacy = {};
};

struct SurvivorSet {
  uint64_t round_id = 0;
  std::vector<uint32_t> survivors;  // sorted, every site whose input is in
};

struct SurvivorSetSignature {
  uint64_t round_id = 0;
  Bytes signature;  // over secagg.h SurvivorSetPayload
};

struct SurvivorSignature {
  uint32_t index = 0;
  Bytes signature;
};

struct UnmaskRequest {
  uint64_t round_id = 0;
  std::vector<uint32_t> survivors;
  std::vector<uint32_t> dropped;
  std::vector<SurvivorSignature> signatures;
};

struct SecretShare {
  uint32_t owner_index = 0;
  uint32_t x = 0;
  std::vector<uint64_t> y;
  Bytes signature;  // the owner's, over secagg.h SharePayload
};

struct UnmaskResponse {
  uint64_t round_id = 0;
  std::vector<SecretShare> self_mask_shares;
  std::vector<SecretShare> mask_key_shares;
};

struct RoundResult {
  uint64_t round_id = 0;
  std::string model_version;
  std::string model_hash;
  std::vector<float> parameters;
  uint32_t participants = 0;
  std::vector<double> feature_statistics;
};

struct RoundAborted {
  uint64_t round_id = 0;
  std::string reason;
};

// Binary classifiers: confusion counts at threshold 0.5 and per-class
// histograms of the predicted positive probability (cls.capnp ScoreCounts).
// Empty histograms: not a binary classifier, or nothing to report.
struct ScoreCounts {
  uint64_t true_positives = 0;
  uint64_t false_positives = 0;
  uint64_t true_negatives = 0;
  uint64_t false_negatives = 0;
  std::vector<uint64_t> positive_histogram;
  std::vector<uint64_t> negative_histogram;
};

struct EvaluationReport {
  uint64_t round_id = 0;
  std::string model_version;
  ValidationMetrics metrics;
  ScoreCounts scores;
};

struct ServedModel {
  std::string version_id;
  std::string model_hash;
  std::string model_kind;
  std::vector<float> parameters;
  std::string model_spec = {};  // core::ModelSpec text; empty = site default
};

struct DeploymentUpdate {
  std::string deployment_id;
  std::string strategy;
  ServedModel current;
  ServedModel candidate;  // version_id empty: no rollout in progress
  double rollout_percent = 0;
  std::string salt;
  std::vector<double> feature_statistics;
  // The coordinator's [drift] settings for the sites' DriftMonitors
  // (docs/drift.md); 0 = the site's own defaults.
  double drift_performance_threshold = 0;
  uint32_t drift_window_size = 0;
  // Each version's baseline accuracy; < 0 = none (the accuracy observed).
  double current_baseline = -1;
  double candidate_baseline = -1;
};

struct DeploymentAck {
  std::string deployment_id;
  bool accepted = false;
  std::string current_version;
  std::string candidate_version;
  std::string reason;
};

struct DriftAlertNote {
  std::string version_id;
  std::string drift_type;
  double severity = 0;
  std::string detector;
  int64_t timestamp_s = 0;
};

struct DriftReport {
  int64_t reported_at_s = 0;
  std::vector<std::string> summaries;  // SerializeDriftSummary JSON
  std::vector<DriftAlertNote> alerts;
};

struct AuditCheckpoint {
  std::string checkpoint_json;  // signed; verified with clsctl audit verify
};

// The order matches the Envelope.body union's field order in cls.capnp, so
// Message::index() + 1 is the union field number (and the frame kind).
using Message =
    std::variant<Hello, Welcome, Rejected, RoundAnnounce, AdvertiseKeys,
                 KeyDirectory, ShareKeys, ShareDelivery, MaskedInput,
                 UnmaskRequest, UnmaskResponse, RoundResult, RoundAborted,
                 EvaluationReport, DeploymentUpdate, DeploymentAck, DriftReport,
                 AuditCheckpoint, SurvivorSet, SurvivorSetSignature>;

// "hello", "masked_input", ... for logs (never the payload).
std::string_view MessageName(const Message& message);
std::string_view MessageKindName(uint32_t kind);

}  // namespace cls::protocol

#endif  // CLS_PROTOCOL_MESSAGES_H_
