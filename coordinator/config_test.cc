#include "coordinator/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace cls::coordinator {
namespace {
namespace fs = std::filesystem;

class CoordinatorConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("cls-config-test-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<CoordinatorConfig> Load(const std::string& extra_top,
                                 const std::string& extra_sections = "") {
    std::string path = (dir_ / "coordinator.toml").string();
    std::ofstream(path)
        << extra_top << "\n"
        << "[tls]\nca = \"pki/ca.pem\"\ncert = \"c.pem\"\nkey = \"c.key\"\n"
        << "[model]\nparameters = 23\n"
        << extra_sections;
    return LoadCoordinatorConfig(path);
  }

  fs::path dir_;
};

TEST_F(CoordinatorConfigTest, DefaultsAreSaneAndPathsResolveAgainstTheFile) {
  auto c = Load("");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->min_sites, 3);
  EXPECT_EQ(c->listen_port, 7443);
  EXPECT_EQ(c->admin_host, "127.0.0.1");
  EXPECT_EQ(c->model_type, "diagnosis_predictor");
  EXPECT_EQ(c->tls.ca_file, (dir_ / "pki/ca.pem").string());
  EXPECT_EQ(c->data_dir, (dir_ / "coordinator-state").string());
}

TEST_F(CoordinatorConfigTest, MonitoringPortAndLogSettingsAreValidated) {
  auto defaults = Load("");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_TRUE(defaults->metrics_enabled);
  EXPECT_EQ(defaults->metrics_host, "127.0.0.1");
  EXPECT_EQ(defaults->metrics_port, 9464);
  EXPECT_EQ(defaults->log.format, "text");

  auto set = Load(
      "metrics_listen = \"[::1]:19464\"\nlog_format = \"json\"\n"
      "log_file = \"coordinator.log\"\nlog_max_files = 3");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->metrics_host, "::1");
  EXPECT_EQ(set->metrics_port, 19464);
  EXPECT_EQ(set->log.file, (dir_ / "coordinator.log").string());
  EXPECT_EQ(set->log.max_files, 3);

  auto off = Load("metrics_listen = \"\"");
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_FALSE(off->metrics_enabled);

  auto bad = Load("metrics_listen = \"0.0.0.0\"");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'metrics_listen'"), std::string::npos)
      << bad.error().message;
  auto files = Load("log_max_files = 0");
  ASSERT_FALSE(files);
  EXPECT_NE(files.error().message.find("log_max_files"), std::string::npos);
}

TEST_F(CoordinatorConfigTest, BackupIsOffByDefaultAndResolvesItsDir) {
  auto off = Load("");
  ASSERT_TRUE(off.has_value()) << off.error().message;
  EXPECT_FALSE(off->backup.enabled());
  EXPECT_EQ(off->backup.keep, 7);
  auto on = Load("", "[backup]\ndir = \"backups\"\ninterval_s = 3600\n");
  ASSERT_TRUE(on.has_value()) << on.error().message;
  EXPECT_EQ(on->backup.dir, (dir_ / "backups").string());
  EXPECT_EQ(on->backup.interval_s, 3600);
}

TEST_F(CoordinatorConfigTest, BackupDirInsideDataDirIsRefusedNamingTheKey) {
  for (const char* dir : {"coordinator-state/backups", "coordinator-state",
                          "./coordinator-state/x/../b"}) {
    auto c = Load("", std::string("[backup]\ndir = \"") + dir + "\"\n");
    ASSERT_FALSE(c.has_value()) << dir;
    EXPECT_NE(c.error().message.find("'backup.dir'"), std::string::npos)
        << c.error().message;
    EXPECT_NE(c.error().message.find("'data_dir'"), std::string::npos);
  }
  // A sibling whose name starts like data_dir is not inside it.
  auto sibling = Load("", "[backup]\ndir = \"coordinator-state-backups\"\n");
  EXPECT_TRUE(sibling.has_value()) << sibling.error().message;
}

TEST_F(CoordinatorConfigTest, BackupValuesAreChecked) {
  auto keep = Load("", "[backup]\ndir = \"b\"\nkeep = 0\n");
  ASSERT_FALSE(keep.has_value());
  EXPECT_NE(keep.error().message.find("'backup.keep'"), std::string::npos);
  auto interval = Load("", "[backup]\ndir = \"b\"\ninterval_s = -1\n");
  ASSERT_FALSE(interval.has_value());
  EXPECT_NE(interval.error().message.find("'backup.interval_s'"),
            std::string::npos);
  auto no_dir = Load("", "[backup]\ninterval_s = 60\n");
  ASSERT_FALSE(no_dir.has_value());
  EXPECT_NE(no_dir.error().message.find("'backup.dir'"), std::string::npos);
}

