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
  ExpectInvalid("fe80::1:443",
                "'fe80::1:443': write IPv6 addresses as [ADDRESS]:PORT");
  ExpectInvalid("[fe80::1:443",
                "'[fe80::1:443': missing ']' after the IPv6 address");
  ExpectInvalid("[fe80::1]443", "'[fe80::1]443': expected [ADDRESS]:PORT");
  ExpectInvalid("[fe80::z]:443", "'[fe80::z]:443': invalid IPv6 address");
  ExpectInvalid("[]:443", "'[]:443': host is empty");
}

TEST(ParseHostPortTest, RefusesAMissingPortOrHost) {
  ExpectInvalid("db.example", "'db.example': expected HOST:PORT");
  ExpectInvalid("db.example:", "'db.example:': port is missing");
  ExpectInvalid("[fe80::1]:", "'[fe80::1]:': port is missing");
  ExpectInvalid(":443", "':443': host is empty");
  ExpectInvalid(":", "':': host is empty");
}

TEST(ParseHostPortTest, RefusesPortZeroUnlessAskedAnd65536Always) {
  ExpectInvalid("db.example:0", "'db.example:0': port must be 1-65535");
  ExpectInvalid("db.example:65536", "'db.example:65536': port must be 1-65535");
  ExpectInvalid("db.example:65536", "'db.example:65536': port must be 0-65535",
                PortZero::kAllowed);
  ExpectInvalid("db.example:4294967296",
                "'db.example:4294967296': port must be 1-65535");
  auto any = ParseHostPort("127.0.0.1:0", PortZero::kAllowed);
  ASSERT_TRUE(any.has_value()) << any.error().message;
  EXPECT_EQ(any->port, 0);
  auto top = ParseHostPort("127.0.0.1:65535");
  ASSERT_TRUE(top.has_value()) << top.error().message;
  EXPECT_EQ(top->port, 65535);
}

TEST(ParseHostPortTest, RefusesJunk) {
  ExpectInvalid("db.example:0x1bb",
                "'db.example:0x1bb': port must be a number 1-65535");
  ExpectInvalid("db.example:+443",
                "'db.example:+443': port must be a number 1-65535");
  ExpectInvalid("db.example:443/",
                "'db.example:443/': port must be a number 1-65535");
  ExpectInvalid("db/example:443",
                "'db/example:443': invalid character in host name");
  ExpectInvalid("db example:443",
                "'db example:443': invalid character in host name");
  ExpectInvalid("db\x01:443", "'db\x01:443': invalid character in host name");
  ExpectInvalid("tcp://db:443",
                "'tcp://db:443': expected HOST:PORT, without a scheme");
}

}  // namespace
}  // namespace cls
