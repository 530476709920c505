#include "common/host_port.h"

#include <gtest/gtest.h>

namespace cls {
namespace {

void ExpectInvalid(std::string_view text, const std::string& message,
                   PortZero zero = PortZero::kRefused) {
  auto parsed = ParseHostPort(text, zero);
  ASSERT_FALSE(parsed.has_value()) << text;
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(parsed.error().message, message);
}

TEST(ParseHostPortTest, ReadsANameAndAPort) {
  auto parsed = ParseHostPort("coordinator.example.org:443");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->host, "coordinator.example.org");
  EXPECT_EQ(parsed->port, 443);
  EXPECT_EQ(parsed->ToString(), "coordinator.example.org:443");
}

TEST(ParseHostPortTest, ReadsBracketedIpv6AndWritesItBack) {
  auto parsed = ParseHostPort("[2001:db8::7]:7444");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
  EXPECT_EQ(parsed->host, "2001:db8::7");
  EXPECT_EQ(parsed->port, 7444);
  EXPECT_EQ(parsed->ToString(), "[2001:db8::7]:7444");
}

TEST(ParseHostPortTest, RefusesUnbracketedOrBrokenIpv6) {
  ExpectInvalid("::1:7444",
                "'::1:7444': write IPv6 addresses as [ADDRESS]:PORT");
  ExpectInvalid("[::1:7444", "'[::1:7444': missing ']' after the IPv6 address");
  ExpectInvalid("[::1]7444", "'[::1]7444': expected [ADDRESS]:PORT");
  ExpectInvalid("[::g]:7444", "'[::g]:7444': invalid IPv6 address");
  ExpectInvalid("[]:7444", "'[]:7444': host is empty");
}

TEST(ParseHostPortTest, RefusesAMissingPortOrHost) {
  ExpectInvalid("localhost", "'localhost': expected HOST:PORT");
  ExpectInvalid("localhost:", "'localhost:': port is missing");
  ExpectInvalid("[::1]:", "'[::1]:': port is missing");
  ExpectInvalid(":7444", "':7444': host is empty");
  ExpectInvalid("", "'': expected HOST:PORT");
}

TEST(ParseHostPortTest, RefusesPortZeroUnlessAskedAnd65536Always) {
  ExpectInvalid("localhost:0", "'localhost:0': port must be 1-65535");
  ExpectInvalid("localhost:65536", "'localhost:65536': port must be 1-65535");
  ExpectInvalid("localhost:65536", "'localhost:65536': port must be 0-65535",
                PortZero::kAllowed);
  ExpectInvalid("localhost:99999999999999999999",
                "'localhost:99999999999999999999': port must be 1-65535");
  auto any = ParseHostPort("127.0.0.1:0", PortZero::kAllowed);
  ASSERT_TRUE(any.has_value()) << any.error().message;
  EXPECT_EQ(any->port, 0);
  auto top = ParseHostPort("127.0.0.1:65535");
  ASSERT_TRUE(top.has_value()) << top.error().message;
  EXPECT_EQ(top->port, 65535);
}

TEST(ParseHostPortTest, RefusesJunk) {
  ExpectInvalid("localhost:https",
                "'localhost:https': port must be a number 1-65535");
  ExpectInvalid("localhost:-1",
                "'localhost:-1': port must be a number 1-65535");
  ExpectInvalid("localhost:74 4",
                "'localhost:74 4': port must be a number 1-65535");
  ExpectInvalid("localhost:+80",
                "'localhost:+80': port must be a number 1-65535");
  ExpectInvalid("user@host:7444",
                "'user@host:7444': invalid character in host name");
  ExpectInvalid("ho st:7444", "'ho st:7444': invalid character in host name");
  ExpectInvalid("https://host:7444",
                "'https://host:7444': expected HOST:PORT, without a scheme");
}

}  // namespace
}  // namespace cls