TEST_F(CoordinatorConfigTest, MissingFileIsNotFound) {
  auto c = LoadCoordinatorConfig((dir_ / "nope.toml").string());
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code, ErrorCode::kNotFound);
  EXPECT_NE(c.error().message.find("nope.toml"), std::string::npos);
}

TEST_F(CoordinatorConfigTest, UnknownKeyIsNamed) {
  auto c = Load("min_site = 3");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message, "config: unknown key 'min_site'");
}

TEST_F(CoordinatorConfigTest, UnknownKeyInASectionIsNamedWithItsSection) {
  auto c = Load("", "[round]\nclip_bound = 2.0\n");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message, "config: unknown key 'round.clip_bound'");
}

TEST_F(CoordinatorConfigTest, WrongTypeIsNamed) {
  auto c = Load("min_sites = \"three\"");
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().message, "config: 'min_sites' has the wrong type");
}

TEST_F(CoordinatorConfigTest, ImpossibleValuesAreRefused) {
  EXPECT_NE(Load("min_sites = 1").error().message.find("at least 2"),
            std::string::npos);
  EXPECT_NE(
      Load("", "[round]\nvalue_bits = 40\n").error().message.find("value_bits"),
      std::string::npos);
  EXPECT_NE(Load("", "[round]\nclip = -1.0\n").error().message.find("clip"),
            std::string::npos);
  EXPECT_NE(Load("listen = \"0.0.0.0:99999\"")
                .error()
                .message.find("port must be 1-65535"),
            std::string::npos);
  EXPECT_NE(
      Load("listen = \"nohost\"").error().message.find("expected HOST:PORT"),
      std::string::npos);
}

TEST_F(CoordinatorConfigTest, ConnectionCapsHaveDefaultsAndRefuseBadValues) {
  auto c = Load("");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->max_site_connections, 256);
  EXPECT_EQ(c->max_connections_per_site, 4);
  c = Load("max_site_connections = 10\nmax_connections_per_site = 2");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->max_site_connections, 10);
  EXPECT_EQ(c->max_connections_per_site, 2);
  for (const char* bad : {"0", "-1", "100001"}) {
    EXPECT_EQ(
        Load(std::string("max_site_connections = ") + bad).error().message,
        "config: 'max_site_connections' must be 1..100000");
  }
  for (const char* bad : {"0", "1001"}) {
    EXPECT_EQ(
        Load(std::string("max_connections_per_site = ") + bad).error().message,
        "config: 'max_connections_per_site' must be 1..1000");
  }
  EXPECT_EQ(Load("max_site_connections = 2\nmax_connections_per_site = 3")
                .error()
                .message,
            "config: 'max_connections_per_site' (3) must not exceed "
            "'max_site_connections' (2)");
  EXPECT_EQ(Load("max_site_connections = \"many\"").error().message,
            "config: 'max_site_connections' has the wrong type");
}

TEST_F(CoordinatorConfigTest, ModelTypeMustBeOneOfTheGuidesTypes) {
  std::string path = (dir_ / "bad.toml").string();
  std::ofstream(path)
      << "[tls]\nca=\"a\"\ncert=\"b\"\nkey=\"c\"\n[model]\nparameters=3\n"
         "type=\"fortune_teller\"\n";
  auto bad = LoadCoordinatorConfig(path);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("readmission_risk"), std::string::npos);
}

