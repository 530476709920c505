#include "protocol/frame.h"

#include <algorithm>
#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "protocol/codec.h"

// Framing only: the frame header, the segment table, building a message in
// one segment in place, and reading one with Cap'n Proto's limits. Each
// message's own encoder, size estimate and decoder are in codec_<family>.cc
// (codec.h); names, directions and limits in kinds.h.

namespace cls::protocol {
namespace {

using codec::Str;

constexpr int kNestingLimit = 16;
constexpr uint64_t kMinTraversalWords = 64;
constexpr size_t kMaxSegmentWords =
    (size_t{1} << 29) - 1;  // Cap'n Proto's limit

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

}  // namespace

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
  const auto kind = static_cast<uint32_t>(message.index() + 1);
  const codec::MessageCodec& message_codec = codec::CodecOf(kind);
  // The reservation never exceeds what the kind's limit lets a reader
  // accept (kinds.h): a message that large is refused by its peer anyway.
  const size_t limit_words = MaxPayloadBytes(kind) / sizeof(capnp::word);
  const size_t segment_words = std::min<size_t>(
      {codec::SegmentWordsFor(message), limit_words, kMaxSegmentWords});
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
    message_codec.encode(message, envelope.getBody());
    if (builder.InPlace()) {
      in_place_words = builder.getSegmentsForOutput()[0].size();
    } else {
      flat = capnp::messageToFlatArray(builder);
    }
  }

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
      // The peer reads this in a Rejected: it names what would work.
      return InvalidArgument(
          "frame: protocol version " + Str(version) +
          " is not supported; supported versions: " + Str(kProtocolVersion));
    }
    const auto body = envelope.getBody();
    const uint32_t body_kind = codec::KindOf(body.which());
    if (body_kind != header.kind) {
      std::string body_name(MessageKindName(body_kind));
      if (body_name == "unknown") body_name = "unknown kind " + Str(body_kind);
      return InvalidArgument("frame: body is " + body_name + ", header says " +
                             name);
    }
    codec::Checker checker(header.kind);
    return codec::CodecOf(header.kind).decode(body, checker);
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
