#include "common/host_port.h"

#include <cctype>
#include <charconv>

namespace cls {
namespace {

// Characters a host name or IP literal may not contain: anything that would
// change the meaning of a URL or a Host header.
bool IsValidHostChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= ' ' || u >= 0x7f) return false;
  return std::string_view("/?#@[]\\\"'<>%").find(c) == std::string_view::npos;
}

}  // namespace

std::string HostPort::ToString() const {
  const std::string port_text = std::to_string(port);
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + port_text;
  return host + ":" + port_text;
}

Result<HostPort> ParseHostPort(std::string_view text, PortZero zero) {
  const std::string quoted = "'" + std::string(text) + "'";
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return InvalidArgument(quoted + ": missing ']' after the IPv6 address");
    }
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) {
      return InvalidArgument(quoted + ": expected [ADDRESS]:PORT");
    }
    port = rest.substr(1);
    for (char c : host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' &&
          c != '.') {
        return InvalidArgument(quoted + ": invalid IPv6 address");
      }
    }
  } else {
    if (text.find("://") != std::string_view::npos) {
      return InvalidArgument(quoted + ": expected HOST:PORT, without a scheme");
    }
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return InvalidArgument(quoted + ": expected HOST:PORT");
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return InvalidArgument(quoted +
                             ": write IPv6 addresses as [ADDRESS]:PORT");
    }
    for (char c : host) {
      if (!IsValidHostChar(c)) {
        return InvalidArgument(quoted + ": invalid character in host name");
      }
    }
  }
  if (host.empty()) return InvalidArgument(quoted + ": host is empty");
  if (port.empty()) return InvalidArgument(quoted + ": port is missing");

  const std::string range = zero == PortZero::kAllowed ? "0-65535" : "1-65535";
  unsigned value = 0;
  const auto [end, ec] =
      std::from_chars(port.data(), port.data() + port.size(), value);
  const bool all_digits = ec == std::errc() && end == port.data() + port.size();
  const bool out_of_range = ec == std::errc::result_out_of_range;
  if (!all_digits && !out_of_range) {
    return InvalidArgument(quoted + ": port must be a number " + range);
  }
  if (out_of_range || value > 65535 ||
      (value == 0 && zero == PortZero::kRefused)) {
    return InvalidArgument(quoted + ": port must be " + range);
  }
  return HostPort{.host = std::string(host),
                  .port = static_cast<std::uint16_t>(value)};
}

}  // namespace cls
