#include "protocol/frame.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "cls.capnp.h"
#include "protocol/bit_pack.h"

namespace cls::protocol {
namespace {

// Vector blobs are little-endian 32-bit words copied with memcpy.
static_assert(std::endian::native == std::endian::little,
              "frame.cc copies vector blobs as host words");

// ---------------------------------------------------------------------------
// Kinds and limits.

template <typename T, size_t I = 0>
constexpr uint32_t KindOf() {
  if constexpr (std::is_same_v<T, std::variant_alternative_t<I, Message>>) {
    return static_cast<uint32_t>(I + 1);
  } else {
    return KindOf<T, I + 1>();
  }
}

using Which = wire::Envelope::Body::Which;

constexpr uint32_t KindOf(Which which) {
  return static_cast<uint32_t>(which) + 1;
}

// The Message variant and the Envelope.body union list the same messages in
// the same order.
static_assert(KindOf(Which::HELLO) == KindOf<Hello>());
static_assert(KindOf(Which::WELCOME) == KindOf<Welcome>());
static_assert(KindOf(Which::REJECTED) == KindOf<Rejected>());
static_assert(KindOf(Which::ANNOUNCE) == KindOf<RoundAnnounce>());
static_assert(KindOf(Which::ADVERTISE_KEYS) == KindOf<AdvertiseKeys>());
static_assert(KindOf(Which::KEY_DIRECTORY) == KindOf<KeyDirectory>());
static_assert(KindOf(Which::SHARE_KEYS) == KindOf<ShareKeys>());
static_assert(KindOf(Which::SHARE_DELIVERY) == KindOf<ShareDelivery>());
static_assert(KindOf(Which::MASKED_INPUT) == KindOf<MaskedInput>());
static_assert(KindOf(Which::UNMASK_REQUEST) == KindOf<UnmaskRequest>());
static_assert(KindOf(Which::UNMASK_RESPONSE) == KindOf<UnmaskResponse>());
static_assert(KindOf(Which::ROUND_RESULT) == KindOf<RoundResult>());
static_assert(KindOf(Which::ROUND_ABORTED) == KindOf<RoundAborted>());
static_assert(KindOf(Which::EVALUATION_REPORT) == KindOf<EvaluationReport>());
static_assert(KindOf(Which::DEPLOYMENT_UPDATE) == KindOf<DeploymentUpdate>());
static_assert(KindOf(Which::DEPLOYMENT_ACK) == KindOf<DeploymentAck>());
static_assert(KindOf(Which::DRIFT_REPORT) == KindOf<DriftReport>());
static_assert(KindOf(Which::AUDIT_CHECKPOINT) == KindOf<AuditCheckpoint>());
static_assert(KindOf(Which::SURVIVOR_SET) == KindOf<SurvivorSet>());
static_assert(KindOf(Which::SURVIVOR_SET_SIGNATURE) ==
              KindOf<SurvivorSetSignature>());
// A new kind also needs a payload limit (MaxPayloadBytes) and a direction
// (DirectionOf): without them, readers refuse it at the header.
static_assert(std::variant_size_v<Message> == 20);

constexpr uint32_t kKiB = 1024;
constexpr uint32_t kMiB = 1024 * kKiB;
constexpr uint32_t kControlPayloadLimit = 64 * kKiB;
constexpr uint32_t kKeyPayloadLimit = 16 * kMiB;
static_assert(kMaxParameters * 4 + kMiB <= UINT32_MAX);
constexpr uint32_t kVectorPayloadLimit =
    static_cast<uint32_t>(kMaxParameters * 4 + kMiB);

// Field limits checked while converting to the C++ structs.
constexpr size_t kMaxIdBytes = 256;  // ids, names, versions, hashes
constexpr size_t kMaxReasonBytes = 4 * kKiB;
constexpr size_t kMaxEntries = 65536;    // neighbours, keys, shares, indices
constexpr size_t kMaxShareWords = 1024;  // SecretShare.y
constexpr size_t kMaxCiphertextBytes = 64 * kKiB;
constexpr size_t kMaxCertificateBytes = 8 * kKiB;  // DER
constexpr size_t kMaxSignatureBytes = 256;         // DER ECDSA P-256: <= 72
// EvaluationReport score histograms: 2 x 1000 x 8 bytes stays far below the
// control payload limit.
constexpr size_t kMaxScoreBins = 1000;

// Serving (deployments and drift reports).
constexpr size_t kMaxDriftSummaryBytes = 128 * kKiB;
constexpr size_t kMaxDriftSummaries = 16;  // versions per report
constexpr size_t kMaxDriftAlerts = 1000;
constexpr uint32_t kDriftReportPayloadLimit = 4 * kMiB;
constexpr size_t kMaxCheckpointBytes = 16 * kKiB;
// Two parameter vectors and the feature statistics.
static_assert(uint64_t{kMaxParameters} * 16 + kMiB <= UINT32_MAX);
constexpr uint32_t kDeploymentPayloadLimit =
    static_cast<uint32_t>(kMaxParameters * 16 + kMiB);

constexpr int kNestingLimit = 16;
constexpr uint64_t kMinTraversalWords = 64;

std::string Str(uint64_t n) { return std::to_string(n); }

uint32_t LoadU32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 |
         static_cast<uint32_t>(p[2]) << 16 | static_cast<uint32_t>(p[3]) << 24;
}

void AppendU32(Bytes& out, uint32_t v) {
  for (int shift = 0; shift < 32; shift += 8) {
    out.push_back(static_cast<uint8_t>(v >> shift));
  }
}

Status CheckHeader(const FrameHeader& header) {
  const uint32_t limit = MaxPayloadBytes(header.kind);
  if (limit == 0) {
    return InvalidArgument("frame: unknown kind " + Str(header.kind));
  }
  const std::string name(MessageKindName(header.kind));
  if (header.length == 0) {
    return InvalidArgument("frame: " + name + " payload is empty");
  }
  if (header.length > limit) {
    return InvalidArgument("frame: " + name + " payload " + Str(header.length) +
                           " bytes, at most " + Str(limit));
  }
  if (header.length % 8 != 0) {
    return InvalidArgument("frame: " + name + " payload " + Str(header.length) +
                           " bytes, not a multiple of 8");
  }
  return {};
}

// The standard serialisation starts with a segment table: u32 segment count
// - 1, then one u32 size (in words) per segment, padded to a whole word.
Status CheckSegmentTable(std::span<const uint64_t> words) {
  if (words.empty()) return InvalidArgument("frame: payload is empty");
  const auto* bytes = reinterpret_cast<const uint8_t*>(words.data());
  const uint64_t segments = uint64_t{LoadU32(bytes)} + 1;
  if (segments > kMaxSegments) {
    return InvalidArgument("frame: " + Str(segments) + " segments, at most " +
                           Str(kMaxSegments));
  }
  const uint64_t table_words = segments / 2 + 1;
  if (words.size() < table_words) {
    return InvalidArgument("frame: segment table of " + Str(table_words) +
                           " words, payload has " + Str(words.size()));
  }
  uint64_t total = table_words;
  for (uint64_t i = 0; i < segments; ++i) {
    total += LoadU32(bytes + 4 + 4 * i);
  }
  if (total != words.size()) {
    return InvalidArgument("frame: segment table and segments take " +
                           Str(total) + " words, payload has " +
                           Str(words.size()));
  }
  return {};
}

// ---------------------------------------------------------------------------
// C++ struct -> Cap'n Proto.

capnp::Text::Reader AsText(const std::string& s) {
  return {s.data(), s.size()};
}

capnp::Data::Reader AsData(const Key32& key) {
  return {key.data(), key.size()};
}

capnp::Data::Reader AsData(const Bytes& bytes) {
  return {bytes.data(), bytes.size()};
}

template <typename T>
void CopyWords(capnp::Data::Builder out, const std::vector<T>& values) {
  static_assert((sizeof(T) == 4 || sizeof(T) == 8) &&
                std::is_trivially_copyable_v<T>);
  if (!values.empty()) {
    std::memcpy(out.begin(), values.data(), values.size() * sizeof(T));
  }
}

void Fill(wire::ValidationMetrics::Builder b, const ValidationMetrics& m) {
  b.setCount(m.count);
  b.setCorrect(m.correct);
  b.setLossSum(m.loss_sum);
  b.setTrainSamples(m.train_samples);
}

template <typename ListBuilder>
void FillShares(ListBuilder list, const std::vector<EncryptedShare>& shares) {
  for (size_t i = 0; i < shares.size(); ++i) {
    auto b = list[static_cast<unsigned>(i)];
    b.setFromIndex(shares[i].from_index);
    b.setToIndex(shares[i].to_index);
    b.setCiphertext(AsData(shares[i].ciphertext));
  }
}

template <typename ListBuilder>
void FillSecretShares(ListBuilder list,
                      const std::vector<SecretShare>& shares) {
  for (size_t i = 0; i < shares.size(); ++i) {
    auto b = list[static_cast<unsigned>(i)];
    b.setOwnerIndex(shares[i].owner_index);
    b.setX(shares[i].x);
    auto y = b.initY(static_cast<unsigned>(shares[i].y.size()));
    for (size_t j = 0; j < shares[i].y.size(); ++j) {
      y.set(static_cast<unsigned>(j), shares[i].y[j]);
    }
    b.setSignature(AsData(shares[i].signature));
  }
}

template <typename ListBuilder>
void FillIndices(ListBuilder list, const std::vector<uint32_t>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    list.set(static_cast<unsigned>(i), values[i]);
  }
}

