// AdminBody: the one parser of admin API bodies and its 400 messages.

#include "coordinator/admin/admin_api_body.h"

#include <gtest/gtest.h>

namespace cls::coordinator {
namespace {

TEST(AdminBodyTest, AnEmptyBodyIsAnEmptyObject) {
  auto body = AdminBody::Parse("");
  ASSERT_TRUE(body.has_value());
  EXPECT_FALSE(body->Has("reason"));
  EXPECT_EQ(*body->Reason(), "");
  EXPECT_EQ(*body->Number("trust_score", "x"), std::nullopt);
}

TEST(AdminBodyTest, AnythingButAJsonObjectIsRefused) {
  for (const char* text : {"[1]", "\"text\"", "{\"a\":", "3"}) {
    auto body = AdminBody::Parse(text);
    ASSERT_FALSE(body.has_value()) << text;
    EXPECT_EQ(body.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(body.error().message, "body must be a JSON object");
  }
}

TEST(AdminBodyTest, AFieldOfTheWrongTypeGetsItsOwnMessage) {
  auto body = AdminBody::Parse(R"({"rounds":"two","trust_score":true})");
  ASSERT_TRUE(body.has_value());
  auto rounds = body->Integer("rounds", "rounds must be an integer");
  ASSERT_FALSE(rounds.has_value());
  EXPECT_EQ(rounds.error().message, "rounds must be an integer");
  auto score = body->Number("trust_score", "trust_score must be a number");
  ASSERT_FALSE(score.has_value());
  EXPECT_EQ(score.error().message, "trust_score must be a number");
  auto fractional = AdminBody::Parse(R"({"rounds":1.5})");
  EXPECT_FALSE(fractional->Integer("rounds", "m").has_value());
}

TEST(AdminBodyTest, AReasonIsAStringOfAtMost200Bytes) {
  auto ok = AdminBody::Parse(R"({"reason":"audit"})");
  EXPECT_EQ(*ok->Reason(), "audit");
  auto long_reason =
      AdminBody::Parse("{\"reason\":\"" + std::string(201, 'x') + "\"}");
  ASSERT_FALSE(long_reason->Reason().has_value());
  EXPECT_EQ(long_reason->Reason().error().message,
            "reason must be a string of at most 200 bytes");
  auto number = AdminBody::Parse(R"({"reason":7})");
  EXPECT_FALSE(number->Reason().has_value());
}

TEST(AdminBodyTest, UnknownFieldsAreNamed) {
  auto body = AdminBody::Parse(R"({"new_key_file":"/k","force":true})");
  auto s = body->OnlyFields({"new_key_file"});
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().message, "unknown field 'force' (only new_key_file)");
  EXPECT_TRUE(AdminBody::Parse(R"({"new_key_file":"/k"})")
                  ->OnlyFields({"new_key_file"})
                  .has_value());
}

}  // namespace
}  // namespace cls::coordinator
