#include "protocol/codec.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>

#include "protocol/bit_pack.h"
#include "protocol/frame.h"

namespace cls::protocol::codec {

std::string Str(uint64_t n) { return std::to_string(n); }

Checker::Checker(uint32_t kind) : message_(MessageKindName(kind)) {}

void Checker::Text(capnp::Text::Reader text, size_t limit,
                   std::string_view field, std::string& out) {
  if (failed()) return;
  if (text.size() > limit) {
    return Fail(field,
                "is " + Str(text.size()) + " bytes, at most " + Str(limit));
  }
  out.assign(text.begin(), text.size());
}

void Checker::Key(capnp::Data::Reader data, std::string_view field,
                  Key32& out) {
  if (failed()) return;
  if (data.size() != out.size()) {
    return Fail(field, "is " + Str(data.size()) + " bytes, expected " +
                           Str(out.size()));
  }
  std::memcpy(out.data(), data.begin(), out.size());
}

void Checker::Blob(capnp::Data::Reader data, size_t limit,
                   std::string_view field, Bytes& out) {
  if (failed()) return;
  if (data.size() > limit) {
    return Fail(field,
                "is " + Str(data.size()) + " bytes, at most " + Str(limit));
  }
  out.assign(data.begin(), data.end());
}

void Checker::Packed(capnp::Data::Reader data, unsigned bits, uint64_t count,
                     std::string_view field, std::vector<uint32_t>& out) {
  if (failed()) return;
  if (bits < kMinPackedBits || bits > kMaxPackedBits) {
    return Fail("bits", "is " + Str(bits) + ", expected " +
                            Str(kMinPackedBits) + " to " + Str(kMaxPackedBits));
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

void Checker::SampleCount(uint64_t value, std::string_view field) {
  if (failed()) return;
  if (value > kMaxSampleCount) {
    Fail(field, "is " + Str(value) + ", at most " + Str(kMaxSampleCount));
  }
}

void Checker::NonNegative(double value, std::string_view field) {
  if (failed()) return;
  if (!(value >= 0) || !std::isfinite(value)) {
    Fail(field, "must be finite and >= 0");
  }
}

bool Checker::Count(size_t size, size_t limit, std::string_view field) {
  if (failed()) return false;
  if (size > limit) {
    Fail(field, "has " + Str(size) + " entries, at most " + Str(limit));
    return false;
  }
  return true;
}

void Checker::Fail(std::string_view field, const std::string& detail) {
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

void FillMetrics(wire::ValidationMetrics::Builder b,
                 const ValidationMetrics& m) {
  b.setCount(m.count);
  b.setCorrect(m.correct);
  b.setLossSum(m.loss_sum);
  b.setTrainSamples(m.train_samples);
  auto fill = [](auto list, const std::vector<uint64_t>& values) {
    for (size_t i = 0; i < values.size(); ++i) {
      list.set(static_cast<unsigned>(i), values[i]);
    }
  };
  if (!m.class_support.empty()) {
    fill(b.initClassCorrect(static_cast<unsigned>(m.class_correct.size())),
         m.class_correct);
    fill(b.initClassSupport(static_cast<unsigned>(m.class_support.size())),
         m.class_support);
    fill(b.initClassPredicted(static_cast<unsigned>(m.class_predicted.size())),
         m.class_predicted);
  }
}

ValidationMetrics ReadMetrics(wire::ValidationMetrics::Reader r, Checker& c) {
  ValidationMetrics m;
  m.count = r.getCount();
  m.correct = r.getCorrect();
  m.loss_sum = r.getLossSum();
  m.train_samples = r.getTrainSamples();
  c.SampleCount(m.count, "metrics count");
  c.SampleCount(m.correct, "metrics correct");
  c.SampleCount(m.train_samples, "metrics train samples");
  // At most 1000 classes (core::ModelSpec), each a sample count.
  auto read = [&](auto list, const char* what, std::vector<uint64_t>& out) {
    if (!c.Count(list.size(), 1000, what)) return;
    for (uint64_t v : list) {
      c.SampleCount(v, what);
      out.push_back(v);
    }
  };
  read(r.getClassCorrect(), "metrics class correct", m.class_correct);
  read(r.getClassSupport(), "metrics class support", m.class_support);
  read(r.getClassPredicted(), "metrics class predicted", m.class_predicted);
  if (m.class_correct.size() != m.class_support.size() ||
      m.class_predicted.size() != m.class_support.size()) {
    m.class_correct.clear();
    m.class_support.clear();
    m.class_predicted.clear();
    c.Fail("metrics", "class counts of different lengths");
  }
  return m;
}

void FillRecordPrivacy(wire::RecordPrivacy::Builder b,
                       const RecordPrivacyReport& m) {
  b.setDpSgd(m.dp_sgd);
  b.setEpsilon(m.epsilon);
  b.setDelta(m.delta);
  b.setTargetEpsilon(m.target_epsilon);
  b.setRefusals(m.refusals);
}

RecordPrivacyReport ReadRecordPrivacy(wire::RecordPrivacy::Reader r,
                                      Checker& c) {
  RecordPrivacyReport m;
  m.dp_sgd = r.getDpSgd();
  m.epsilon = r.getEpsilon();
  m.delta = r.getDelta();
  m.target_epsilon = r.getTargetEpsilon();
  m.refusals = r.getRefusals();
  c.NonNegative(m.epsilon, "record epsilon");
  c.NonNegative(m.delta, "record delta");
  c.NonNegative(m.target_epsilon, "record target epsilon");
  return m;
}

namespace {

using CodecTable = std::array<const MessageCodec*, kKinds.size()>;

// A kind without a codec, or with two, is a bug in this folder: every test
// that encodes anything reaches this, so it cannot ship.
[[noreturn]] void CodecTableBug(const char* what, uint32_t kind) {
  std::fprintf(stderr, "protocol: %s for frame kind %u\n", what, kind);
  std::abort();
}

CodecTable CollectCodecs() {
  CodecTable table{};
  for (std::span<const MessageCodec> family :
       {ControlCodecs(), RoundCodecs(), ServingCodecs()}) {
    for (const MessageCodec& codec : family) {
      if (FindKind(codec.kind) == nullptr) {
        CodecTableBug("a codec of no known kind", codec.kind);
      }
      if (table[codec.kind - 1] != nullptr) {
        CodecTableBug("two codecs", codec.kind);
      }
      table[codec.kind - 1] = &codec;
    }
  }
  for (uint32_t kind = 1; kind <= table.size(); ++kind) {
    if (table[kind - 1] == nullptr) CodecTableBug("no codec", kind);
  }
  return table;
}

}  // namespace

const MessageCodec& CodecOf(uint32_t kind) {
  static const CodecTable table = CollectCodecs();
  return *table[kind - 1];
}

size_t SegmentWordsFor(const Message& message) {
  const auto kind = static_cast<uint32_t>(message.index() + 1);
  return kSlackWords + CodecOf(kind).estimate_words(message);
}

}  // namespace cls::protocol::codec