using BodyBuilder = wire::Envelope::Body::Builder;

void Fill(BodyBuilder body, const Hello& m) {
  auto b = body.initHello();
  b.setSiteId(AsText(m.site_id));
  b.setSiteName(AsText(m.site_name));
  b.setLocation(AsText(m.location));
  b.setNumSamples(m.num_samples);
  b.setAgentVersion(AsText(m.agent_version));
  b.setModelVersion(AsText(m.model_version));
}

void Fill(BodyBuilder body, const Welcome& m) {
  auto b = body.initWelcome();
  b.setSiteId(AsText(m.site_id));
  b.setApproved(m.approved);
}

void Fill(BodyBuilder body, const Rejected& m) {
  body.initRejected().setReason(AsText(m.reason));
}

void Fill(BodyBuilder body, const RoundAnnounce& m) {
  auto b = body.initAnnounce();
  b.setRoundId(m.round_id);
  b.setModelVersion(AsText(m.model_version));
  b.setModelHash(AsText(m.model_hash));
  b.setModelKind(AsText(m.model_kind));
  CopyWords(b.initParameters(static_cast<unsigned>(m.parameters.size() * 4)),
            m.parameters);
  auto t = b.initTraining();
  t.setEpochs(m.training.epochs);
  t.setBatchSize(m.training.batch_size);
  t.setLearningRate(m.training.learning_rate);
  t.setL2(m.training.l2);
  t.setSeed(m.training.seed);
  t.setProximalMu(m.training.proximal_mu);
  b.setClip(m.clip);
  b.setValueBits(m.value_bits);
  b.setRingBits(m.ring_bits);
  b.setWeight(m.weight);
  b.setSelfIndex(m.self_index);
  auto neighbours =
      b.initNeighbours(static_cast<unsigned>(m.neighbours.size()));
  for (size_t i = 0; i < m.neighbours.size(); ++i) {
    auto n = neighbours[static_cast<unsigned>(i)];
    n.setSiteId(AsText(m.neighbours[i].site_id));
    n.setIndex(m.neighbours[i].index);
  }
  b.setThreshold(m.threshold);
  b.setStageTimeoutMs(m.stage_timeout_ms);
  CopyWords(b.initFeatureStatistics(
                static_cast<unsigned>(m.feature_statistics.size() * 8)),
            m.feature_statistics);
  b.setNoiseVariance(m.noise_variance);
}

void Fill(BodyBuilder body, const AdvertiseKeys& m) {
  auto b = body.initAdvertiseKeys();
  b.setRoundId(m.round_id);
  b.setCipherPublicKey(AsData(m.cipher_public_key));
  b.setMaskPublicKey(AsData(m.mask_public_key));
  b.setSelfMaskCommitment(AsData(m.self_mask_commitment));
  b.setSignature(AsData(m.signature));
}

void Fill(BodyBuilder body, const KeyDirectory& m) {
  auto b = body.initKeyDirectory();
  b.setRoundId(m.round_id);
  auto keys = b.initKeys(static_cast<unsigned>(m.keys.size()));
  for (size_t i = 0; i < m.keys.size(); ++i) {
    auto k = keys[static_cast<unsigned>(i)];
    k.setIndex(m.keys[i].index);
    k.setCipherPublicKey(AsData(m.keys[i].cipher_public_key));
    k.setMaskPublicKey(AsData(m.keys[i].mask_public_key));
    k.setSelfMaskCommitment(AsData(m.keys[i].self_mask_commitment));
    k.setCertificate(AsData(m.keys[i].certificate));
    k.setSignature(AsData(m.keys[i].signature));
  }
}

void Fill(BodyBuilder body, const ShareKeys& m) {
  auto b = body.initShareKeys();
  b.setRoundId(m.round_id);
  FillShares(b.initShares(static_cast<unsigned>(m.shares.size())), m.shares);
}

void Fill(BodyBuilder body, const ShareDelivery& m) {
  auto b = body.initShareDelivery();
  b.setRoundId(m.round_id);
  FillShares(b.initShares(static_cast<unsigned>(m.shares.size())), m.shares);
}

// A masked vector's width on the wire; 32 (lossless) for a width that is
// not one, so a wrong width is refused by the receiver, not truncated here.
int MaskedBits(const MaskedInput& m) {
  return m.ring_bits >= kMinPackedBits && m.ring_bits <= kMaxPackedBits
             ? m.ring_bits
             : kMaxPackedBits;
}

void Fill(BodyBuilder body, const MaskedInput& m) {
  auto b = body.initMaskedInput();
  b.setRoundId(m.round_id);
  const int bits = MaskedBits(m);
  auto blob =
      b.initMasked(static_cast<unsigned>(PackedBytes(m.masked.size(), bits)));
  PackBits(m.masked, bits, std::span<uint8_t>(blob.begin(), blob.size()));
  b.setBits(static_cast<uint8_t>(bits));
  b.setCount(static_cast<uint32_t>(m.masked.size()));
  Fill(b.initMetrics(), m.metrics);
}