TEST_F(CoordinatorConfigTest, ModelKindsFixTheirSpecAndParameterCount) {
  auto model = [&](const std::string& lines) {
    std::string path = (dir_ / "kinds.toml").string();
    std::ofstream(path) << "[tls]\nca=\"a\"\ncert=\"b\"\nkey=\"c\"\n[model]\n"
                        << lines;
    return LoadCoordinatorConfig(path);
  };
  auto mlp = model(
      "kind = \"mlp\"\nfeatures = 7\nhidden_layers = [32]\n"
      "activation = \"relu\"\n");
  ASSERT_TRUE(mlp.has_value()) << mlp.error().message;
  EXPECT_EQ(mlp->model_parameters, 7 * 32 + 32 + 32 + 1);
  EXPECT_EQ(mlp->model_spec.ToString(),
            "kind=mlp;features=7;classes=2;hidden=32;activation=relu");
  auto softmax =
      model("kind = \"softmax_regression\"\nfeatures = 6\nclasses = 3\n");
  ASSERT_TRUE(softmax.has_value()) << softmax.error().message;
  EXPECT_EQ(softmax->model_parameters, 6 * 3 + 3);
  // Logistic regression by count alone, as before model kinds.
  auto logreg = model("parameters = 23\n");
  ASSERT_TRUE(logreg.has_value()) << logreg.error().message;
  EXPECT_EQ(logreg->model_spec.num_features, 0);

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"kind = \"tree\"\nparameters = 3\n", "softmax_regression"},
      {"kind = \"mlp\"\nparameters = 30\n", "needs 'model.features'"},
      {"kind = \"mlp\"\nfeatures = 7\n", "one or two hidden layers"},
      {"kind = \"mlp\"\nfeatures = 7\nhidden_layers = [4, 4, 4]\n",
       "one or two hidden layers"},
      {"kind = \"mlp\"\nfeatures = 7\nhidden_layers = [4]\n"
       "activation = \"tanh\"\n",
       "activation"},
      {"kind = \"mlp\"\nfeatures = 7\nhidden_layers = \"32\"\n",
       "hidden_layers"},
      {"kind = \"logistic_regression\"\nfeatures = 7\nclasses = 3\n", "binary"},
      {"kind = \"softmax_regression\"\nfeatures = 6\nclasses = 3\n"
       "hidden_layers = [8]\n",
       "mlp"},
      {"kind = \"softmax_regression\"\nfeatures = 6\nclasses = 3\n"
       "parameters = 23\n",
       "has 21"},
  };
  for (const auto& [lines, why] : refused) {
    auto bad = model(lines);
    ASSERT_FALSE(bad.has_value()) << lines;
    EXPECT_NE(bad.error().message.find(why), std::string::npos)
        << lines << " -> " << bad.error().message;
  }
}

TEST_F(CoordinatorConfigTest, SyntaxErrorGivesTheLine) {
  std::string path = (dir_ / "broken.toml").string();
  std::ofstream(path) << "min_sites = 3\nlisten = \n";
  auto c = LoadCoordinatorConfig(path);
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("broken.toml:2"), std::string::npos)
      << c.error().message;
}

