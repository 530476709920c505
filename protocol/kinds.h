#ifndef CLS_PROTOCOL_KINDS_H_
#define CLS_PROTOCOL_KINDS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <type_traits>
#include <variant>

#include "protocol/messages.h"

namespace cls::protocol {

// The largest model a round can carry (64 MiB of float32).
inline constexpr uint64_t kMaxParameters = 16 * 1024 * 1024;

// Which way a message kind flows. Each daemon refuses, at the header, a kind
// only it sends: a peer has no business announcing one, and refusing it
// before the payload is allocated keeps a peer from making the reader hold
// buffers sized for another direction's largest messages.
enum class Direction { kSiteToCoordinator, kCoordinatorToSite };

// Payload limits, checked at the frame header before anything is allocated.
inline constexpr uint32_t kKiB = 1024;
inline constexpr uint32_t kMiB = 1024 * kKiB;
// Small control messages.
inline constexpr uint32_t kControlPayloadLimit = 64 * kKiB;
// Key directories, shares, survivor sets: per-neighbour lists.
inline constexpr uint32_t kKeyPayloadLimit = 16 * kMiB;
// One parameter vector (or masked vector) and a little more.
static_assert(kMaxParameters * 4 + kMiB <= UINT32_MAX);
inline constexpr uint32_t kVectorPayloadLimit =
    static_cast<uint32_t>(kMaxParameters * 4 + kMiB);
// Two parameter vectors and the feature statistics.
static_assert(kMaxParameters * 16 + kMiB <= UINT32_MAX);
inline constexpr uint32_t kDeploymentPayloadLimit =
    static_cast<uint32_t>(kMaxParameters * 16 + kMiB);
inline constexpr uint32_t kDriftReportPayloadLimit = 4 * kMiB;

// What the protocol knows about one message kind apart from its fields.
struct KindSpec {
  std::string_view name;  // "hello", ...: for logs and errors
  Direction direction;    // who may send it
  uint32_t max_payload_bytes;
};

// The one table of message kinds, indexed by Message::index() (the frame
// kind minus one). The frame reader takes names, directions and limits from
// here; docs/protocol.md "Messages" shows it.
inline constexpr std::array<KindSpec, std::variant_size_v<Message>> kKinds = {{
    {"hello", Direction::kSiteToCoordinator, kControlPayloadLimit},
    {"welcome", Direction::kCoordinatorToSite, kControlPayloadLimit},
    {"rejected", Direction::kCoordinatorToSite, kControlPayloadLimit},
    {"round_announce", Direction::kCoordinatorToSite, kVectorPayloadLimit},
    {"advertise_keys", Direction::kSiteToCoordinator, kControlPayloadLimit},
    {"key_directory", Direction::kCoordinatorToSite, kKeyPayloadLimit},
    {"share_keys", Direction::kSiteToCoordinator, kKeyPayloadLimit},
    {"share_delivery", Direction::kCoordinatorToSite, kKeyPayloadLimit},
    {"masked_input", Direction::kSiteToCoordinator, kVectorPayloadLimit},
    // One survivor-set signature per neighbour.
    {"unmask_request", Direction::kCoordinatorToSite, kKeyPayloadLimit},
    {"unmask_response", Direction::kSiteToCoordinator, kKeyPayloadLimit},
    {"round_result", Direction::kCoordinatorToSite, kVectorPayloadLimit},
    {"round_aborted", Direction::kCoordinatorToSite, kControlPayloadLimit},
    {"evaluation_report", Direction::kSiteToCoordinator, kControlPayloadLimit},
    {"deployment_update", Direction::kCoordinatorToSite,
     kDeploymentPayloadLimit},
    {"deployment_ack", Direction::kSiteToCoordinator, kControlPayloadLimit},
    {"drift_report", Direction::kSiteToCoordinator, kDriftReportPayloadLimit},
    {"audit_checkpoint", Direction::kCoordinatorToSite, kControlPayloadLimit},
    {"survivor_set", Direction::kCoordinatorToSite, kKeyPayloadLimit},
    {"survivor_set_signature", Direction::kSiteToCoordinator,
     kControlPayloadLimit},
}};

// A Message alternative without its row would get an empty, zero-limit row.
constexpr bool EveryKindHasARow() {
  for (const KindSpec& spec : kKinds) {
    if (spec.name.empty() || spec.max_payload_bytes == 0) return false;
  }
  return true;
}
static_assert(EveryKindHasARow(), "a Message kind has no row in kKinds");

// The frame kind of message type T: its index in Message, plus one.
template <typename T, size_t I = 0>
constexpr uint32_t FrameKind() {
  if constexpr (std::is_same_v<T, std::variant_alternative_t<I, Message>>) {
    return static_cast<uint32_t>(I + 1);
  } else {
    return FrameKind<T, I + 1>();
  }
}

// The row of a frame kind; nullptr for an unknown kind.
constexpr const KindSpec* FindKind(uint32_t kind) {
  return kind >= 1 && kind <= kKinds.size() ? &kKinds[kind - 1] : nullptr;
}

// The payload limit for a kind (0 for an unknown kind).
constexpr uint32_t MaxPayloadBytes(uint32_t kind) {
  const KindSpec* spec = FindKind(kind);
  return spec ? spec->max_payload_bytes : 0;
}

// The direction of a kind (nullopt for an unknown kind).
constexpr std::optional<Direction> DirectionOf(uint32_t kind) {
  const KindSpec* spec = FindKind(kind);
  if (!spec) return std::nullopt;
  return spec->direction;
}

}  // namespace cls::protocol

#endif  // CLS_PROTOCOL_KINDS_H_