void Fill(BodyBuilder body, const UnmaskRequest& m) {
  auto b = body.initUnmaskRequest();
  b.setRoundId(m.round_id);
  FillIndices(b.initSurvivors(static_cast<unsigned>(m.survivors.size())),
              m.survivors);
  FillIndices(b.initDropped(static_cast<unsigned>(m.dropped.size())),
              m.dropped);
  auto signatures =
      b.initSignatures(static_cast<unsigned>(m.signatures.size()));
  for (size_t i = 0; i < m.signatures.size(); ++i) {
    auto sig = signatures[static_cast<unsigned>(i)];
    sig.setIndex(m.signatures[i].index);
    sig.setSignature(AsData(m.signatures[i].signature));
  }
}

void Fill(BodyBuilder body, const SurvivorSet& m) {
  auto b = body.initSurvivorSet();
  b.setRoundId(m.round_id);
  FillIndices(b.initSurvivors(static_cast<unsigned>(m.survivors.size())),
              m.survivors);
}

void Fill(BodyBuilder body, const SurvivorSetSignature& m) {
  auto b = body.initSurvivorSetSignature();
  b.setRoundId(m.round_id);
  b.setSignature(AsData(m.signature));
}

void Fill(BodyBuilder body, const UnmaskResponse& m) {
  auto b = body.initUnmaskResponse();
  b.setRoundId(m.round_id);
  FillSecretShares(
      b.initSelfMaskShares(static_cast<unsigned>(m.self_mask_shares.size())),
      m.self_mask_shares);
  FillSecretShares(
      b.initMaskKeyShares(static_cast<unsigned>(m.mask_key_shares.size())),
      m.mask_key_shares);
}

void Fill(BodyBuilder body, const RoundResult& m) {
  auto b = body.initRoundResult();
  b.setRoundId(m.round_id);
  b.setModelVersion(AsText(m.model_version));
  b.setModelHash(AsText(m.model_hash));
  CopyWords(b.initParameters(static_cast<unsigned>(m.parameters.size() * 4)),
            m.parameters);
  b.setParticipants(m.participants);
  CopyWords(b.initFeatureStatistics(
                static_cast<unsigned>(m.feature_statistics.size() * 8)),
            m.feature_statistics);
}

void Fill(BodyBuilder body, const RoundAborted& m) {
  auto b = body.initRoundAborted();
  b.setRoundId(m.round_id);
  b.setReason(AsText(m.reason));
}

void Fill(BodyBuilder body, const EvaluationReport& m) {
  auto b = body.initEvaluationReport();
  b.setRoundId(m.round_id);
  b.setModelVersion(AsText(m.model_version));
  Fill(b.initMetrics(), m.metrics);
  auto scores = b.initScores();
  scores.setTruePositives(m.scores.true_positives);
  scores.setFalsePositives(m.scores.false_positives);
  scores.setTrueNegatives(m.scores.true_negatives);
  scores.setFalseNegatives(m.scores.false_negatives);
  auto pos = scores.initPositiveHistogram(
      static_cast<unsigned>(m.scores.positive_histogram.size()));
  for (size_t i = 0; i < m.scores.positive_histogram.size(); ++i) {
    pos.set(static_cast<unsigned>(i), m.scores.positive_histogram[i]);
  }
  auto neg = scores.initNegativeHistogram(
      static_cast<unsigned>(m.scores.negative_histogram.size()));
  for (size_t i = 0; i < m.scores.negative_histogram.size(); ++i) {
    neg.set(static_cast<unsigned>(i), m.scores.negative_histogram[i]);
  }
}

void Fill(wire::ServedModel::Builder b, const ServedModel& m) {
  b.setVersionId(AsText(m.version_id));
  b.setModelHash(AsText(m.model_hash));
  b.setModelKind(AsText(m.model_kind));
  CopyWords(b.initParameters(static_cast<unsigned>(m.parameters.size() * 4)),
            m.parameters);
}

void Fill(BodyBuilder body, const DeploymentUpdate& m) {
  auto b = body.initDeploymentUpdate();
  b.setDeploymentId(AsText(m.deployment_id));
  b.setStrategy(AsText(m.strategy));
  Fill(b.initCurrent(), m.current);
  Fill(b.initCandidate(), m.candidate);
  b.setRolloutPercent(m.rollout_percent);
  b.setSalt(AsText(m.salt));
  CopyWords(b.initFeatureStatistics(
                static_cast<unsigned>(m.feature_statistics.size() * 8)),
            m.feature_statistics);
}

void Fill(BodyBuilder body, const DeploymentAck& m) {
  auto b = body.initDeploymentAck();
  b.setDeploymentId(AsText(m.deployment_id));
  b.setAccepted(m.accepted);
  b.setCurrentVersion(AsText(m.current_version));
  b.setCandidateVersion(AsText(m.candidate_version));
  b.setReason(AsText(m.reason));
}

void Fill(BodyBuilder body, const AuditCheckpoint& m) {
  body.initAuditCheckpoint().setCheckpointJson(AsText(m.checkpoint_json));
}

void Fill(BodyBuilder body, const DriftReport& m) {
  auto b = body.initDriftReport();
  b.setReportedAtS(m.reported_at_s);
  auto summaries = b.initSummaries(static_cast<unsigned>(m.summaries.size()));
  for (size_t i = 0; i < m.summaries.size(); ++i) {
    summaries.set(static_cast<unsigned>(i), AsText(m.summaries[i]));
  }
  auto alerts = b.initAlerts(static_cast<unsigned>(m.alerts.size()));
  for (size_t i = 0; i < m.alerts.size(); ++i) {
    auto a = alerts[static_cast<unsigned>(i)];
    a.setVersionId(AsText(m.alerts[i].version_id));
    a.setDriftType(AsText(m.alerts[i].drift_type));
    a.setSeverity(m.alerts[i].severity);
    a.setDetector(AsText(m.alerts[i].detector));
    a.setTimestampS(m.alerts[i].timestamp_s);
  }
}

// An upper estimate of a message's size in words (pointers, struct sections,
// list tags, texts and blobs), so that it is built in one segment.
constexpr size_t kSlackWords = 64;
constexpr size_t kMaxSegmentWords =
    (size_t{1} << 29) - 1;  // Cap'n Proto's limit

size_t BlobWords(size_t bytes) { return bytes / 8 + 2; }  // + NUL, + tag
size_t TextWords(const std::string& s) { return BlobWords(s.size() + 1); }

