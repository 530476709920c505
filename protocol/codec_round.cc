// Codecs of the secure aggregation round (docs/protocol.md "Connection and
// round flow"): the announcement, the key, share, masked-input, survivor and
// unmask stages, and the round's end (RoundResult, RoundAborted).
#include "protocol/bit_pack.h"
#include "protocol/codec.h"

namespace cls::protocol::codec {
namespace {

constexpr size_t kMaxShareWords = 1024;  // SecretShare.y
constexpr size_t kMaxCiphertextBytes = 64 * kKiB;
constexpr size_t kMaxCertificateBytes = 8 * kKiB;  // DER

template <typename ListBuilder>
void FillIndices(ListBuilder list, const std::vector<uint32_t>& values) {
  for (size_t i = 0; i < values.size(); ++i) {
    list.set(static_cast<unsigned>(i), values[i]);
  }
}

template <typename ListReader>
void ReadIndices(ListReader list, std::string_view field, Checker& c,
                 std::vector<uint32_t>& out) {
  if (!c.Count(list.size(), kMaxEntries, field)) return;
  out.reserve(list.size());
  for (uint32_t v : list) out.push_back(v);
}

struct RoundAnnounceCodec {
  using Type = RoundAnnounce;
  static constexpr Which kWhich = Which::ANNOUNCE;

  static size_t EstimateWords(const RoundAnnounce& m) {
    size_t words = TextWords(m.model_version) + TextWords(m.model_hash) +
                   TextWords(m.model_kind) + TextWords(m.model_spec) +
                   BlobWords(m.parameters.size() * 4);
    for (const auto& n : m.neighbours) words += 2 + TextWords(n.site_id);
    return words + BlobWords(m.feature_statistics.size() * 8);
  }

  static void Encode(const RoundAnnounce& m, BodyBuilder body) {
    auto b = body.initAnnounce();
    b.setRoundId(m.round_id);
    b.setModelVersion(AsText(m.model_version));
    b.setModelHash(AsText(m.model_hash));
    b.setModelKind(AsText(m.model_kind));
    SetWords([&](unsigned n) { return b.initParameters(n); }, m.parameters);
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
    SetWords([&](unsigned n) { return b.initFeatureStatistics(n); },
             m.feature_statistics);
    b.setNoiseVariance(m.noise_variance);
    b.setModelSpec(AsText(m.model_spec));
  }

  static RoundAnnounce Decode(BodyReader body, Checker& c) {
    const auto r = body.getAnnounce();
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
    c.Words(r.getFeatureStatistics(), "feature statistics",
            m.feature_statistics);
    m.noise_variance = r.getNoiseVariance();
    c.Text(r.getModelSpec(), kMaxIdBytes, "model spec", m.model_spec);
    return m;
  }
};

struct AdvertiseKeysCodec {
  using Type = AdvertiseKeys;
  static constexpr Which kWhich = Which::ADVERTISE_KEYS;

  static size_t EstimateWords(const AdvertiseKeys& m) {
    return 3 * 4 + BlobWords(m.signature.size());
  }

  static void Encode(const AdvertiseKeys& m, BodyBuilder body) {
    auto b = body.initAdvertiseKeys();
    b.setRoundId(m.round_id);
    b.setCipherPublicKey(AsData(m.cipher_public_key));
    b.setMaskPublicKey(AsData(m.mask_public_key));
    b.setSelfMaskCommitment(AsData(m.self_mask_commitment));
    b.setSignature(AsData(m.signature));
  }

  static AdvertiseKeys Decode(BodyReader body, Checker& c) {
    const auto r = body.getAdvertiseKeys();
    AdvertiseKeys m;
    m.round_id = r.getRoundId();
    c.Key(r.getCipherPublicKey(), "cipher public key", m.cipher_public_key);
    c.Key(r.getMaskPublicKey(), "mask public key", m.mask_public_key);
    c.Key(r.getSelfMaskCommitment(), "self mask commitment",
          m.self_mask_commitment);
    c.Blob(r.getSignature(), kMaxSignatureBytes, "signature", m.signature);
    return m;
  }
};

struct KeyDirectoryCodec {
  using Type = KeyDirectory;
  static constexpr Which kWhich = Which::KEY_DIRECTORY;

