#include "common/logging.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace cls {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class LoggingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        fs::path(::testing::TempDir()) /
        ("logging_" +
         std::string(
             ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    // Back to stderr, so no later test writes into a removed folder.
    ASSERT_TRUE(ConfigureLogging("test", LogSettings{}));
    fs::remove_all(dir_);
  }
  fs::path dir_;
};

TEST_F(LoggingTest, JsonLinesAreObjectsWithTheMessageEscaped) {
  LogSettings settings;
  settings.format = "json";
  settings.file = (dir_ / "agent.log").string();
  ASSERT_TRUE(ConfigureLogging("site-agent", settings));
  spdlog::info("round {} \"stage\" \\ done\nnext\tline", 7);
  spdlog::default_logger()->flush();

  auto lines = Lines(dir_ / "agent.log");
  ASSERT_EQ(lines.size(), 1u);
  auto entry = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(entry["message"], "round 7 \"stage\" \\ done\nnext\tline");
  EXPECT_EQ(entry["level"], "info");
  EXPECT_EQ(entry["logger"], "site-agent");
  EXPECT_EQ(entry["time"].get<std::string>().size(),
            std::string("2026-12-07T03:04:05.678Z").size());
}

TEST_F(LoggingTest, TextLinesHaveTimeLevelAndLogger) {
  LogSettings settings;
  settings.file = (dir_ / "coordinator.log").string();
  ASSERT_TRUE(ConfigureLogging("coordinator", settings));
  spdlog::warn("round {} aborted", 3);
  spdlog::default_logger()->flush();
  auto lines = Lines(dir_ / "coordinator.log");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("Z warning [coordinator] round 3 aborted"),
            std::string::npos)
      << lines[0];
}

TEST_F(LoggingTest, ReopenAfterTheFileWasMovedAsideWritesANewFile) {
  LogSettings settings;
  settings.file = (dir_ / "coordinator.log").string();
  ASSERT_TRUE(ConfigureLogging("coordinator", settings));
  spdlog::info("before rotation");
  spdlog::default_logger()->flush();
  // logrotate's "create": move the file, then SIGHUP.
  fs::rename(dir_ / "coordinator.log", dir_ / "coordinator.log.1");
  ASSERT_TRUE(ReopenLogs());
  spdlog::info("after rotation");
  spdlog::default_logger()->flush();

  auto old_lines = Lines(dir_ / "coordinator.log.1");
  auto new_lines = Lines(dir_ / "coordinator.log");
  ASSERT_EQ(old_lines.size(), 1u);
  ASSERT_EQ(new_lines.size(), 1u);
  EXPECT_NE(old_lines[0].find("before rotation"), std::string::npos);
  EXPECT_NE(new_lines[0].find("after rotation"), std::string::npos);
}

TEST_F(LoggingTest, AFileThatCannotBeOpenedIsAnErrorNamingIt) {
  // Under a regular file: no one can create it, root included.
  std::ofstream(dir_ / "plain-file") << "x";
  LogSettings settings;
  settings.file = (dir_ / "plain-file" / "x.log").string();
  auto s = ConfigureLogging("coordinator", settings);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message.find(settings.file), std::string::npos);
}

TEST(LogSettingsTest, KeysAreReadValidatedAndRelativeFilesResolved) {
  auto parse = [](const std::string& text) -> Result<LogSettings> {
    auto table = ParseToml(text, "test.toml");
    if (!table) return std::unexpected(table.error());
    TomlTable root(
        *table, "",
        {"log_format", "log_file", "log_max_size_mb", "log_max_files"});
    LogSettings settings;
    if (auto s = ReadLogSettings(root, "/etc/cls", settings); !s) {
      return std::unexpected(s.error());
    }
    return settings;
  };
  auto defaults = parse("");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->format, "text");
  EXPECT_EQ(defaults->file, "");
  EXPECT_EQ(defaults->max_size_mb, 100);
  EXPECT_EQ(defaults->max_files, 5);

  auto set = parse(
      "log_format = \"json\"\nlog_file = \"logs/c.log\"\n"
      "log_max_size_mb = 10\nlog_max_files = 2\n");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->format, "json");
  EXPECT_EQ(set->file, "/etc/cls/logs/c.log");
  EXPECT_EQ(set->max_size_mb, 10);
  EXPECT_EQ(set->max_files, 2);

  auto bad_format = parse("log_format = \"xml\"");
  ASSERT_FALSE(bad_format);
  EXPECT_NE(bad_format.error().message.find("'log_format' is 'xml'"),
            std::string::npos)
      << bad_format.error().message;
  auto bad_size = parse("log_max_size_mb = 0");
  ASSERT_FALSE(bad_size);
  EXPECT_NE(bad_size.error().message.find("log_max_size_mb"),
            std::string::npos);
}

}  // namespace
}  // namespace cls