size_t EstimateWords(const Hello& m) {
  return TextWords(m.site_id) + TextWords(m.site_name) + TextWords(m.location) +
         TextWords(m.agent_version) + TextWords(m.model_version);
}
size_t EstimateWords(const Welcome& m) { return TextWords(m.site_id); }
size_t EstimateWords(const Rejected& m) { return TextWords(m.reason); }
size_t EstimateWords(const RoundAnnounce& m) {
  size_t words = TextWords(m.model_version) + TextWords(m.model_hash) +
                 TextWords(m.model_kind) + BlobWords(m.parameters.size() * 4);
  for (const auto& n : m.neighbours) words += 2 + TextWords(n.site_id);
  return words + BlobWords(m.feature_statistics.size() * 8);
}
size_t EstimateWords(const AdvertiseKeys& m) {
  return 3 * 4 + BlobWords(m.signature.size());
}
size_t EstimateWords(const KeyDirectory& m) {
  size_t words = 0;
  for (const auto& k : m.keys) {
    words += 5 + 3 * 4 + BlobWords(k.certificate.size()) +
             BlobWords(k.signature.size());
  }
  return words;
}
size_t EstimateShareWords(const std::vector<EncryptedShare>& shares) {
  size_t words = 0;
  for (const auto& s : shares) words += 2 + BlobWords(s.ciphertext.size());
  return words;
}
size_t EstimateWords(const ShareKeys& m) {
  return EstimateShareWords(m.shares);
}
size_t EstimateWords(const ShareDelivery& m) {
  return EstimateShareWords(m.shares);
}
size_t EstimateWords(const MaskedInput& m) {
  return BlobWords(PackedBytes(m.masked.size(), MaskedBits(m)));
}
size_t EstimateWords(const UnmaskRequest& m) {
  size_t words =
      BlobWords(m.survivors.size() * 4) + BlobWords(m.dropped.size() * 4);
  for (const auto& s : m.signatures) words += 3 + BlobWords(s.signature.size());
  return words;
}
size_t EstimateWords(const SurvivorSet& m) {
  return BlobWords(m.survivors.size() * 4);
}
size_t EstimateWords(const SurvivorSetSignature& m) {
  return BlobWords(m.signature.size());
}
size_t EstimateWords(const UnmaskResponse& m) {
  size_t words = 0;
  for (const auto& s : m.self_mask_shares) {
    words += 5 + s.y.size() + BlobWords(s.signature.size());
  }
  for (const auto& s : m.mask_key_shares) {
    words += 5 + s.y.size() + BlobWords(s.signature.size());
  }
  return words;
}
size_t EstimateWords(const RoundResult& m) {
  return TextWords(m.model_version) + TextWords(m.model_hash) +
         BlobWords(m.parameters.size() * 4) +
         BlobWords(m.feature_statistics.size() * 8);
}
size_t EstimateWords(const RoundAborted& m) { return TextWords(m.reason); }
size_t EstimateWords(const EvaluationReport& m) {
  return TextWords(m.model_version) + 16 + m.scores.positive_histogram.size() +
         m.scores.negative_histogram.size();
}
size_t EstimateWords(const ServedModel& m) {
  return 6 + TextWords(m.version_id) + TextWords(m.model_hash) +
         TextWords(m.model_kind) + BlobWords(m.parameters.size() * 4);
}
size_t EstimateWords(const DeploymentUpdate& m) {
  return TextWords(m.deployment_id) + TextWords(m.strategy) +
         EstimateWords(m.current) + EstimateWords(m.candidate) +
         TextWords(m.salt) + BlobWords(m.feature_statistics.size() * 8);
}
size_t EstimateWords(const DeploymentAck& m) {
  return TextWords(m.deployment_id) + TextWords(m.current_version) +
         TextWords(m.candidate_version) + TextWords(m.reason);
}
size_t EstimateWords(const AuditCheckpoint& m) {
  return TextWords(m.checkpoint_json);
}
size_t EstimateWords(const DriftReport& m) {
  size_t words = 0;
  for (const auto& s : m.summaries) words += 1 + TextWords(s);
  for (const auto& a : m.alerts) {
    words += 6 + TextWords(a.version_id) + TextWords(a.drift_type) +
             TextWords(a.detector);
  }
  return words;
}

// Builds the message's first segment in place, inside the frame buffer right
// after the header and a one-segment table, so a big vector is copied once.
// Should the estimate fall short, further segments come from the heap and the
// frame is assembled by copying (still correct, just slower).
class InPlaceBuilder final : public capnp::MessageBuilder {
 public:
  // `first` must be zero-filled and outlive the builder.
  explicit InPlaceBuilder(kj::ArrayPtr<capnp::word> first) : first_(first) {}

  kj::ArrayPtr<capnp::word> allocateSegment(unsigned minimum_size) override {
    if (!first_given_ && minimum_size <= first_.size()) {
      first_given_ = true;
      return first_;
    }
    first_given_ = true;
    next_size_ = std::max<size_t>({next_size_, minimum_size, size_t{1024}});
    kj::Array<capnp::word> segment = kj::heapArray<capnp::word>(next_size_);
    std::memset(segment.begin(), 0, segment.size() * sizeof(capnp::word));
    next_size_ *= 2;
    kj::ArrayPtr<capnp::word> result = segment;
    more_.push_back(std::move(segment));
    return result;
  }

  // True if the whole message is the first segment, in place.
  bool InPlace() {
    const auto segments = getSegmentsForOutput();
    return segments.size() == 1 && segments[0].begin() == first_.begin();
  }

 private:
  kj::ArrayPtr<capnp::word> first_;
  bool first_given_ = false;
  size_t next_size_ = 0;
  std::vector<kj::Array<capnp::word>> more_;
};

// ---------------------------------------------------------------------------
// Cap'n Proto -> C++ struct, with field validation.

// Records the first validation failure of a message being converted.
class Checker {
 public:
  explicit Checker(uint32_t kind) : message_(MessageKindName(kind)) {}

  // Names the list element later failures refer to ("key 3: ...").
  void SetItem(std::string_view item, size_t index) {
    item_ = item;
    index_ = index;
  }
  void ClearItem() { item_ = {}; }

  bool failed() const { return !error_.empty(); }
  std::unexpected<Error> error() const { return InvalidArgument(error_); }

  void Text(capnp::Text::Reader text, size_t limit, std::string_view field,
            std::string& out) {
    if (failed()) return;
    if (text.size() > limit) {
      return Fail(field,
                  "is " + Str(text.size()) + " bytes, at most " + Str(limit));
    }
    out.assign(text.begin(), text.size());
  }

  void Key(capnp::Data::Reader data, std::string_view field, Key32& out) {
    if (failed()) return;
    if (data.size() != out.size()) {
      return Fail(field, "is " + Str(data.size()) + " bytes, expected " +
                             Str(out.size()));
    }
    std::memcpy(out.data(), data.begin(), out.size());
  }

  void Blob(capnp::Data::Reader data, size_t limit, std::string_view field,
            Bytes& out) {
    if (failed()) return;
    if (data.size() > limit) {
      return Fail(field,
                  "is " + Str(data.size()) + " bytes, at most " + Str(limit));
    }
    out.assign(data.begin(), data.end());
  }

  // A Data blob of little-endian 32- or 64-bit values.
  template <typename T>
  void Words(capnp::Data::Reader data, std::string_view field,
             std::vector<T>& out) {
    static_assert((sizeof(T) == 4 || sizeof(T) == 8) &&
                  std::is_trivially_copyable_v<T>);
    if (failed()) return;
    if (data.size() % sizeof(T) != 0) {
      return Fail(field, "is " + Str(data.size()) +
                             " bytes, not a multiple of " + Str(sizeof(T)));
    }
    const size_t count = data.size() / sizeof(T);
    if (count > kMaxParameters) {
      return Fail(field, "has " + Str(count) + " values, at most " +
                             Str(kMaxParameters));
    }
    out.resize(count);
    if (count != 0) std::memcpy(out.data(), data.begin(), data.size());
  }

