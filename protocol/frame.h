#ifndef CLS_PROTOCOL_FRAME_H_
#define CLS_PROTOCOL_FRAME_H_

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/error.h"
#include "protocol/kinds.h"
#include "protocol/messages.h"

namespace cls::protocol {

// A frame on the wire:
//   u32 kind    little-endian; Message::index() + 1 (the union field number)
//   u32 length  little-endian; payload bytes, a multiple of 8
//   payload     a Cap'n Proto message in standard serialisation (segment
//               table, then segments) whose Envelope.body is of that kind
//
// The header is checked before anything is allocated: the kind must be known
// and the length within that kind's limit (kinds.h: small control messages
// get a few KiB, vector-carrying messages up to kMaxParameters words). The
// payload is read into 8-byte-aligned words; the segment table is checked (at
// most kMaxSegments segments, sizes adding up exactly to the payload) before
// Cap'n Proto sees it, and Cap'n Proto reads with explicit ReaderOptions
// (traversal limit = payload words, nesting limit 16). Any failure is
// InvalidArgument with a short message that never quotes the payload.
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint32_t kMaxSegments = 16;

// The largest sample count a site may report (Hello numSamples,
// ValidationMetrics and ScoreCounts counts): 2^40, far above any hospital's
// data, far below where a count turns negative as an int64 or loses
// precision as a double. Larger values are refused at decoding.
inline constexpr uint64_t kMaxSampleCount = uint64_t{1} << 40;

struct FrameHeader {
  uint32_t kind = 0;
  uint32_t length = 0;
};

// Parses and checks the 8 header bytes.
Result<FrameHeader> DecodeFrameHeader(
    std::span<const uint8_t, kFrameHeaderBytes> bytes);

// A site connection's first frame must be a Hello of at most this many bytes
// (its five texts of at most 256 bytes and a count need under 2 KiB): until
// the Hello has been accepted, a certificate holder gets no larger buffer.
inline constexpr uint32_t kMaxHelloPayloadBytes = 4 * 1024;

// What one reader accepts, on top of DecodeFrameHeader's checks, also before
// anything is allocated: kinds flowing towards `inbound` only, and if set,
// only `only_kind` within `max_length` bytes.
struct FrameFilter {
  Direction inbound = Direction::kSiteToCoordinator;
  uint32_t only_kind = 0;   // 0: any kind of that direction
  uint32_t max_length = 0;  // 0: the kind's MaxPayloadBytes
};

// InvalidArgument naming the kind when `header` does not pass `filter`.
Status CheckFrameFilter(const FrameHeader& header, const FrameFilter& filter);

// Encodes header + payload of one message (stamped with kProtocolVersion).
Bytes EncodeFrame(const Message& message);

// Decodes a payload whose header has already been checked. `words` must be
// 8-byte aligned (e.g. from std::vector<uint64_t>). Fails if the segment table
// is bad, the message is malformed, its protocol version differs from
// kProtocolVersion, its body is not of `header.kind`, or a field is out of
// range (a public key that is not 32 bytes, a vector blob whose length is not
// a multiple of 4, ...).
Result<Message> DecodeFramePayload(const FrameHeader& header,
                                   std::span<const uint64_t> words);

// Convenience for tests and fuzzing: a whole frame in one buffer (copies the
// payload into aligned storage). Fails on truncated input or trailing bytes.
Result<Message> DecodeFrame(ByteSpan frame);

}  // namespace cls::protocol

#endif  // CLS_PROTOCOL_FRAME_H_