TEST_F(CoordinatorConfigTest, SingleHospitalModeAllowsOneSiteOnly) {
  auto defaults = Load("");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_TRUE(defaults->federated);
  auto single = Load("", "[federation]\nfederated = false\n");
  ASSERT_TRUE(single) << single.error().message;
  EXPECT_FALSE(single->federated);
  EXPECT_EQ(single->min_sites, 1);  // the default in this mode
  auto explicit_one =
      Load("min_sites = 1", "[federation]\nfederated = false\n");
  ASSERT_TRUE(explicit_one) << explicit_one.error().message;
  // min_sites = 1 in a federation, or more than 1 alone: refused, naming
  // the key and the way out.
  auto federated_one = Load("min_sites = 1");
  ASSERT_FALSE(federated_one);
  EXPECT_NE(federated_one.error().message.find(
                "min_sites = 1 needs [federation] federated = false"),
            std::string::npos)
      << federated_one.error().message;
  auto alone_three = Load("min_sites = 3", "[federation]\nfederated = false\n");
  ASSERT_FALSE(alone_three);
  EXPECT_NE(alone_three.error().message.find("'min_sites' must be 1"),
            std::string::npos);
  // Cross-site DP and robust aggregation need a federation.
  auto dp = Load("",
                 "[federation]\nfederated = false\n[privacy]\n"
                 "mode = \"central\"\n");
  ASSERT_FALSE(dp);
  EXPECT_NE(dp.error().message.find("federation.federated"), std::string::npos);
  auto robust = Load("",
                     "[federation]\nfederated = false\n[robust]\n"
                     "enabled = true\n");
  ASSERT_FALSE(robust);
  auto typo = Load("", "[federation]\nfederate = false\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("federate"), std::string::npos);
}

TEST_F(CoordinatorConfigTest, RollbackThresholdsAreConfigKeys) {
  auto defaults = Load("");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_DOUBLE_EQ(defaults->deployment.rollback.max_severity, 0.8);
  EXPECT_TRUE(defaults->deployment.rollback.rollback_when_worse);
  EXPECT_DOUBLE_EQ(defaults->deployment.test.alpha, 0.05);
  EXPECT_DOUBLE_EQ(defaults->deployment.test.tau, 0.05);
  EXPECT_EQ(defaults->deployment.test.min_samples_per_arm, 100);
  auto set = Load("",
                  "[deployment]\nrollback_max_severity = 0.9\n"
                  "rollback_when_worse = false\nalpha = 0.01\ntau = 0.1\n"
                  "min_outcomes_per_arm = 50\n");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_DOUBLE_EQ(set->deployment.rollback.max_severity, 0.9);
  EXPECT_FALSE(set->deployment.rollback.rollback_when_worse);
  EXPECT_DOUBLE_EQ(set->deployment.test.alpha, 0.01);
  EXPECT_DOUBLE_EQ(set->deployment.test.tau, 0.1);
  EXPECT_EQ(set->deployment.test.min_samples_per_arm, 50);
  for (const char* bad :
       {"rollback_max_severity = 1.0", "rollback_max_severity = 0",
        "alpha = 0.5", "alpha = 0", "tau = 0", "tau = 1.5",
        "min_outcomes_per_arm = 0"}) {
    auto r = Load("", std::string("[deployment]\n") + bad + "\n");
    ASSERT_FALSE(r) << bad;
    const std::string key =
        std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(r.error().message.find("deployment." + key), std::string::npos)
        << bad << ": " << r.error().message;
  }
}

TEST_F(CoordinatorConfigTest, DriftResponsesAreValidated) {
  auto defaults = Load("");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_TRUE(defaults->drift.notify_webhook.empty());
  EXPECT_DOUBLE_EQ(defaults->drift.notify_severity, 0.5);
  EXPECT_FALSE(defaults->drift.retrain_on_drift);
  auto set = Load("",
                  "[drift]\nnotify_webhook = \"http://127.0.0.1:8080/x\"\n"
                  "retrain_on_drift = true\nnotify_severity = 0.6\n");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->drift.notify_webhook, "http://127.0.0.1:8080/x");
  EXPECT_TRUE(set->drift.retrain_on_drift);
  auto https = Load("", "[drift]\nnotify_webhook = \"https://a.example/\"\n");
  ASSERT_FALSE(https);
  EXPECT_NE(https.error().message.find("drift.notify_webhook"),
            std::string::npos);
  auto above = Load("", "[drift]\nnotify_severity = 0.9\n");
  ASSERT_FALSE(above);
  EXPECT_NE(above.error().message.find("drift.notify_severity"),
            std::string::npos);
  auto timeout = Load("", "[drift]\nwebhook_timeout_ms = 10\n");
  ASSERT_FALSE(timeout);
}

TEST_F(CoordinatorConfigTest, DriftSettingsAreReadAndCheckedNamingTheKey) {
  auto defaults = Load("");
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_EQ(defaults->drift.performance_threshold, 0.05);
  EXPECT_EQ(defaults->drift.window_size, 100);
  EXPECT_EQ(defaults->drift.baseline, "");  // none: the accuracy observed

  auto set = Load("",
                  "[drift]\nperformance_threshold = 0.08\n"
                  "window_size = 250\nbaseline = \"validation\"\n");
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->drift.performance_threshold, 0.08);
  EXPECT_EQ(set->drift.window_size, 250);
  EXPECT_EQ(set->drift.baseline, "validation");
  auto fixed = Load("", "[drift]\nbaseline = 0.9\n");
  ASSERT_TRUE(fixed) << fixed.error().message;
  EXPECT_EQ(fixed->drift.baseline, "fixed");
  EXPECT_EQ(fixed->drift.baseline_value, 0.9);

  for (const auto& [toml, key] :
       std::vector<std::pair<std::string, std::string>>{
           {"performance_threshold = 0", "'drift.performance_threshold'"},
           {"performance_threshold = 1.0", "'drift.performance_threshold'"},
           {"window_size = 9", "'drift.window_size'"},
           {"baseline = 1.2", "'drift.baseline'"},
           {"baseline = \"observed\"", "'drift.baseline'"},
           {"baseline = true", "'drift.baseline'"},
           {"threshold = 0.05", "threshold"}}) {
    auto bad = Load("", "[drift]\n" + toml + "\n");
    ASSERT_FALSE(bad) << toml;
    EXPECT_NE(bad.error().message.find(key), std::string::npos)
        << toml << ": " << bad.error().message;
  }
}

}  // namespace
}  // namespace cls::coordinator
