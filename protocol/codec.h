#ifndef CLS_PROTOCOL_CODEC_H_
#define CLS_PROTOCOL_CODEC_H_

// Internal to protocol/: the per-message codecs behind frame.h, and the
// helpers they share. Only protocol/ sources and tests include this header
// (it needs the generated cls.capnp.h, which stays behind the codec).
//
// Each message has one codec: a struct with its size estimate, its encoder
// and its decoder side by side, in the file of its family:
//   codec_control.cc  Hello, Welcome, Rejected
//   codec_round.cc    the secure aggregation round, RoundResult, RoundAborted
//   codec_serving.cc  evaluation, deployment, drift, audit checkpoint
// Names, directions and payload limits are not here: see kinds.h.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "cls.capnp.h"
#include "common/bytes.h"
#include "common/error.h"
#include "protocol/kinds.h"
#include "protocol/messages.h"

namespace cls::protocol::codec {

// Vector blobs are little-endian words copied with memcpy.
static_assert(std::endian::native == std::endian::little,
              "the codecs copy vector blobs as host words");

using Which = wire::Envelope::Body::Which;
using BodyBuilder = wire::Envelope::Body::Builder;
using BodyReader = wire::Envelope::Body::Reader;

// The frame kind of an Envelope.body union field.
constexpr uint32_t KindOf(Which which) {
  return static_cast<uint32_t>(which) + 1;
}

// Field limits checked while decoding, shared by the families.
inline constexpr size_t kMaxIdBytes = 256;  // ids, names, versions, hashes
inline constexpr size_t kMaxReasonBytes = 4 * kKiB;
inline constexpr size_t kMaxEntries = 65536;  // neighbours, keys, shares, ...
inline constexpr size_t kMaxSignatureBytes = 256;  // DER ECDSA P-256: <= 72

std::string Str(uint64_t n);

// --- Encoding helpers -------------------------------------------------------

inline capnp::Text::Reader AsText(const std::string& s) {
  return {s.data(), s.size()};
}
inline capnp::Data::Reader AsData(const Key32& key) {
  return {key.data(), key.size()};
}
inline capnp::Data::Reader AsData(const Bytes& bytes) {
  return {bytes.data(), bytes.size()};
}

// Fills a Data blob with the values' little-endian bytes.
template <typename T>
void CopyWords(capnp::Data::Builder out, const std::vector<T>& values) {
  static_assert((sizeof(T) == 4 || sizeof(T) == 8) &&
                std::is_trivially_copyable_v<T>);
  if (!values.empty()) {
    std::memcpy(out.begin(), values.data(), values.size() * sizeof(T));
  }
}

// A Data blob of the values' bytes, set on `init(bytes)`.
template <typename T, typename Init>
void SetWords(Init init, const std::vector<T>& values) {
  CopyWords(init(static_cast<unsigned>(values.size() * sizeof(T))), values);
}

// --- Size estimates ---------------------------------------------------------
// An estimate is an upper bound, in words, of what its encoder writes beyond
// a fixed overhead of kSlackWords (the envelope, struct sections, pointers
// and list tags of the message's own struct): frame.cc builds the message in
// one segment of that size, in place in the frame buffer. codec_test.cc
// checks the bound for every kind.
inline constexpr size_t kSlackWords = 64;

// A Text or Data of `bytes` bytes: its words, a NUL, a list tag.
constexpr size_t BlobWords(size_t bytes) { return bytes / 8 + 2; }
inline size_t TextWords(const std::string& s) {
  return BlobWords(s.size() + 1);
}

// --- Decoding ---------------------------------------------------------------

// Records the first validation failure of a message being decoded, as
// "<kind>: [<item> <i>: ]<field> <detail>" (never quoting the payload).
class Checker {
 public:
  explicit Checker(uint32_t kind);

  // Names the list element later failures refer to ("key 3: ...").
  void SetItem(std::string_view item, size_t index) {
    item_ = item;
    index_ = index;
  }
  void ClearItem() { item_ = {}; }

  bool failed() const { return !error_.empty(); }
  std::unexpected<Error> error() const { return InvalidArgument(error_); }

