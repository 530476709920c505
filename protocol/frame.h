#ifndef CLS_PROTOCOL_FRAME_H_
#define CLS_PROTOCOL_FRAME_H_

#include <cstdint>
#include <span>

#include "common/bytes.h"
#include "common/error.h"
#include "protocol/messages.h"

namespace cls::protocol {

// A frame on the wire:
//   u32 kind    little-endian; Message::index() + 1 (the union field number)
//   u32 length  little-endian; payload bytes, a multiple of 8
//   payload     a Cap'n Proto message in standard serialisation (segment
//               table, then segments) whose Envelope.body is of that kind
//
// The header is checked before anything is allocated: the kind must be known
// and the length within that kind's limit (small control messages get a few
// KiB, vector-carrying messages up to kMaxParameters words). The payload is
// read into 8-byte-aligned words; the segment table is checked (at most
// kMaxSegments segments, sizes adding up exactly to the payload) before Cap'n
// Proto sees it, and Cap'n Proto reads with explicit ReaderOptions
// (traversal limit = payload words, nesting limit 16). Any failure is
// InvalidArgument with a short message that never quotes the payload.
inline constexpr size_t kFrameHeaderBytes = 8;
inline constexpr uint32_t kMaxSegments = 16;
// The largest model a round can carry (64 MiB of float32).
inline constexpr uint64_t kMaxParameters = 16 * 1024 * 1024;

struct FrameHeader {
  uint32_t kind = 0;
  uint32_t length = 0;
};

// Parses and checks the 8 header bytes.
Result<FrameHeader> DecodeFrameHeader(
    std::span<const uint8_t, kFrameHeaderBytes> bytes);

// The payload limit for a kind (0 for an unknown kind).
uint32_t MaxPayloadBytes(uint32_t kind);

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
