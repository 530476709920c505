// [serve] in the site agent's config file (site-agent/config.cc ParseServe).

#include <gtest/gtest.h>

#include "site-agent/config.h"

namespace cls::site {
namespace {

constexpr const char* kBase = R"(
site_id = "HOSP_001"
coordinator = "127.0.0.1:7443"

[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
crl = "ca-crl.pem"

[data]
csv = "heart.csv"
label_column = "num"

[[data.columns]]
name = "age"
)";

Result<AgentConfig> Parse(const std::string& serve) {
  return ParseConfig(std::string(kBase) + serve, "/srv/kit", "site.toml");
}

TEST(ServeConfigTest, NoServeTableMeansNotServing) {
  auto config = Parse("");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_FALSE(config->serve);
}

TEST(ServeConfigTest, DefaultsUseTheSiteCertificate) {
  auto config = Parse("[serve]\nlisten = \"127.0.0.1:8443\"\n");
  ASSERT_TRUE(config) << config.error().ToString();
  ASSERT_TRUE(config->serve);
  const ServeConfig& s = *config->serve;
  EXPECT_EQ(s.host, "127.0.0.1");
  EXPECT_EQ(s.port, 8443);
  EXPECT_EQ(s.cert, "/srv/kit/site.pem");
  EXPECT_EQ(s.key, "/srv/kit/site.key");
  EXPECT_TRUE(s.require_client_cert);
  EXPECT_EQ(s.retention_hours, 24);
  EXPECT_EQ(s.max_tracked, 100'000u);
  EXPECT_EQ(s.report_interval_s, 300u);
  EXPECT_EQ(s.client_roles, std::vector<std::string>{"ehr"});
  EXPECT_FALSE(s.allow_own_site_cert);
}

TEST(ServeConfigTest, ReadsWhoMayCall) {
  auto config = Parse(R"([serve]
listen = "127.0.0.1:8443"
client_roles = ["ehr", "operator", "ehr"]
allow_own_site_cert = true
)");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->serve->client_roles,
            (std::vector<std::string>{"ehr", "operator"}));
  EXPECT_TRUE(config->serve->allow_own_site_cert);
  auto own_only = Parse(
      "[serve]\nlisten = \"127.0.0.1:8443\"\nclient_roles = []\n"
      "allow_own_site_cert = true\n");
  ASSERT_TRUE(own_only) << own_only.error().ToString();
  EXPECT_TRUE(own_only->serve->client_roles.empty());
}

TEST(ServeConfigTest, WhoMayCallErrorsNameTheKey) {
  const struct {
    std::string serve;
    std::string key;
    std::string expected;
  } cases[] = {
      {"client_roles = \"ehr\"", "'serve.client_roles' (line 19)",
       "must be an array of role names"},
      {"client_roles = [\"ehr\", 3]", "'serve.client_roles' (line 19)",
       "must be an array of role names"},
      {"client_roles = [\"nurse\"]", "'serve.client_roles' (line 19)",
       "has unknown role 'nurse'; allowed values: ehr, admin, operator, "
       "auditor, viewer, break_glass"},
      {"client_roles = [\"coordinator\"]", "'serve.client_roles' (line 19)",
       "has unknown role 'coordinator'"},
      {"client_roles = [\"site\"]", "'serve.client_roles' (line 19)",
       "cannot hold 'site': that admits every hospital's site certificate"},
      {"client_roles = []", "'serve.client_roles'",
       "is empty and 'serve.allow_own_site_cert' is false"},
      {"allow_own_site_cert = \"yes\"", "'serve.allow_own_site_cert' (line 19)",
       "must be true or false"},
      {"require_client_cert = false\nclient_roles = [\"ehr\"]",
       "'serve.client_roles' and 'serve.allow_own_site_cert'",
       "need require_client_cert = true"},
  };
  for (const auto& c : cases) {
    auto config = Parse("[serve]\nlisten = \"127.0.0.1:1\"\n" + c.serve + "\n");
    ASSERT_FALSE(config) << c.serve;
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(config.error().message.find(c.key + " " + c.expected),
              std::string::npos)
        << config.error().message;
  }
}

TEST(ServeConfigTest, ReadsEveryKey) {
  auto config = Parse(R"([serve]
listen = "[::1]:9443"
cert = "serve.pem"
key = "serve.key"
require_client_cert = false
retention_hours = 2.5
max_tracked = 500
report_interval_s = 60
idle_timeout_s = 5
)");
  ASSERT_TRUE(config) << config.error().ToString();
  const ServeConfig& s = *config->serve;
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 9443);
  EXPECT_EQ(s.cert, "/srv/kit/serve.pem");
  EXPECT_FALSE(s.require_client_cert);
  EXPECT_EQ(s.retention_hours, 2.5);
  EXPECT_EQ(s.max_tracked, 500u);
  EXPECT_EQ(s.report_interval_s, 60u);
  EXPECT_EQ(s.idle_timeout_s, 5u);
}

TEST(ServeConfigTest, RefusesBadValuesNamingTheKey) {
  const struct {
    std::string serve;
    std::string expected;
  } cases[] = {
      {"listen = \"8443\"", "'serve.listen' must be HOST:PORT"},
      {"listen = \"127.0.0.1:70000\"", "'serve.listen' must be HOST:PORT"},
      {"listen = \"127.0.0.1:1\"\nretention_hours = 0",
       "'serve.retention_hours' must be in (0, 2160]"},
      {"listen = \"127.0.0.1:1\"\nmax_tracked = 0",
       "'serve.max_tracked' must be in [1, 10000000]"},
      {"listen = \"127.0.0.1:1\"\nretension_hours = 5",
       "unknown key 'serve.retension_hours'"},
      {"listen = \"127.0.0.1:1\"\ncert = \"a.pem\"",
       "'serve.cert' and 'serve.key' go together"},
  };
  for (const auto& c : cases) {
    auto config = Parse("[serve]\n" + c.serve + "\n");
    ASSERT_FALSE(config) << c.serve;
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
    EXPECT_NE(config.error().message.find(c.expected), std::string::npos)
        << config.error().message;
  }
}

// Serving's own threads: a small default, a clear error outside [1, 64].
TEST(ServeConfigTest, ThreadsDefaultToTwoAndAreChecked) {
  auto defaults = Parse("[serve]\nlisten = \"127.0.0.1:1\"\n");
  ASSERT_TRUE(defaults) << defaults.error().ToString();
  EXPECT_EQ(defaults->serve->threads, 2u);
  auto four = Parse("[serve]\nlisten = \"127.0.0.1:1\"\nthreads = 4\n");
  ASSERT_TRUE(four) << four.error().ToString();
  EXPECT_EQ(four->serve->threads, 4u);
  for (const std::string bad : {"0", "65", "-1"}) {
    auto config =
        Parse("[serve]\nlisten = \"127.0.0.1:1\"\nthreads = " + bad + "\n");
    ASSERT_FALSE(config) << bad;
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(config.error().message,
              "config site.toml: 'serve.threads' must be in [1, 64]");
  }
}

TEST(ServeConfigTest, ClientCertificatesNeedACrl) {
  std::string text(kBase);
  text.replace(text.find("crl = \"ca-crl.pem\"\n"), 19, "");
  auto config = ParseConfig(text + "[serve]\nlisten = \"127.0.0.1:8443\"\n",
                            "/srv/kit", "site.toml");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("needs [tls] crl"), std::string::npos)
      << config.error().message;
}