  void Text(capnp::Text::Reader text, size_t limit, std::string_view field,
            std::string& out);
  // Exactly 32 bytes.
  void Key(capnp::Data::Reader data, std::string_view field, Key32& out);
  void Blob(capnp::Data::Reader data, size_t limit, std::string_view field,
            Bytes& out);
  // A Data blob of little-endian 32- or 64-bit values, at most
  // kMaxParameters of them.
  template <typename T>
  void Words(capnp::Data::Reader data, std::string_view field,
             std::vector<T>& out);
  // `count` values of `bits` bits each, bit-packed (protocol/bit_pack.h).
  // The blob's length is checked before anything is allocated.
  void Packed(capnp::Data::Reader data, unsigned bits, uint64_t count,
              std::string_view field, std::vector<uint32_t>& out);
  // A count a site reports about its data, at most kMaxSampleCount.
  void SampleCount(uint64_t value, std::string_view field);
  // Finite and >= 0 (an epsilon, a delta).
  void NonNegative(double value, std::string_view field);
  // False (and failed) if a list is longer than `limit`.
  bool Count(size_t size, size_t limit, std::string_view field);
  // Fails the message: "<field> <detail>".
  void Fail(std::string_view field, const std::string& detail);

 private:
  std::string_view message_;
  std::string_view item_;
  size_t index_ = 0;
  std::string error_;
};

template <typename T>
void Checker::Words(capnp::Data::Reader data, std::string_view field,
                    std::vector<T>& out) {
  static_assert((sizeof(T) == 4 || sizeof(T) == 8) &&
                std::is_trivially_copyable_v<T>);
  if (failed()) return;
  if (data.size() % sizeof(T) != 0) {
    return Fail(field, "is " + Str(data.size()) + " bytes, not a multiple of " +
                           Str(sizeof(T)));
  }
  const size_t count = data.size() / sizeof(T);
  if (count > kMaxParameters) {
    return Fail(
        field, "has " + Str(count) + " values, at most " + Str(kMaxParameters));
  }
  out.resize(count);
  if (count != 0) std::memcpy(out.data(), data.begin(), data.size());
}

// ValidationMetrics, in MaskedInput and EvaluationReport.
void FillMetrics(wire::ValidationMetrics::Builder b,
                 const ValidationMetrics& m);
ValidationMetrics ReadMetrics(wire::ValidationMetrics::Reader r, Checker& c);

// RecordPrivacyReport, in Hello and MaskedInput; epsilons and delta must be
// finite and >= 0.
void FillRecordPrivacy(wire::RecordPrivacy::Builder b,
                       const RecordPrivacyReport& m);
RecordPrivacyReport ReadRecordPrivacy(wire::RecordPrivacy::Reader r,
                                      Checker& c);

// --- One codec per message --------------------------------------------------

// A message kind's codec with the type erased, for frame.cc.
struct MessageCodec {
  uint32_t kind = 0;
  size_t (*estimate_words)(const Message&) = nullptr;
  void (*encode)(const Message&, BodyBuilder) = nullptr;
  Result<Message> (*decode)(BodyReader, Checker&) = nullptr;
};

// The MessageCodec of a codec struct C, which has
//   using Type = <the messages.h struct>;
//   static constexpr Which kWhich = <its Envelope.body field>;
//   static size_t EstimateWords(const Type&);
//   static void Encode(const Type&, BodyBuilder);  // body.init<Field>()
//   static Type Decode(BodyReader, Checker&);      // body.get<Field>()
template <typename C>
constexpr MessageCodec MakeCodec() {
  using T = typename C::Type;
  static_assert(KindOf(C::kWhich) == FrameKind<T>(),
                "Envelope.body and Message list the messages in another order");
  return {
      .kind = FrameKind<T>(),
      .estimate_words =
          [](const Message& m) {
            return C::EstimateWords(*std::get_if<T>(&m));
          },
      .encode = [](const Message& m,
                   BodyBuilder body) { C::Encode(*std::get_if<T>(&m), body); },
      .decode = [](BodyReader body, Checker& c) -> Result<Message> {
        T message = C::Decode(body, c);
        if (c.failed()) return c.error();
        return Message(std::move(message));
      },
  };
}

// Each family's codecs, defined in its codec_<family>.cc.
std::span<const MessageCodec> ControlCodecs();
std::span<const MessageCodec> RoundCodecs();
std::span<const MessageCodec> ServingCodecs();

// The codec of a known frame kind (1..number of kinds).
const MessageCodec& CodecOf(uint32_t kind);

// The words EncodeFrame reserves for `message`'s one segment: its estimate
// plus kSlackWords.
size_t SegmentWordsFor(const Message& message);

}  // namespace cls::protocol::codec

#endif  // CLS_PROTOCOL_CODEC_H_
