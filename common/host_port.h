#ifndef CLS_COMMON_HOST_PORT_H_
#define CLS_COMMON_HOST_PORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "common/error.h"

namespace cls {

// A network address as written in configs and on command lines.
struct HostPort {
  std::string host;  // name or IP literal, IPv6 without brackets
  std::uint16_t port = 0;

  // "host:port", "[::1]:7444" for IPv6 literals.
  std::string ToString() const;
};

// Whether port 0 ("any free port", for a listening socket) is accepted.
enum class PortZero { kRefused, kAllowed };

// Parses "HOST:PORT" or "[IPV6]:PORT", the one parser of addresses in the
// project (configs, clsctl, benchmarks). Fails with InvalidArgument quoting
// the text and naming what is wrong, e.g. "'example:0': port must be
// 1-65535". The host is a name or IP literal; characters that would change
// the meaning of a URL or Host header (/?#@ quotes, spaces, controls) and an
// unbracketed IPv6 literal are refused. Names are not resolved.
Result<HostPort> ParseHostPort(std::string_view text,
                               PortZero zero = PortZero::kRefused);

}  // namespace cls

#endif  // CLS_COMMON_HOST_PORT_H_