  // `count` values of `bits` bits each, bit-packed (protocol/bit_pack.h).
  // The blob's length is checked before anything is allocated.
  void Packed(capnp::Data::Reader data, unsigned bits, uint64_t count,
              std::string_view field, std::vector<uint32_t>& out) {
    if (failed()) return;
    if (bits < kMinPackedBits || bits > kMaxPackedBits) {
      return Fail("bits", "is " + Str(bits) + ", expected " +
                              Str(kMinPackedBits) + " to " +
                              Str(kMaxPackedBits));
    }
    if (count > kMaxParameters) {
      return Fail("count",
                  "is " + Str(count) + ", at most " + Str(kMaxParameters));
    }
    const int width = static_cast<int>(bits);
    if (data.size() != PackedBytes(count, width)) {
      return Fail(field, "is " + Str(data.size()) + " bytes, expected " +
                             Str(PackedBytes(count, width)) + " for " +
                             Str(count) + " values of " + Str(bits) + " bits");
    }
    out.resize(count);
    if (auto s = UnpackBits({data.begin(), data.size()}, width, out); !s) {
      out.clear();
      return Fail(field, s.error().message);
    }
  }

  // A count a site reports about its data, at most kMaxSampleCount.
  void SampleCount(uint64_t value, std::string_view field) {
    if (failed()) return;
    if (value > kMaxSampleCount) {
      Fail(field, "is " + Str(value) + ", at most " + Str(kMaxSampleCount));
    }
  }

  // False (and failed) if a list is longer than `limit`.
  bool Count(size_t size, size_t limit, std::string_view field) {
    if (failed()) return false;
    if (size > limit) {
      Fail(field, "has " + Str(size) + " entries, at most " + Str(limit));
      return false;
    }
    return true;
  }

 private:
  void Fail(std::string_view field, const std::string& detail) {
    error_.assign(message_);
    error_ += ": ";
    if (!item_.empty()) {
      error_ += item_;
      error_ += " " + Str(index_) + ": ";
    }
    error_ += field;
    error_ += " ";
    error_ += detail;
  }

  std::string_view message_;
  std::string_view item_;
  size_t index_ = 0;
  std::string error_;
};

ValidationMetrics ToMetrics(wire::ValidationMetrics::Reader r, Checker& c) {
  ValidationMetrics m;
  m.count = r.getCount();
  m.correct = r.getCorrect();
  m.loss_sum = r.getLossSum();
  m.train_samples = r.getTrainSamples();
  c.SampleCount(m.count, "metrics count");
  c.SampleCount(m.correct, "metrics correct");
  c.SampleCount(m.train_samples, "metrics train samples");
  return m;
}

template <typename ListReader>
void ReadShares(ListReader list, Checker& c, std::vector<EncryptedShare>& out) {
  if (!c.Count(list.size(), kMaxEntries, "shares")) return;
  out.reserve(list.size());
  for (unsigned i = 0; i < list.size() && !c.failed(); ++i) {
    auto r = list[i];
    c.SetItem("share", i);
    EncryptedShare& s = out.emplace_back();
    s.from_index = r.getFromIndex();
    s.to_index = r.getToIndex();
    c.Blob(r.getCiphertext(), kMaxCiphertextBytes, "ciphertext", s.ciphertext);
  }
  c.ClearItem();
}

template <typename ListReader>
void ReadSecretShares(ListReader list, std::string_view field, Checker& c,
                      std::vector<SecretShare>& out) {
  if (!c.Count(list.size(), kMaxEntries, field)) return;
  out.reserve(list.size());
  for (unsigned i = 0; i < list.size() && !c.failed(); ++i) {
    auto r = list[i];
    c.SetItem(field, i);
    SecretShare& s = out.emplace_back();
    s.owner_index = r.getOwnerIndex();
    s.x = r.getX();
    auto y = r.getY();
    if (!c.Count(y.size(), kMaxShareWords, "y")) break;
    s.y.reserve(y.size());
    for (uint64_t v : y) s.y.push_back(v);
    c.Blob(r.getSignature(), kMaxSignatureBytes, "signature", s.signature);
  }
  c.ClearItem();
}

template <typename ListReader>
void ReadIndices(ListReader list, std::string_view field, Checker& c,
                 std::vector<uint32_t>& out) {
  if (!c.Count(list.size(), kMaxEntries, field)) return;
  out.reserve(list.size());
  for (uint32_t v : list) out.push_back(v);
}

Hello Convert(wire::Hello::Reader r, Checker& c) {
  Hello m;
  c.Text(r.getSiteId(), kMaxIdBytes, "site id", m.site_id);
  c.Text(r.getSiteName(), kMaxIdBytes, "site name", m.site_name);
  c.Text(r.getLocation(), kMaxIdBytes, "location", m.location);
  m.num_samples = r.getNumSamples();
  c.SampleCount(m.num_samples, "num samples");
  c.Text(r.getAgentVersion(), kMaxIdBytes, "agent version", m.agent_version);
  c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
  return m;
}

Welcome Convert(wire::Welcome::Reader r, Checker& c) {
  Welcome m;
  c.Text(r.getSiteId(), kMaxIdBytes, "site id", m.site_id);
  m.approved = r.getApproved();
  return m;
}

Rejected Convert(wire::Rejected::Reader r, Checker& c) {
  Rejected m;
  c.Text(r.getReason(), kMaxReasonBytes, "reason", m.reason);
  return m;
}

RoundAnnounce Convert(wire::RoundAnnounce::Reader r, Checker& c) {
  RoundAnnounce m;
  m.round_id = r.getRoundId();
  c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
  c.Text(r.getModelHash(), kMaxIdBytes, "model hash", m.model_hash);
  c.Text(r.getModelKind(), kMaxIdBytes, "model kind", m.model_kind);
  c.Words(r.getParameters(), "parameters", m.parameters);
  auto t = r.getTraining();
  m.training.epochs = t.getEpochs();
  m.training.batch_size = t.getBatchSize();
  m.training.learning_rate = t.getLearningRate();
  m.training.l2 = t.getL2();
  m.training.seed = t.getSeed();
  m.training.proximal_mu = t.getProximalMu();
  m.clip = r.getClip();
  m.value_bits = r.getValueBits();
  m.ring_bits = r.getRingBits();
  m.weight = r.getWeight();
  m.self_index = r.getSelfIndex();
  auto neighbours = r.getNeighbours();
  if (c.Count(neighbours.size(), kMaxEntries, "neighbours")) {
    m.neighbours.reserve(neighbours.size());
    for (unsigned i = 0; i < neighbours.size() && !c.failed(); ++i) {
      auto n = neighbours[i];
      c.SetItem("neighbour", i);
      Neighbour& out = m.neighbours.emplace_back();
      c.Text(n.getSiteId(), kMaxIdBytes, "site id", out.site_id);
      out.index = n.getIndex();
    }
    c.ClearItem();
  }
  m.threshold = r.getThreshold();
  m.stage_timeout_ms = r.getStageTimeoutMs();
  c.Words(r.getFeatureStatistics(), "feature statistics", m.feature_statistics);
  m.noise_variance = r.getNoiseVariance();
  return m;
}

