#include "common/toml_reader.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace cls {
namespace {

toml::table Parse(std::string_view text) {
  auto parsed = ParseToml(text, "site.toml");
  EXPECT_TRUE(parsed.has_value()) << parsed.error().message;
  return parsed ? std::move(*parsed) : toml::table{};
}

TEST(TomlTableTest, ReadsEachTypeAndLeavesDefaultsForAbsentKeys) {
  const toml::table root =
      Parse("name = \"A\"\nrate = 2\nratio = 0.5\non = true\ncount = 7\n");
  TomlTable t(root, "", {"name", "rate", "ratio", "on", "count", "absent"});
  ASSERT_TRUE(t.CheckKeys().has_value());
  EXPECT_EQ(*t.String("name").value(), "A");
  EXPECT_EQ(*t.Number("rate").value(), 2.0);  // an integer is a number
  EXPECT_EQ(*t.Number("ratio").value(), 0.5);
  EXPECT_TRUE(*t.Bool("on").value());
  EXPECT_EQ(*t.Integer("count", 1, 10).value(), 7);
  EXPECT_FALSE(t.Integer("absent").value().has_value());
  uint16_t narrow = 3;
  std::string kept = "default";
  ASSERT_TRUE(t.Read("count", narrow).has_value());
  ASSERT_TRUE(t.Read("absent", kept).has_value());
  EXPECT_EQ(narrow, 7);
  EXPECT_EQ(kept, "default");
}

TEST(TomlTableTest, DetailedErrorsNameTheKeyTheLineAndTheExpectedType) {
  const toml::table root = Parse("[data]\nsplit_seed = \"eleven\"\nx = 1.5\n");
  TomlTable data(*root.get_as<toml::table>("data"), "data",
                 {"split_seed", "x"});
  EXPECT_EQ(data.Integer("split_seed").error().message,
            "'data.split_seed' (line 2) must be a whole number");
  EXPECT_EQ(data.Integer("x").error().message,
            "'data.x' (line 3) must be a whole number");
  EXPECT_EQ(data.Bool("x").error().message,
            "'data.x' (line 3) must be true or false");
  EXPECT_EQ(data.RequiredString("missing").error().message,
            "missing required key 'data.missing'");
}

TEST(TomlTableTest, RangesAndInfinityAreRefused) {
  const toml::table root = Parse("n = 1001\nbig = 70000\nf = inf\n");
  TomlTable t(root, "", {"n", "big", "f"}, {.prefix = "config: "});
  EXPECT_EQ(t.Integer("n", 2, 1000).error().message,
            "config: 'n' must be between 2 and 1000");
  uint16_t port = 0;
  EXPECT_EQ(t.Read("big", port).error().message,
            "config: 'big' is out of range");
  EXPECT_EQ(t.Number("f").error().message,
            "config: 'f' (line 3) must be finite");
}

TEST(TomlTableTest, UnknownKeysAreRefusedWithTheAllowedOnes) {
  const toml::table root = Parse("[data]\ncsv = \"a\"\npostive_above = 0\n");
  TomlTable data(*root.get_as<toml::table>("data"), "data",
                 {"csv", "positive_above"});
  EXPECT_EQ(data.CheckKeys().error().message,
            "unknown key 'data.postive_above' (line 3); allowed here: csv, "
            "positive_above");
  TomlTable brief(*root.get_as<toml::table>("data"), "data", {"csv"},
                  {.prefix = "config: ", .detailed = false});
  EXPECT_EQ(brief.CheckKeys().error().message,
            "config: unknown key 'data.postive_above'");
  EXPECT_EQ(brief.Integer("csv").error().message,
            "config: 'data.csv' has the wrong type");
}

TEST(TomlTableTest, SyntaxErrorsNameTheOriginAndTheLine) {
  auto parsed = ParseToml("a = 1\nb = \n", "broken.toml");
  ASSERT_FALSE(parsed.has_value());
  EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidArgument);
  EXPECT_TRUE(parsed.error().message.starts_with("broken.toml:2: "))
      << parsed.error().message;
  EXPECT_NE(parsed.error().message.find("(line 2, column"), std::string::npos)
      << parsed.error().message;
}

TEST(TomlTableTest, ReadConfigFileSaysWhatIsWrongWithThePath) {
  EXPECT_EQ(ReadConfigFile("/nonexistent/site.toml").error().message,
            "config file '/nonexistent/site.toml' not found");
  EXPECT_EQ(ReadConfigFile("/tmp").error().message,
            "config file '/tmp' is not a regular file");
  const auto path = std::filesystem::temp_directory_path() /
                    ("cls_toml_" + std::to_string(::getpid()) + ".toml");
  std::ofstream(path) << "a = 1\n";
  EXPECT_EQ(ReadConfigFile(path.string()).value(), "a = 1\n");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace cls