  static size_t EstimateWords(const KeyDirectory& m) {
    size_t words = 0;
    for (const auto& k : m.keys) {
      words += 5 + 3 * 4 + BlobWords(k.certificate.size()) +
               BlobWords(k.signature.size());
    }
    return words;
  }

  static void Encode(const KeyDirectory& m, BodyBuilder body) {
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

  static KeyDirectory Decode(BodyReader body, Checker& c) {
    const auto r = body.getKeyDirectory();
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
        c.Key(k.getCipherPublicKey(), "cipher public key",
              out.cipher_public_key);
        c.Key(k.getMaskPublicKey(), "mask public key", out.mask_public_key);
        c.Key(k.getSelfMaskCommitment(), "self mask commitment",
              out.self_mask_commitment);
        c.Blob(k.getCertificate(), kMaxCertificateBytes, "certificate",
               out.certificate);
        c.Blob(k.getSignature(), kMaxSignatureBytes, "signature",
               out.signature);
      }
      c.ClearItem();
    }
    return m;
  }
};

// ShareKeys and ShareDelivery carry the same list of encrypted shares.
size_t EstimateShareWords(const std::vector<EncryptedShare>& shares) {
  size_t words = 0;
  for (const auto& s : shares) words += 2 + BlobWords(s.ciphertext.size());
  return words;
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

struct ShareKeysCodec {
  using Type = ShareKeys;
  static constexpr Which kWhich = Which::SHARE_KEYS;

  static size_t EstimateWords(const ShareKeys& m) {
    return EstimateShareWords(m.shares);
  }

  static void Encode(const ShareKeys& m, BodyBuilder body) {
    auto b = body.initShareKeys();
    b.setRoundId(m.round_id);
    FillShares(b.initShares(static_cast<unsigned>(m.shares.size())), m.shares);
  }

  static ShareKeys Decode(BodyReader body, Checker& c) {
    const auto r = body.getShareKeys();
    ShareKeys m;
    m.round_id = r.getRoundId();
    ReadShares(r.getShares(), c, m.shares);
    return m;
  }
};

struct ShareDeliveryCodec {
  using Type = ShareDelivery;
  static constexpr Which kWhich = Which::SHARE_DELIVERY;

  static size_t EstimateWords(const ShareDelivery& m) {
    return EstimateShareWords(m.shares);
  }

  static void Encode(const ShareDelivery& m, BodyBuilder body) {
    auto b = body.initShareDelivery();
    b.setRoundId(m.round_id);
    FillShares(b.initShares(static_cast<unsigned>(m.shares.size())), m.shares);
  }

  static ShareDelivery Decode(BodyReader body, Checker& c) {
    const auto r = body.getShareDelivery();
    ShareDelivery m;
    m.round_id = r.getRoundId();
    ReadShares(r.getShares(), c, m.shares);
    return m;
  }
};

struct MaskedInputCodec {
  using Type = MaskedInput;
  static constexpr Which kWhich = Which::MASKED_INPUT;

  // The width on the wire; 32 (lossless) for a width that is not one, so a
  // wrong width is refused by the receiver, not truncated here.
  static int Bits(const MaskedInput& m) {
    return m.ring_bits >= kMinPackedBits && m.ring_bits <= kMaxPackedBits
               ? m.ring_bits
               : kMaxPackedBits;
  }

  static size_t EstimateWords(const MaskedInput& m) {
    return BlobWords(PackedBytes(m.masked.size(), Bits(m)));
  }

  static void Encode(const MaskedInput& m, BodyBuilder body) {
    auto b = body.initMaskedInput();
    b.setRoundId(m.round_id);
    const int bits = Bits(m);
    auto blob =
        b.initMasked(static_cast<unsigned>(PackedBytes(m.masked.size(), bits)));
    PackBits(m.masked, bits, std::span<uint8_t>(blob.begin(), blob.size()));
    b.setBits(static_cast<uint8_t>(bits));
    b.setCount(static_cast<uint32_t>(m.masked.size()));
    FillMetrics(b.initMetrics(), m.metrics);
    // Only a DP-SGD site sends it: without, the bytes stay those of v2.
    if (m.record_privacy.dp_sgd) {
      FillRecordPrivacy(b.initRecordPrivacy(), m.record_privacy);
    }
  }

  static MaskedInput Decode(BodyReader body, Checker& c) {
    const auto r = body.getMaskedInput();
    MaskedInput m;
    m.round_id = r.getRoundId();
    m.ring_bits = r.getBits();
    c.Packed(r.getMasked(), r.getBits(), r.getCount(), "masked", m.masked);
    m.metrics = ReadMetrics(r.getMetrics(), c);
    m.record_privacy = ReadRecordPrivacy(r.getRecordPrivacy(), c);
    return m;
  }
};

struct SurvivorSetCodec {
  using Type = SurvivorSet;
  static constexpr Which kWhich = Which::SURVIVOR_SET;

  static size_t EstimateWords(const SurvivorSet& m) {
    return BlobWords(m.survivors.size() * 4);
  }

  static void Encode(const SurvivorSet& m, BodyBuilder body) {
    auto b = body.initSurvivorSet();
    b.setRoundId(m.round_id);
    FillIndices(b.initSurvivors(static_cast<unsigned>(m.survivors.size())),
                m.survivors);
  }

  static SurvivorSet Decode(BodyReader body, Checker& c) {
    const auto r = body.getSurvivorSet();
    SurvivorSet m;
    m.round_id = r.getRoundId();
    ReadIndices(r.getSurvivors(), "survivors", c, m.survivors);
    return m;
  }
};

struct SurvivorSetSignatureCodec {
  using Type = SurvivorSetSignature;
  static constexpr Which kWhich = Which::SURVIVOR_SET_SIGNATURE;

  static size_t EstimateWords(const SurvivorSetSignature& m) {
    return BlobWords(m.signature.size());
  }

  static void Encode(const SurvivorSetSignature& m, BodyBuilder body) {
    auto b = body.initSurvivorSetSignature();
    b.setRoundId(m.round_id);
    b.setSignature(AsData(m.signature));
  }

  static SurvivorSetSignature Decode(BodyReader body, Checker& c) {
    const auto r = body.getSurvivorSetSignature();
    SurvivorSetSignature m;
    m.round_id = r.getRoundId();
    c.Blob(r.getSignature(), kMaxSignatureBytes, "signature", m.signature);
    return m;
  }
};

struct UnmaskRequestCodec {
  using Type = UnmaskRequest;
  static constexpr Which kWhich = Which::UNMASK_REQUEST;

  static size_t EstimateWords(const UnmaskRequest& m) {
    size_t words =
        BlobWords(m.survivors.size() * 4) + BlobWords(m.dropped.size() * 4);
    for (const auto& s : m.signatures) {
      words += 3 + BlobWords(s.signature.size());
    }
    return words;
  }

  static void Encode(const UnmaskRequest& m, BodyBuilder body) {
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

  static UnmaskRequest Decode(BodyReader body, Checker& c) {
    const auto r = body.getUnmaskRequest();
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
};

// UnmaskResponse's two lists of Shamir shares.
size_t EstimateSecretShareWords(const std::vector<SecretShare>& shares) {
  size_t words = 0;
  for (const auto& s : shares) {
    words += 5 + s.y.size() + BlobWords(s.signature.size());
  }
  return words;
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

struct UnmaskResponseCodec {
  using Type = UnmaskResponse;
  static constexpr Which kWhich = Which::UNMASK_RESPONSE;

  static size_t EstimateWords(const UnmaskResponse& m) {
    return EstimateSecretShareWords(m.self_mask_shares) +
           EstimateSecretShareWords(m.mask_key_shares);
  }

  static void Encode(const UnmaskResponse& m, BodyBuilder body) {
    auto b = body.initUnmaskResponse();
    b.setRoundId(m.round_id);
    FillSecretShares(
        b.initSelfMaskShares(static_cast<unsigned>(m.self_mask_shares.size())),
        m.self_mask_shares);
    FillSecretShares(
        b.initMaskKeyShares(static_cast<unsigned>(m.mask_key_shares.size())),
        m.mask_key_shares);
  }

  static UnmaskResponse Decode(BodyReader body, Checker& c) {
    const auto r = body.getUnmaskResponse();
    UnmaskResponse m;
    m.round_id = r.getRoundId();
    ReadSecretShares(r.getSelfMaskShares(), "self mask share", c,
                     m.self_mask_shares);
    ReadSecretShares(r.getMaskKeyShares(), "mask key share", c,
                     m.mask_key_shares);
    return m;
  }
};

struct RoundResultCodec {
  using Type = RoundResult;
  static constexpr Which kWhich = Which::ROUND_RESULT;

  static size_t EstimateWords(const RoundResult& m) {
    return TextWords(m.model_version) + TextWords(m.model_hash) +
           BlobWords(m.parameters.size() * 4) +
           BlobWords(m.feature_statistics.size() * 8);
  }

  static void Encode(const RoundResult& m, BodyBuilder body) {
    auto b = body.initRoundResult();
    b.setRoundId(m.round_id);
    b.setModelVersion(AsText(m.model_version));
    b.setModelHash(AsText(m.model_hash));
    SetWords([&](unsigned n) { return b.initParameters(n); }, m.parameters);
    b.setParticipants(m.participants);
    SetWords([&](unsigned n) { return b.initFeatureStatistics(n); },
             m.feature_statistics);
  }

  static RoundResult Decode(BodyReader body, Checker& c) {
    const auto r = body.getRoundResult();
    RoundResult m;
    m.round_id = r.getRoundId();
    c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
    c.Text(r.getModelHash(), kMaxIdBytes, "model hash", m.model_hash);
    c.Words(r.getParameters(), "parameters", m.parameters);
    m.participants = r.getParticipants();
    c.Words(r.getFeatureStatistics(), "feature statistics",
            m.feature_statistics);
    return m;
  }
};

struct RoundAbortedCodec {
  using Type = RoundAborted;
  static constexpr Which kWhich = Which::ROUND_ABORTED;

  static size_t EstimateWords(const RoundAborted& m) {
    return TextWords(m.reason);
  }

  static void Encode(const RoundAborted& m, BodyBuilder body) {
    auto b = body.initRoundAborted();
    b.setRoundId(m.round_id);
    b.setReason(AsText(m.reason));
  }

  static RoundAborted Decode(BodyReader body, Checker& c) {
    const auto r = body.getRoundAborted();
    RoundAborted m;
    m.round_id = r.getRoundId();
    c.Text(r.getReason(), kMaxReasonBytes, "reason", m.reason);
    return m;
  }
};

constexpr MessageCodec kRoundCodecs[] = {
    MakeCodec<RoundAnnounceCodec>(), MakeCodec<AdvertiseKeysCodec>(),
    MakeCodec<KeyDirectoryCodec>(),  MakeCodec<ShareKeysCodec>(),
    MakeCodec<ShareDeliveryCodec>(), MakeCodec<MaskedInputCodec>(),
    MakeCodec<SurvivorSetCodec>(),   MakeCodec<SurvivorSetSignatureCodec>(),
    MakeCodec<UnmaskRequestCodec>(), MakeCodec<UnmaskResponseCodec>(),
    MakeCodec<RoundResultCodec>(),   MakeCodec<RoundAbortedCodec>(),
};

}  // namespace

std::span<const MessageCodec> RoundCodecs() { return kRoundCodecs; }

}  // namespace cls::protocol::codec