AdvertiseKeys Convert(wire::AdvertiseKeys::Reader r, Checker& c) {
  AdvertiseKeys m;
  m.round_id = r.getRoundId();
  c.Key(r.getCipherPublicKey(), "cipher public key", m.cipher_public_key);
  c.Key(r.getMaskPublicKey(), "mask public key", m.mask_public_key);
  c.Key(r.getSelfMaskCommitment(), "self mask commitment",
        m.self_mask_commitment);
  c.Blob(r.getSignature(), kMaxSignatureBytes, "signature", m.signature);
  return m;
}

KeyDirectory Convert(wire::KeyDirectory::Reader r, Checker& c) {
  KeyDirectory m;
  m.round_id = r.getRoundId();
  auto keys = r.getKeys();
  if (c.Count(keys.size(), kMaxEntries, "keys")) {
    m.keys.reserve(keys.size());
    for (unsigned i = 0; i < keys.size() && !c.failed(); ++i) {
      auto k = keys[i];
      c.SetItem("key", i);
      KeyEntry& out = m.keys.emplace_back();
      out.index = k.getIndex();
      c.Key(k.getCipherPublicKey(), "cipher public key", out.cipher_public_key);
      c.Key(k.getMaskPublicKey(), "mask public key", out.mask_public_key);
      c.Key(k.getSelfMaskCommitment(), "self mask commitment",
            out.self_mask_commitment);
      c.Blob(k.getCertificate(), kMaxCertificateBytes, "certificate",
             out.certificate);
      c.Blob(k.getSignature(), kMaxSignatureBytes, "signature", out.signature);
    }
    c.ClearItem();
  }
  return m;
}

ShareKeys Convert(wire::ShareKeys::Reader r, Checker& c) {
  ShareKeys m;
  m.round_id = r.getRoundId();
  ReadShares(r.getShares(), c, m.shares);
  return m;
}

ShareDelivery Convert(wire::ShareDelivery::Reader r, Checker& c) {
  ShareDelivery m;
  m.round_id = r.getRoundId();
  ReadShares(r.getShares(), c, m.shares);
  return m;
}

MaskedInput Convert(wire::MaskedInput::Reader r, Checker& c) {
  MaskedInput m;
  m.round_id = r.getRoundId();
  m.ring_bits = r.getBits();
  c.Packed(r.getMasked(), r.getBits(), r.getCount(), "masked", m.masked);
  m.metrics = ToMetrics(r.getMetrics(), c);
  return m;
}

UnmaskRequest Convert(wire::UnmaskRequest::Reader r, Checker& c) {
  UnmaskRequest m;
  m.round_id = r.getRoundId();
  ReadIndices(r.getSurvivors(), "survivors", c, m.survivors);
  ReadIndices(r.getDropped(), "dropped", c, m.dropped);
  auto signatures = r.getSignatures();
  if (c.Count(signatures.size(), kMaxEntries, "signatures")) {
    m.signatures.reserve(signatures.size());
    for (unsigned i = 0; i < signatures.size() && !c.failed(); ++i) {
      c.SetItem("signature", i);
      SurvivorSignature& out = m.signatures.emplace_back();
      out.index = signatures[i].getIndex();
      c.Blob(signatures[i].getSignature(), kMaxSignatureBytes, "signature",
             out.signature);
    }
    c.ClearItem();
  }
  return m;
}

SurvivorSet Convert(wire::SurvivorSet::Reader r, Checker& c) {
  SurvivorSet m;
  m.round_id = r.getRoundId();
  ReadIndices(r.getSurvivors(), "survivors", c, m.survivors);
  return m;
}

SurvivorSetSignature Convert(wire::SurvivorSetSignature::Reader r, Checker& c) {
  SurvivorSetSignature m;
  m.round_id = r.getRoundId();
  c.Blob(r.getSignature(), kMaxSignatureBytes, "signature", m.signature);
  return m;
}

UnmaskResponse Convert(wire::UnmaskResponse::Reader r, Checker& c) {
  UnmaskResponse m;
  m.round_id = r.getRoundId();
  ReadSecretShares(r.getSelfMaskShares(), "self mask share", c,
                   m.self_mask_shares);
  ReadSecretShares(r.getMaskKeyShares(), "mask key share", c,
                   m.mask_key_shares);
  return m;
}

RoundResult Convert(wire::RoundResult::Reader r, Checker& c) {
  RoundResult m;
  m.round_id = r.getRoundId();
  c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
  c.Text(r.getModelHash(), kMaxIdBytes, "model hash", m.model_hash);
  c.Words(r.getParameters(), "parameters", m.parameters);
  m.participants = r.getParticipants();
  c.Words(r.getFeatureStatistics(), "feature statistics", m.feature_statistics);
  return m;
}

RoundAborted Convert(wire::RoundAborted::Reader r, Checker& c) {
  RoundAborted m;
  m.round_id = r.getRoundId();
  c.Text(r.getReason(), kMaxReasonBytes, "reason", m.reason);
  return m;
}

EvaluationReport Convert(wire::EvaluationReport::Reader r, Checker& c) {
  EvaluationReport m;
  m.round_id = r.getRoundId();
  c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
  m.metrics = ToMetrics(r.getMetrics(), c);
  auto scores = r.getScores();
  m.scores.true_positives = scores.getTruePositives();
  m.scores.false_positives = scores.getFalsePositives();
  m.scores.true_negatives = scores.getTrueNegatives();
  m.scores.false_negatives = scores.getFalseNegatives();
  c.SampleCount(m.scores.true_positives, "scores true positives");
  c.SampleCount(m.scores.false_positives, "scores false positives");
  c.SampleCount(m.scores.true_negatives, "scores true negatives");
  c.SampleCount(m.scores.false_negatives, "scores false negatives");
  auto pos = scores.getPositiveHistogram();
  auto neg = scores.getNegativeHistogram();
  if (!c.Count(pos.size(), kMaxScoreBins, "positive histogram") ||
      !c.Count(neg.size(), kMaxScoreBins, "negative histogram")) {
    return m;
  }
  for (uint64_t v : pos) {
    c.SampleCount(
        v, "positive histogram bin " + Str(m.scores.positive_histogram.size()));
    m.scores.positive_histogram.push_back(v);
  }
  for (uint64_t v : neg) {
    c.SampleCount(
        v, "negative histogram bin " + Str(m.scores.negative_histogram.size()));
    m.scores.negative_histogram.push_back(v);
  }
  return m;
}

ServedModel ToServedModel(wire::ServedModel::Reader r, Checker& c) {
  ServedModel m;
  c.Text(r.getVersionId(), kMaxIdBytes, "version id", m.version_id);
  c.Text(r.getModelHash(), kMaxIdBytes, "model hash", m.model_hash);
  c.Text(r.getModelKind(), kMaxIdBytes, "model kind", m.model_kind);
  c.Words(r.getParameters(), "parameters", m.parameters);
  return m;
}

