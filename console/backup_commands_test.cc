#include "console/backup_commands.h"

#include <gtest/gtest.h>

#include <deque>
#include <sstream>
#include <vector>

namespace cls::console {
namespace {

using nlohmann::json;

class OneAnswerApi final : public AdminApi {
 public:
  explicit OneAnswerApi(AdminResponse answer) : answer_(std::move(answer)) {}
  Result<AdminResponse> Send(const AdminRequest& request) override {
    requests.push_back(request);
    return answer_;
  }
  std::vector<AdminRequest> requests;

 private:
  AdminResponse answer_;
};

const json kBackup = {
    {"file", "/var/backups/cls/coordinator-20261207T031000Z-4.db"},
    {"bytes", 3145728},
    {"sha256", std::string(64, 'a')},
    {"created_at", "2026-12-07T03:10:00Z"}};

TEST(BackupCommandTest, PostsAndPrintsFileSizeAndSha256) {
  OneAnswerApi api(AdminResponse{200, kBackup});
  std::ostringstream out, err;
  CommandContext ctx{.api = api, .out = out, .diagnostics = err};
  ASSERT_TRUE(RunBackup(ctx).has_value()) << err.str();
  ASSERT_EQ(api.requests.size(), 1u);
  EXPECT_EQ(api.requests[0].method, HttpMethod::kPost);
  EXPECT_EQ(api.requests[0].target, "/v1/backup");
  EXPECT_NE(
      out.str().find("/var/backups/cls/coordinator-20261207T031000Z-4.db"),
      std::string::npos);
  EXPECT_NE(out.str().find("3145728 bytes (3.0 MiB)"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find(std::string(64, 'a')), std::string::npos);
}

TEST(BackupCommandTest, JsonPrintsTheAnswer) {
  OneAnswerApi api(AdminResponse{200, kBackup});
  std::ostringstream out, err;
  CommandContext ctx{.api = api, .out = out, .diagnostics = err, .json = true};
  ASSERT_TRUE(RunBackup(ctx).has_value());
  EXPECT_EQ(json::parse(out.str()), kBackup);
}

TEST(BackupCommandTest, NotConfiguredIsRefusedWithTheCoordinatorsMessage) {
  OneAnswerApi api(AdminResponse{
      409,
      {{"error",
        {{"code", "failed_precondition"},
         {"message", "backups are not configured: set [backup] dir"}}}}});
  std::ostringstream out, err;
  CommandContext ctx{.api = api, .out = out, .diagnostics = err};
  auto r = RunBackup(ctx);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().exit_code, ExitCode::kConflict);
  EXPECT_NE(r.error().message.find("[backup] dir"), std::string::npos)
      << r.error().message;
}

}  // namespace
}  // namespace cls::console