// Issue 14: the input drift window ([serve]) and the site-local candidate
// ([online]); each error names its key.
TEST(ServeConfigTest, InputDriftAndSiteLocalCandidateKeys) {
  auto defaults = Parse("[serve]\nlisten = \"127.0.0.1:8443\"\n");
  ASSERT_TRUE(defaults) << defaults.error().ToString();
  EXPECT_EQ(defaults->serve->input_drift_window, 500u);
  EXPECT_EQ(defaults->serve->input_drift_interval_s, 300u);
  auto set = Parse(
      "[online]\ninbox = \"in\"\nserve_candidate = \"ab\"\n"
      "candidate_share = 0.25\n"
      "[serve]\nlisten = \"127.0.0.1:8443\"\ninput_drift_window = 0\n"
      "input_drift_interval_s = 60\n");
  ASSERT_TRUE(set) << set.error().ToString();
  EXPECT_EQ(set->serve->input_drift_window, 0u);
  EXPECT_EQ(set->serve->input_drift_interval_s, 60u);
  EXPECT_EQ(set->online->serve_candidate, "ab");
  EXPECT_EQ(set->online->candidate_share, 0.25);
  const struct {
    std::string toml;
    std::string key;
  } cases[] = {
      {"[serve]\nlisten = \"127.0.0.1:8443\"\ninput_drift_window = 10\n",
       "'serve.input_drift_window'"},
      {"[serve]\nlisten = \"127.0.0.1:8443\"\ninput_drift_interval_s = 0\n",
       "'serve.input_drift_interval_s'"},
      {"[online]\ninbox = \"in\"\nserve_candidate = \"canary\"\n"
       "[serve]\nlisten = \"127.0.0.1:8443\"\n",
       "'online.serve_candidate'"},
      {"[online]\ninbox = \"in\"\nserve_candidate = \"ab\"\n"
       "candidate_share = 1.0\n[serve]\nlisten = \"127.0.0.1:8443\"\n",
       "'online.candidate_share'"},
      {"[online]\ninbox = \"in\"\nserve_candidate = \"shadow\"\n",
       "'online.serve_candidate' needs [serve]"},
  };
  for (const auto& c : cases) {
    auto config = Parse(c.toml);
    ASSERT_FALSE(config) << c.toml;
    EXPECT_NE(config.error().message.find(c.key), std::string::npos)
        << config.error().message;
  }
}

}  // namespace
}  // namespace cls::site
