#include "protocol/messages.h"

#include "protocol/kinds.h"

namespace cls::protocol {

std::string_view MessageName(const Message& message) {
  return kKinds[message.index()].name;
}

std::string_view MessageKindName(uint32_t kind) {
  const KindSpec* spec = FindKind(kind);
  return spec ? spec->name : "unknown";
}

}  // namespace cls::protocol
