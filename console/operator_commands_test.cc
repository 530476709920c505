// Issue 12 in the console: round abort and queue clear, --json errors and
// the exit codes per HTTP status, `version`, the config file's contexts and
// their precedence, and the bash completion script.

#include "console/operator_commands.h"
#include "console/fake_admin_api.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "console/cli.h"
#include "console/cli_config.h"
#include "console/completion.h"

namespace cls::console {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

using testing::FakeAdminApi;

class OperatorCommandsTest : public ::testing::Test {
 protected:
  CommandContext Context(bool json = false) {
    return CommandContext{.api = api_,
                          .out = out_,
                          .diagnostics = err_,
                          .json = json,
                          .sleep = [](std::chrono::milliseconds) {}};
  }
  FakeAdminApi api_;
  std::ostringstream out_;
  std::ostringstream err_;
};

json ServerError(const std::string& code, const std::string& message) {
  return {{"error", {{"code", code}, {"message", message}}}};
}

TEST_F(OperatorCommandsTest, RoundAbortPostsAndNamesTheRound) {
  api_.Answer(200, {{"aborted_round", 12}});
  auto ctx = Context();
  ASSERT_TRUE(RunRoundAbort(ctx).has_value());
  ASSERT_EQ(api_.requests.size(), 1u);
  EXPECT_EQ(api_.requests[0].method, HttpMethod::kPost);
  EXPECT_EQ(api_.requests[0].target, "/v1/rounds/abort");
  EXPECT_EQ(out_.str(),
            "round 12 aborted; queued rounds still run (clsctl round queue "
            "clear drops them)\n");
}

TEST_F(OperatorCommandsTest, QueueClearSendsDeleteAndCounts) {
  api_.Answer(200, {{"cleared", 3}});
  auto ctx = Context();
  ASSERT_TRUE(RunRoundQueueClear(ctx).has_value());
  EXPECT_EQ(api_.requests[0].method, HttpMethod::kDelete);
  EXPECT_EQ(api_.requests[0].target, "/v1/rounds/queue");
  EXPECT_EQ(out_.str(),
            "cleared 3 queued rounds; a running round goes on (clsctl round "
            "abort stops it)\n");
}

// 403, 404 and 409 have their own exit codes; other 4xx keep 3, 5xx 4.
TEST_F(OperatorCommandsTest, EachRefusalHasItsExitCodeAndTheServersCode) {
  const struct {
    int status;
    std::string code;
    ExitCode exit;
    int number;
  } cases[] = {
      {403, "permission_denied", ExitCode::kForbidden, 6},
      {404, "not_found", ExitCode::kNotFound, 7},
      {409, "failed_precondition", ExitCode::kConflict, 8},
      {400, "invalid_argument", ExitCode::kRefused, 3},
      {500, "internal", ExitCode::kCoordinatorError, 4},
  };
  for (const auto& c : cases) {
    api_.Answer(c.status, ServerError(c.code, "because " + c.code));
    auto ctx = Context();
    auto result = RunRoundAbort(ctx);
    ASSERT_FALSE(result.has_value()) << c.status;
    EXPECT_EQ(result.error().exit_code, c.exit) << c.status;
    EXPECT_EQ(static_cast<int>(result.error().exit_code), c.number);
    EXPECT_EQ(result.error().code, c.code);
    EXPECT_EQ(result.error().http_status, c.status);
  }
}

TEST_F(OperatorCommandsTest, AnUnservedRouteKeepsExitCode3) {
  api_.Answer(404, ServerError("unimplemented", "not yet"));
  auto ctx = Context();
  auto result = RunRoundQueueClear(ctx);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kRefused);
  EXPECT_EQ(result.error().message,
            "the coordinator does not support DELETE /v1/rounds/queue yet; "
            "this command needs a newer coordinator");
}

TEST_F(OperatorCommandsTest, ErrorJsonCarriesCodeStatusAndMessage) {
  api_.Answer(409, ServerError("failed_precondition", "no round is running"));
  auto ctx = Context(/*json=*/true);
  auto result = RunRoundAbort(ctx);
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(ErrorJson(result.error()),
            json::parse(R"({"error": {"code": "failed_precondition",
                "http_status": 409, "message": "no round is running"}})"));
  // Without an HTTP answer: the client's code and status 0.
  api_.Fail(Error{ErrorCode::kUnavailable, "cannot connect to 127.0.0.1:1"});
  auto unreachable = RunRoundAbort(ctx);
  ASSERT_FALSE(unreachable.has_value());
  EXPECT_EQ(unreachable.error().exit_code, ExitCode::kUnreachable);
  EXPECT_EQ(ErrorJson(unreachable.error()),
            json::parse(R"({"error": {"code": "unavailable",
                "http_status": 0, "message": "cannot connect to 127.0.0.1:1"}})"));
  // A usage error raised here: invalid_argument.
  EXPECT_EQ(ErrorJson(CommandError{ExitCode::kUsage, "bad"})["error"]["code"],
            "invalid_argument");
}

