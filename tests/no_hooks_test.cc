// The config parsers as a build without tests or benchmarks compiles them
// (CLS_TEST_HOOKS=0, CLS_BENCH_HOOKS=0; tests/CMakeLists.txt): benchmark
// mode does not exist there. The site agent's --test-* flags are checked the
// same way by the NoHooksBuild.* tests (site-agent/CMakeLists.txt).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "coordinator/config.h"
#include "site-agent/config.h"

#if CLS_TEST_HOOKS || CLS_BENCH_HOOKS
#error "no_hooks_test must be compiled with both hooks off"
#endif

namespace cls {
namespace {

constexpr const char* kSite = R"(
site_id = "HOSP_001"
coordinator = "127.0.0.1:7443"

[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
)";

TEST(NoHooksBuild, SiteAgentRefusesBenchmarkMode) {
  auto config =
      site::ParseConfig(std::string(kSite) + "\n[benchmark]\nparameters = 10\n",
                        "/srv/kit", "site.toml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(config.error().message.find("unknown key 'benchmark'"),
            std::string::npos)
      << config.error().message;
  // Without [data] there is nothing else an agent can run on.
  auto bare = site::ParseConfig(kSite, "/srv/kit", "site.toml");
  ASSERT_FALSE(bare);
  EXPECT_NE(bare.error().message.find("missing required table [data]"),
            std::string::npos)
      << bare.error().message;
}

TEST(NoHooksBuild, CoordinatorRefusesTheBenchmarkVectorKind) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("cls-no-hooks-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "coordinator.toml").string();
  std::ofstream(path) << "[tls]\nca = \"ca.pem\"\ncert = \"c.pem\"\n"
                         "key = \"c.key\"\n[model]\nparameters = 23\n"
                         "kind = \"benchmark_vector\"\n";
  auto config = coordinator::LoadCoordinatorConfig(path);
  std::filesystem::remove_all(dir);
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().message,
            "config: 'model.kind' must be logistic_regression, "
            "softmax_regression or mlp (this build has no benchmark mode), "
            "got 'benchmark_vector'");
}

}  // namespace
}  // namespace cls
