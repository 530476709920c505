#include "console/admin_client.h"

#include <gtest/gtest.h>

namespace cls::console {
namespace {

TEST(ParseEndpointTest, AcceptsHostAndPort) {
  auto endpoint = ParseEndpoint("127.0.0.1:7444");
  ASSERT_TRUE(endpoint.has_value()) << endpoint.error().message;
  EXPECT_EQ(endpoint->host, "127.0.0.1");
  EXPECT_EQ(endpoint->port, 7444);
  EXPECT_EQ(endpoint->ToString(), "127.0.0.1:7444");
}

TEST(ParseEndpointTest, AcceptsHostNames) {
  auto endpoint = ParseEndpoint("coordinator.example.org:443");
  ASSERT_TRUE(endpoint.has_value());
  EXPECT_EQ(endpoint->host, "coordinator.example.org");
  EXPECT_EQ(endpoint->port, 443);
}

TEST(ParseEndpointTest, AcceptsBracketedIpv6) {
  auto endpoint = ParseEndpoint("[::1]:7444");
  ASSERT_TRUE(endpoint.has_value()) << endpoint.error().message;
  EXPECT_EQ(endpoint->host, "::1");
  EXPECT_EQ(endpoint->ToString(), "[::1]:7444");
}

void ExpectInvalid(std::string_view text, const std::string& message) {
  auto endpoint = ParseEndpoint(text);
  ASSERT_FALSE(endpoint.has_value()) << text;
  EXPECT_EQ(endpoint.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(endpoint.error().message, message);
}

TEST(ParseEndpointTest, RejectsPortOutOfRange) {
  ExpectInvalid("localhost:0", "'localhost:0': port must be 1-65535");
  ExpectInvalid("localhost:65536", "'localhost:65536': port must be 1-65535");
  ExpectInvalid("localhost:99999999999999999999",
                "'localhost:99999999999999999999': port must be 1-65535");
}

TEST(ParseEndpointTest, RejectsPortThatIsNotANumber) {
  ExpectInvalid("localhost:https",
                "'localhost:https': port must be a number 1-65535");
  ExpectInvalid("localhost:-1",
                "'localhost:-1': port must be a number 1-65535");
  ExpectInvalid("localhost:74 4",
                "'localhost:74 4': port must be a number 1-65535");
}

TEST(ParseEndpointTest, RejectsMissingParts) {
  ExpectInvalid("localhost", "'localhost': expected HOST:PORT");
  ExpectInvalid("localhost:", "'localhost:': port is missing");
  ExpectInvalid(":7444", "':7444': host is empty");
  ExpectInvalid("", "'': expected HOST:PORT");
}

TEST(ParseEndpointTest, RejectsBadHosts) {
  ExpectInvalid("::1:7444",
                "'::1:7444': write IPv6 addresses as [ADDRESS]:PORT");
  ExpectInvalid("[::1:7444", "'[::1:7444': missing ']' after the IPv6 address");
  ExpectInvalid("user@host:7444",
                "'user@host:7444': invalid character in host name");
  ExpectInvalid("https://host:7444",
                "'https://host:7444': expected HOST:PORT, without a scheme");
}

TEST(AdminClientTest, CreateReportsAMissingCaFile) {
  auto client = AdminClient::Create(
      AdminClientConfig{.endpoint = {"127.0.0.1", 7444},
                        .ca_file = "/nonexistent/ca.pem",
                        .cert_file = "/nonexistent/operator.pem",
                        .key_file = "/nonexistent/operator.key"});
  ASSERT_FALSE(client.has_value());
  EXPECT_EQ(client.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(
      client.error().message,
      "tls: cannot read CA certificate /nonexistent/ca.pem: no such file");
}

}  // namespace
}  // namespace cls::console