TEST_F(OperatorCommandsTest, WaitWithJsonPutsTheAbortInTheOneDocument) {
  api_.Answer(200, {{"first_round", 5}, {"queued", 2}});
  api_.Answer(200, {{"round", nullptr}, {"queued_rounds", 0}});
  json r5 = {{"round_id", 5},
             {"status", "aborted"},
             {"abort_reason", "aborted by operator alice"}};
  json r6 = {{"round_id", 6}, {"status", "completed"}};
  api_.Answer(200, {{"rounds", {r6, r5}}});
  auto ctx = Context(/*json=*/true);
  auto result = RunRoundStart(ctx, {.rounds = 2, .wait = true});
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().exit_code, ExitCode::kRoundAborted);
  EXPECT_TRUE(result.error().json_printed);
  const json doc = json::parse(out_.str());
  EXPECT_EQ(doc["rounds"].size(), 2u);
  EXPECT_EQ(doc["error"]["code"], "aborted");
  EXPECT_EQ(doc["error"]["http_status"], 0);
  EXPECT_EQ(doc["error"]["message"],
            "1 of 2 rounds aborted (round 5: aborted by operator alice)");
}

TEST_F(OperatorCommandsTest, VersionShowsClientAndServer) {
  api_.Answer(200, {{"version", "0.1.0 (git abc)"},
                    {"protocol_versions", {2}},
                    {"coordinator_id", "c"}});
  auto ctx = Context();
  ASSERT_TRUE(RunVersion(ctx, "clsctl 0.1.0 (git def)").has_value());
  EXPECT_EQ(api_.requests[0].target, "/v1/status");
  EXPECT_EQ(out_.str(),
            "clsctl 0.1.0 (git def)\ncoordinator 0.1.0 (git abc), protocol "
            "2\n");
}

TEST_F(OperatorCommandsTest, VersionWithTheServerUnreachableExits2) {
  api_.Fail(Error{ErrorCode::kUnavailable, "cannot connect to h:7444"});
  auto ctx = Context();
  auto result = RunVersion(ctx, "clsctl 0.1.0 (git def)");
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(static_cast<int>(result.error().exit_code), 2);
  EXPECT_EQ(out_.str(),
            "clsctl 0.1.0 (git def)\ncoordinator: unreachable (cannot "
            "connect to h:7444)\n");
  // --json: one document with the client, a null server and the error.
  out_.str("");
  api_.Fail(Error{ErrorCode::kUnavailable, "cannot connect to h:7444"});
  auto json_ctx = Context(/*json=*/true);
  ASSERT_FALSE(RunVersion(json_ctx, "clsctl 0.1.0 (git def)").has_value());
  const json doc = json::parse(out_.str());
  EXPECT_EQ(doc["client"]["version"], "0.1.0 (git def)");
  EXPECT_TRUE(doc["server"].is_null());
  EXPECT_EQ(doc["error"]["code"], "unavailable");
}

// A temporary folder with a config file and an environment to look in.
class ClsctlConfigTest : public ::testing::Test {
 protected:
  ClsctlConfigTest()
      : dir_(fs::temp_directory_path() /
             ("clsctl-config-" + std::to_string(::getpid()))) {
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "xdg" / "clsctl");
    env_["XDG_CONFIG_HOME"] = (dir_ / "xdg").string();
    env_["HOME"] = (dir_ / "home").string();
  }
  ~ClsctlConfigTest() override { fs::remove_all(dir_); }

  std::string Write(const std::string& text) {
    const fs::path path = dir_ / "xdg" / "clsctl" / "config.toml";
    std::ofstream(path) << text;
    return path.string();
  }
  std::function<const char*(const char*)> Env() {
    return [this](const char* name) -> const char* {
      auto it = env_.find(name);
      return it == env_.end() ? nullptr : it->second.c_str();
    };
  }

  fs::path dir_;
  std::map<std::string, std::string> env_;
};

constexpr char kTwoContexts[] = R"(current_context = "prod"
[contexts.prod]
coordinator = "prod.example:7444"
ca = "pki/ca.crt"
cert = "pki/alice.crt"
key = "/abs/alice.key"
[contexts.test]
coordinator = "test.example:7444"
)";