DeploymentUpdate Convert(wire::DeploymentUpdate::Reader r, Checker& c) {
  DeploymentUpdate m;
  c.Text(r.getDeploymentId(), kMaxIdBytes, "deployment id", m.deployment_id);
  c.Text(r.getStrategy(), kMaxIdBytes, "strategy", m.strategy);
  m.current = ToServedModel(r.getCurrent(), c);
  m.candidate = ToServedModel(r.getCandidate(), c);
  m.rollout_percent = r.getRolloutPercent();
  c.Text(r.getSalt(), kMaxIdBytes, "salt", m.salt);
  c.Words(r.getFeatureStatistics(), "feature statistics", m.feature_statistics);
  return m;
}

DeploymentAck Convert(wire::DeploymentAck::Reader r, Checker& c) {
  DeploymentAck m;
  c.Text(r.getDeploymentId(), kMaxIdBytes, "deployment id", m.deployment_id);
  m.accepted = r.getAccepted();
  c.Text(r.getCurrentVersion(), kMaxIdBytes, "current version",
         m.current_version);
  c.Text(r.getCandidateVersion(), kMaxIdBytes, "candidate version",
         m.candidate_version);
  c.Text(r.getReason(), kMaxReasonBytes, "reason", m.reason);
  return m;
}

AuditCheckpoint Convert(wire::AuditCheckpoint::Reader r, Checker& c) {
  AuditCheckpoint m;
  c.Text(r.getCheckpointJson(), kMaxCheckpointBytes, "checkpoint",
         m.checkpoint_json);
  return m;
}

DriftReport Convert(wire::DriftReport::Reader r, Checker& c) {
  DriftReport m;
  m.reported_at_s = r.getReportedAtS();
  const auto summaries = r.getSummaries();
  if (c.Count(summaries.size(), kMaxDriftSummaries, "summaries")) {
    for (unsigned i = 0; i < summaries.size() && !c.failed(); ++i) {
      c.SetItem("summary", i);
      c.Text(summaries[i], kMaxDriftSummaryBytes, "json",
             m.summaries.emplace_back());
    }
    c.ClearItem();
  }
  const auto alerts = r.getAlerts();
  if (c.Count(alerts.size(), kMaxDriftAlerts, "alerts")) {
    for (unsigned i = 0; i < alerts.size() && !c.failed(); ++i) {
      auto a = alerts[i];
      c.SetItem("alert", i);
      DriftAlertNote& note = m.alerts.emplace_back();
      c.Text(a.getVersionId(), kMaxIdBytes, "version id", note.version_id);
      c.Text(a.getDriftType(), kMaxIdBytes, "drift type", note.drift_type);
      note.severity = a.getSeverity();
      c.Text(a.getDetector(), kMaxIdBytes, "detector", note.detector);
      note.timestamp_s = a.getTimestampS();
    }
    c.ClearItem();
  }
  return m;
}

template <typename Reader>
Result<Message> ConvertChecked(Reader reader, Checker& c) {
  auto message = Convert(reader, c);
  if (c.failed()) return c.error();
  return Message(std::move(message));
}

Result<Message> ConvertBody(wire::Envelope::Body::Reader body, Checker& c) {
  switch (body.which()) {
    case Which::HELLO:
      return ConvertChecked(body.getHello(), c);
    case Which::WELCOME:
      return ConvertChecked(body.getWelcome(), c);
    case Which::REJECTED:
      return ConvertChecked(body.getRejected(), c);
    case Which::ANNOUNCE:
      return ConvertChecked(body.getAnnounce(), c);
    case Which::ADVERTISE_KEYS:
      return ConvertChecked(body.getAdvertiseKeys(), c);
    case Which::KEY_DIRECTORY:
      return ConvertChecked(body.getKeyDirectory(), c);
    case Which::SHARE_KEYS:
      return ConvertChecked(body.getShareKeys(), c);
    case Which::SHARE_DELIVERY:
      return ConvertChecked(body.getShareDelivery(), c);
    case Which::MASKED_INPUT:
      return ConvertChecked(body.getMaskedInput(), c);
    case Which::UNMASK_REQUEST:
      return ConvertChecked(body.getUnmaskRequest(), c);
    case Which::UNMASK_RESPONSE:
      return ConvertChecked(body.getUnmaskResponse(), c);
    case Which::ROUND_RESULT:
      return ConvertChecked(body.getRoundResult(), c);
    case Which::ROUND_ABORTED:
      return ConvertChecked(body.getRoundAborted(), c);
    case Which::EVALUATION_REPORT:
      return ConvertChecked(body.getEvaluationReport(), c);
    case Which::DEPLOYMENT_UPDATE:
      return ConvertChecked(body.getDeploymentUpdate(), c);
    case Which::DEPLOYMENT_ACK:
      return ConvertChecked(body.getDeploymentAck(), c);
    case Which::DRIFT_REPORT:
      return ConvertChecked(body.getDriftReport(), c);
    case Which::AUDIT_CHECKPOINT:
      return ConvertChecked(body.getAuditCheckpoint(), c);
    case Which::SURVIVOR_SET:
      return ConvertChecked(body.getSurvivorSet(), c);
    case Which::SURVIVOR_SET_SIGNATURE:
      return ConvertChecked(body.getSurvivorSetSignature(), c);
  }
  return InvalidArgument("frame: unknown body");
}

}  // namespace

uint32_t MaxPayloadBytes(uint32_t kind) {
  switch (kind) {
    case KindOf<Hello>():
    case KindOf<Welcome>():
    case KindOf<Rejected>():
    case KindOf<AdvertiseKeys>():
    case KindOf<RoundAborted>():
    case KindOf<EvaluationReport>():
    case KindOf<DeploymentAck>():
    case KindOf<AuditCheckpoint>():
    case KindOf<SurvivorSetSignature>():
      return kControlPayloadLimit;
    case KindOf<DriftReport>():
      return kDriftReportPayloadLimit;
    case KindOf<DeploymentUpdate>():
      return kDeploymentPayloadLimit;
    case KindOf<KeyDirectory>():
    case KindOf<ShareKeys>():
    case KindOf<ShareDelivery>():
    case KindOf<UnmaskResponse>():
    case KindOf<UnmaskRequest>():  // one signature per neighbour
    case KindOf<SurvivorSet>():
      return kKeyPayloadLimit;
    case KindOf<RoundAnnounce>():
    case KindOf<MaskedInput>():
    case KindOf<RoundResult>():
      return kVectorPayloadLimit;
    default:
      return 0;
  }
}

std::optional<Direction> DirectionOf(uint32_t kind) {
  switch (kind) {
    case KindOf<Hello>():
    case KindOf<AdvertiseKeys>():
    case KindOf<ShareKeys>():
    case KindOf<MaskedInput>():
    case KindOf<UnmaskResponse>():
    case KindOf<EvaluationReport>():
    case KindOf<DeploymentAck>():
    case KindOf<DriftReport>():
    case KindOf<SurvivorSetSignature>():
      return Direction::kSiteToCoordinator;
    case KindOf<Welcome>():
    case KindOf<Rejected>():
    case KindOf<RoundAnnounce>():
    case KindOf<KeyDirectory>():
    case KindOf<ShareDelivery>():
    case KindOf<SurvivorSet>():
    case KindOf<UnmaskRequest>():
    case KindOf<RoundResult>():
    case KindOf<RoundAborted>():
    case KindOf<DeploymentUpdate>():
    case KindOf<AuditCheckpoint>():
      return Direction::kCoordinatorToSite;
    default:
      return std::nullopt;
  }
}

