#include "protocol/messages.h"

#include <array>

namespace cls::protocol {
namespace {

// Indexed by Message::index(); the frame kind is index + 1.
constexpr std::array<std::string_view, std::variant_size_v<Message>> kNames = {
    "hello",
    "welcome",
    "rejected",
    "round_announce",
    "advertise_keys",
    "key_directory",
    "share_keys",
    "share_delivery",
    "masked_input",
    "unmask_request",
    "unmask_response",
    "round_result",
    "round_aborted",
    "evaluation_report",
    "deployment_update",
    "deployment_ack",
    "drift_report",
    "audit_checkpoint",
    "survivor_set",
    "survivor_set_signature",
};

}  // namespace

std::string_view MessageName(const Message& message) {
  return kNames[message.index()];
}

std::string_view MessageKindName(uint32_t kind) {
  if (kind == 0 || kind > kNames.size()) return "unknown";
  return kNames[kind - 1];
}

}  // namespace cls::protocol