TEST_F(ClsctlConfigTest, TheDefaultPathHonoursXdgThenHome) {
  EXPECT_EQ(DefaultConfigPath(Env()),
            (dir_ / "xdg" / "clsctl" / "config.toml").string());
  env_.erase("XDG_CONFIG_HOME");
  EXPECT_EQ(DefaultConfigPath(Env()),
            (dir_ / "home" / ".config" / "clsctl" / "config.toml").string());
  env_.erase("HOME");
  EXPECT_EQ(DefaultConfigPath(Env()), "");
}

TEST_F(ClsctlConfigTest, TheCurrentContextFillsWhatIsNotGiven) {
  Write(kTwoContexts);
  GlobalOptions options;
  auto config = ResolveClsctlConfig("", "", {}, options, Env());
  ASSERT_TRUE(config.has_value()) << config.error().message;
  ASSERT_TRUE(config->has_value());
  EXPECT_EQ(options.coordinator, "prod.example:7444");
  // Relative to the file's folder.
  EXPECT_EQ(options.ca_file,
            (dir_ / "xdg" / "clsctl" / "pki" / "ca.crt").string());
  EXPECT_EQ(options.cert_file,
            (dir_ / "xdg" / "clsctl" / "pki" / "alice.crt").string());
  EXPECT_EQ(options.key_file, "/abs/alice.key");
}

// Flags and CLS_* variables (both reported as given) beat the context.
TEST_F(ClsctlConfigTest, FlagsAndEnvironmentOverrideTheContext) {
  Write(kTwoContexts);
  GlobalOptions options;
  options.coordinator = "flag.example:1";
  options.cert_file = "from-env.crt";
  auto config = ResolveClsctlConfig("", "", {.coordinator = true, .cert = true},
                                    options, Env());
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_EQ(options.coordinator, "flag.example:1");
  EXPECT_EQ(options.cert_file, "from-env.crt");
  EXPECT_EQ(options.key_file, "/abs/alice.key");
}

TEST_F(ClsctlConfigTest, ContextFlagPicksAnotherAndUnknownNamesTheKnown) {
  Write(kTwoContexts);
  GlobalOptions options;
  ASSERT_TRUE(ResolveClsctlConfig("", "test", {}, options, Env()));
  EXPECT_EQ(options.coordinator, "test.example:7444");
  EXPECT_EQ(options.cert_file, "");

  auto missing = ResolveClsctlConfig("", "staging", {}, options, Env());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(missing.error().message,
            "--context: no context 'staging' in " +
                (dir_ / "xdg" / "clsctl" / "config.toml").string() +
                " (known: prod, test)");
}

TEST_F(ClsctlConfigTest, NoFileIsTodaysBehaviourUnlessOneWasAskedFor) {
  GlobalOptions options;
  auto none = ResolveClsctlConfig("", "", {}, options, Env());
  ASSERT_TRUE(none.has_value());
  EXPECT_FALSE(none->has_value());
  EXPECT_EQ(options.coordinator, "127.0.0.1:7444");

  auto flag = ResolveClsctlConfig((dir_ / "nope.toml").string(), "", {},
                                  options, Env());
  ASSERT_FALSE(flag.has_value());
  EXPECT_EQ(flag.error().message, "--config: config file '" +
                                      (dir_ / "nope.toml").string() +
                                      "' not found");
  auto context = ResolveClsctlConfig("", "prod", {}, options, Env());
  ASSERT_FALSE(context.has_value());
  EXPECT_NE(context.error().message.find("--context prod: config file"),
            std::string::npos);
}

TEST_F(ClsctlConfigTest, UnknownKeysWrongTypesAndDanglingCurrentAreErrors) {
  const std::string path = Write("[contexts.prod]\ncertificate = \"x\"\n");
  auto unknown = LoadClsctlConfig(path);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find(path), std::string::npos);
  EXPECT_NE(unknown.error().message.find("certificate"), std::string::npos)
      << unknown.error().message;

  Write("[contexts.prod]\ncoordinator = 7444\n");
  auto type = LoadClsctlConfig(path);
  ASSERT_FALSE(type.has_value());
  EXPECT_NE(type.error().message.find("contexts.prod.coordinator"),
            std::string::npos)
      << type.error().message;

  Write("current_context = \"dev\"\n[contexts.prod]\n");
  auto dangling = LoadClsctlConfig(path);
  ASSERT_FALSE(dangling.has_value());
  EXPECT_EQ(dangling.error().message,
            path +
                ": current_context 'dev' names no [contexts.dev] table "
                "(known: prod)");

  Write("[contexts.prod]\ncoordinator = \"nohost\"\n");
  EXPECT_FALSE(LoadClsctlConfig(path).has_value());
}

