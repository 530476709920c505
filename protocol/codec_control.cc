// Codecs of the connection's control messages: Hello, Welcome, Rejected.
#include "protocol/codec.h"

namespace cls::protocol::codec {
namespace {

// Site -> coordinator, the first frame (kMaxHelloPayloadBytes).
struct HelloCodec {
  using Type = Hello;
  static constexpr Which kWhich = Which::HELLO;

  static size_t EstimateWords(const Hello& m) {
    return TextWords(m.site_id) + TextWords(m.site_name) +
           TextWords(m.location) + TextWords(m.agent_version) +
           TextWords(m.model_version);
  }

  static void Encode(const Hello& m, BodyBuilder body) {
    auto b = body.initHello();
    b.setSiteId(AsText(m.site_id));
    b.setSiteName(AsText(m.site_name));
    b.setLocation(AsText(m.location));
    b.setNumSamples(m.num_samples);
    b.setAgentVersion(AsText(m.agent_version));
    b.setModelVersion(AsText(m.model_version));
    // Only a DP-SGD site sends it: without, the bytes stay those of v2.
    if (m.record_privacy.dp_sgd) {
      FillRecordPrivacy(b.initRecordPrivacy(), m.record_privacy);
    }
  }

  static Hello Decode(BodyReader body, Checker& c) {
    const auto r = body.getHello();
    Hello m;
    c.Text(r.getSiteId(), kMaxIdBytes, "site id", m.site_id);
    c.Text(r.getSiteName(), kMaxIdBytes, "site name", m.site_name);
    c.Text(r.getLocation(), kMaxIdBytes, "location", m.location);
    m.num_samples = r.getNumSamples();
    c.SampleCount(m.num_samples, "num samples");
    c.Text(r.getAgentVersion(), kMaxIdBytes, "agent version", m.agent_version);
    c.Text(r.getModelVersion(), kMaxIdBytes, "model version", m.model_version);
    m.record_privacy = ReadRecordPrivacy(r.getRecordPrivacy(), c);
    return m;
  }
};

struct WelcomeCodec {
  using Type = Welcome;
  static constexpr Which kWhich = Which::WELCOME;

  static size_t EstimateWords(const Welcome& m) { return TextWords(m.site_id); }

  static void Encode(const Welcome& m, BodyBuilder body) {
    auto b = body.initWelcome();
    b.setSiteId(AsText(m.site_id));
    b.setApproved(m.approved);
  }

  static Welcome Decode(BodyReader body, Checker& c) {
    const auto r = body.getWelcome();
    Welcome m;
    c.Text(r.getSiteId(), kMaxIdBytes, "site id", m.site_id);
    m.approved = r.getApproved();
    return m;
  }
};

struct RejectedCodec {
  using Type = Rejected;
  static constexpr Which kWhich = Which::REJECTED;

  static size_t EstimateWords(const Rejected& m) { return TextWords(m.reason); }

  static void Encode(const Rejected& m, BodyBuilder body) {
    body.initRejected().setReason(AsText(m.reason));
  }

  static Rejected Decode(BodyReader body, Checker& c) {
    Rejected m;
    c.Text(body.getRejected().getReason(), kMaxReasonBytes, "reason", m.reason);
    return m;
  }
};

constexpr MessageCodec kControlCodecs[] = {
    MakeCodec<HelloCodec>(),
    MakeCodec<WelcomeCodec>(),
    MakeCodec<RejectedCodec>(),
};

}  // namespace

std::span<const MessageCodec> ControlCodecs() { return kControlCodecs; }

}  // namespace cls::protocol::codec