Status CheckFrameFilter(const FrameHeader& header, const FrameFilter& filter) {
  const std::string name(MessageKindName(header.kind));
  const auto direction = DirectionOf(header.kind);
  if (!direction) {
    return InvalidArgument("frame: unknown kind " + Str(header.kind));
  }
  if (*direction != filter.inbound) {
    return InvalidArgument("frame: " + name + " is sent by " +
                           (*direction == Direction::kSiteToCoordinator
                                ? "a site, not the "
                                  "coordinator"
                                : "the coordinator, not "
                                  "a site"));
  }
  if (filter.only_kind != 0 && header.kind != filter.only_kind) {
    return InvalidArgument("frame: expected " +
                           std::string(MessageKindName(filter.only_kind)) +
                           " first, got " + name);
  }
  if (filter.max_length != 0 && header.length > filter.max_length) {
    return InvalidArgument("frame: " + name + " payload " + Str(header.length) +
                           " bytes, at most " + Str(filter.max_length) +
                           " here");
  }
  return {};
}

Result<FrameHeader> DecodeFrameHeader(
    std::span<const uint8_t, kFrameHeaderBytes> bytes) {
  FrameHeader header;
  header.kind = LoadU32(bytes.data());
  header.length = LoadU32(bytes.data() + 4);
  if (auto status = CheckHeader(header); !status) {
    return std::unexpected(std::move(status.error()));
  }
  return header;
}

Bytes EncodeFrame(const Message& message) {
  const size_t estimate =
      kSlackWords +
      std::visit([](const auto& m) { return EstimateWords(m); }, message);
  const size_t segment_words = std::min<size_t>(estimate, kMaxSegmentWords);
  // Header, one-segment table, first segment: zero-filled as Cap'n Proto
  // requires, and word-aligned thanks to operator new.
  constexpr size_t kPrefix = kFrameHeaderBytes + sizeof(capnp::word);
  Bytes frame(kPrefix + segment_words * sizeof(capnp::word));
  size_t in_place_words = 0;
  kj::Array<capnp::word> flat;
  {
    InPlaceBuilder builder(kj::ArrayPtr<capnp::word>(
        reinterpret_cast<capnp::word*>(frame.data() + kPrefix), segment_words));
    auto envelope = builder.initRoot<wire::Envelope>();
    envelope.setProtocolVersion(kProtocolVersion);
    std::visit([&](const auto& m) { Fill(envelope.getBody(), m); }, message);
    if (builder.InPlace()) {
      in_place_words = builder.getSegmentsForOutput()[0].size();
    } else {
      flat = capnp::messageToFlatArray(builder);
    }
  }

  const auto kind = static_cast<uint32_t>(message.index() + 1);
  if (in_place_words != 0) {
    frame.resize(kPrefix + in_place_words * sizeof(capnp::word));
    const size_t payload = frame.size() - kFrameHeaderBytes;
    if (payload > UINT32_MAX) {
      throw std::length_error("EncodeFrame: payload exceeds 4 GiB");
    }
    Bytes prefix;
    AppendU32(prefix, kind);
    AppendU32(prefix, static_cast<uint32_t>(payload));
    AppendU32(prefix, 0);  // segment count - 1
    AppendU32(prefix, static_cast<uint32_t>(in_place_words));
    std::memcpy(frame.data(), prefix.data(), kPrefix);
    return frame;
  }

  // More than one segment: the general serialisation, one more copy.
  const kj::ArrayPtr<const kj::byte> payload = flat.asBytes();
  if (payload.size() > UINT32_MAX) {
    throw std::length_error("EncodeFrame: payload exceeds 4 GiB");
  }
  frame.clear();
  frame.shrink_to_fit();
  frame.reserve(kFrameHeaderBytes + payload.size());
  AppendU32(frame, kind);
  AppendU32(frame, static_cast<uint32_t>(payload.size()));
  frame.insert(frame.end(), payload.begin(), payload.end());
  return frame;
}

Result<Message> DecodeFramePayload(const FrameHeader& header,
                                   std::span<const uint64_t> words) {
  if (auto status = CheckHeader(header); !status) {
    return std::unexpected(std::move(status.error()));
  }
  const std::string name(MessageKindName(header.kind));
  if (uint64_t{header.length} != uint64_t{words.size()} * 8) {
    return InvalidArgument("frame: header says " + name + " payload of " +
                           Str(header.length) + " bytes, got " +
                           Str(uint64_t{words.size()} * 8));
  }
  if (auto status = CheckSegmentTable(words); !status) {
    return std::unexpected(std::move(status.error()));
  }

  // Cap'n Proto reports malformed input by throwing kj::Exception, possibly
  // from any getter: none of it may escape.
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords =
        std::max<uint64_t>(words.size(), kMinTraversalWords);
    options.nestingLimit = kNestingLimit;
    capnp::FlatArrayMessageReader reader(
        kj::ArrayPtr<const capnp::word>(
            reinterpret_cast<const capnp::word*>(words.data()), words.size()),
        options);
    const auto envelope = reader.getRoot<wire::Envelope>();
    const uint16_t version = envelope.getProtocolVersion();
    if (version != kProtocolVersion) {
      return InvalidArgument("frame: protocol version " + Str(version) +
                             ", expected " + Str(kProtocolVersion));
    }
    const auto body = envelope.getBody();
    const uint32_t body_kind = KindOf(body.which());
    if (body_kind != header.kind) {
      std::string body_name(MessageKindName(body_kind));
      if (body_name == "unknown") body_name = "unknown kind " + Str(body_kind);
      return InvalidArgument("frame: body is " + body_name + ", header says " +
                             name);
    }
    Checker checker(header.kind);
    return ConvertBody(body, checker);
  } catch (const kj::Exception&) {
    return InvalidArgument("frame: malformed " + name + " message");
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("frame: out of memory decoding " + name);
  } catch (const std::exception&) {
    return InvalidArgument("frame: malformed " + name + " message");
  }
}

Result<Message> DecodeFrame(ByteSpan frame) {
  if (frame.size() < kFrameHeaderBytes) {
    return InvalidArgument("frame: truncated: " + Str(frame.size()) + " of " +
                           Str(kFrameHeaderBytes) + " bytes");
  }
  auto header = DecodeFrameHeader(frame.first<kFrameHeaderBytes>());
  if (!header) return std::unexpected(std::move(header.error()));
  const uint64_t total = kFrameHeaderBytes + uint64_t{header->length};
  if (frame.size() < total) {
    return InvalidArgument("frame: truncated: " + Str(frame.size()) + " of " +
                           Str(total) + " bytes");
  }
  if (frame.size() > total) {
    return InvalidArgument("frame: " + Str(frame.size() - total) +
                           " trailing bytes after a " + Str(total) +
                           "-byte frame");
  }
  std::vector<uint64_t> words(header->length / 8);
  std::memcpy(words.data(), frame.data() + kFrameHeaderBytes, header->length);
  return DecodeFramePayload(*header, words);
}

}  // namespace cls::protocol