TEST_F(ClsctlConfigTest, ContextsListMarksTheCurrentOne) {
  const std::string path = Write(kTwoContexts);
  auto config = LoadClsctlConfig(path);
  ASSERT_TRUE(config.has_value()) << config.error().message;
  FakeAdminApi api;
  std::ostringstream out, err;
  CommandContext ctx{.api = api, .out = out, .diagnostics = err};
  ASSERT_TRUE(RunConfigContexts(ctx, *config, path).has_value());
  EXPECT_EQ(out.str(), "config file: " + path +
                           "\n* prod  prod.example:7444\n  test  "
                           "test.example:7444\n");
  EXPECT_TRUE(api.requests.empty());
}

// The real command line: a CLS_* variable counts as given (it beats the
// context) just like its flag; an unset one leaves the context in charge.
TEST(ClsctlCommandLineTest, EnvironmentVariablesCountAsGivenOptions) {
  ASSERT_EQ(::setenv("CLS_CERT", "/env/op.crt", 1), 0);
  ASSERT_EQ(::unsetenv("CLS_KEY"), 0);
  ASSERT_EQ(::unsetenv("CLS_CA"), 0);
  ASSERT_EQ(::unsetenv("CLS_ADMIN"), 0);
  CLI::App app{"test", "clsctl"};
  CliState state;
  BuildClsctlApp(app, state);
  const char* argv[] = {"clsctl", "--ca",      "/flag/ca.pem",
                        "status", "--context", "prod"};
  app.parse(6, const_cast<char**>(argv));
  ::unsetenv("CLS_CERT");
  EXPECT_GT(state.ca_option->count(), 0u);
  EXPECT_GT(state.cert_option->count(), 0u);
  EXPECT_EQ(state.key_option->count(), 0u);
  EXPECT_EQ(state.coordinator_option->count(), 0u);
  EXPECT_EQ(state.globals.cert_file, "/env/op.crt");
  EXPECT_EQ(state.context, "prod");
  ClsctlContext prod{.name = "prod",
                     .coordinator = "prod.example:7444",
                     .ca_file = "/ctx/ca.pem",
                     .cert_file = "/ctx/op.crt",
                     .key_file = "/ctx/op.key"};
  ApplyContext(prod,
               {.coordinator = state.coordinator_option->count() > 0,
                .ca = state.ca_option->count() > 0,
                .cert = state.cert_option->count() > 0,
                .key = state.key_option->count() > 0},
               state.globals);
  EXPECT_EQ(state.globals.ca_file, "/flag/ca.pem");
  EXPECT_EQ(state.globals.cert_file, "/env/op.crt");
  EXPECT_EQ(state.globals.key_file, "/ctx/op.key");
  EXPECT_EQ(state.globals.coordinator, "prod.example:7444");
}

// Every subcommand of the real app, at every depth, is in the script.
TEST(BashCompletionTest, TheScriptNamesEverySubcommandAndOption) {
  CLI::App app{"test", "clsctl"};
  CliState state;
  BuildClsctlApp(app, state);
  const std::string script = BashCompletion(app);
  int checked = 0;
  std::function<void(const CLI::App&, const std::string&)> walk =
      [&](const CLI::App& a, const std::string& path) {
        for (const CLI::App* sub : a.get_subcommands({})) {
          const std::string sub_path =
              path.empty() ? sub->get_name() : path + " " + sub->get_name();
          // Its own entry, and its name among its parent's subcommands.
          EXPECT_NE(script.find("['" + sub_path + "']="), std::string::npos)
              << sub_path;
          EXPECT_NE(script.find(sub->get_name()), std::string::npos);
          ++checked;
          walk(*sub, sub_path);
        }
      };
  walk(app, "");
  EXPECT_GT(checked, 30);
  for (const char* path :
       {"'round queue'", "'round abort'", "'version'", "'completion bash'",
        "'config contexts'", "'sites reinstate'", "'audit verify'"}) {
    EXPECT_NE(script.find(std::string("[") + path + "]"), std::string::npos)
        << path;
  }
  for (const char* option : {"--context", "--config", "--json", "--wait"}) {
    EXPECT_NE(script.find(option), std::string::npos) << option;
  }
  EXPECT_NE(script.find("complete -o default -F _clsctl clsctl"),
            std::string::npos);
}

}  // namespace
}  // namespace cls::console
