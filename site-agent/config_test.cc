#include "site-agent/config.h"

#include <gtest/gtest.h>

#include "site-agent/test_util.h"

namespace cls::site {
namespace {

using testing::TempDir;

constexpr const char* kValid = R"(
site_id = "HOSP_001"
site_name = "City General"
location = "Boston, MA"
coordinator = "127.0.0.1:7443"
data_dir = "./state"
log_level = "debug"

[tls]
ca = "ca.pem"
cert = "certs/site.pem"
key = "/etc/cls/site.key"

[data]
csv = "../data/heart.csv"
label_column = "num"
positive_above = 0
imputation = "median"
test_fraction = 0.3
split_seed = 11

[[data.columns]]
name = "age"
kind = "numeric"

[[data.columns]]
name = "cp"
kind = "categorical"
categories = [1, 2, 3, 4]

[[data.columns]]
name = "chol"
zero_is_missing = true
)";

std::string Replace(std::string text, const std::string& from,
                    const std::string& to) {
  const size_t at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

Result<AgentConfig> Parse(const std::string& text) {
  return ParseConfig(text, "/srv/kit", "site.toml");
}

TEST(ConfigTest, ValidConfigIsParsedWithEveryField) {
  auto config = Parse(kValid);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->site_id, "HOSP_001");
  EXPECT_EQ(config->site_name, "City General");
  EXPECT_EQ(config->location, "Boston, MA");
  EXPECT_EQ(config->coordinator_host, "127.0.0.1");
  EXPECT_EQ(config->coordinator_port, 7443);
  EXPECT_EQ(config->log_level, "debug");
  ASSERT_TRUE(config->data);
  EXPECT_FALSE(config->benchmark);
  const DataConfig& data = *config->data;
  EXPECT_EQ(data.schema.label.column, "num");
  EXPECT_EQ(data.schema.label.positive_above, 0.0);
  EXPECT_EQ(data.schema.imputation, core::Imputation::kMedian);
  EXPECT_DOUBLE_EQ(data.test_fraction, 0.3);
  EXPECT_EQ(data.split_seed, 11u);
  ASSERT_EQ(data.schema.features.size(), 3u);
  EXPECT_EQ(data.schema.features[1].kind, core::ColumnSpec::Kind::kCategorical);
  EXPECT_EQ(data.schema.features[1].categories,
            (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(data.schema.features[2].kind, core::ColumnSpec::Kind::kNumeric);
  EXPECT_TRUE(data.schema.features[2].zero_is_missing);
  EXPECT_TRUE(config->tls.crl.empty());
}

TEST(ConfigTest, LabelClassesMakeAMultiClassLabel) {
  auto config = Parse(
      Replace(kValid, "positive_above = 0", "label_classes = [101, 202, 303]"));
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->data->schema.label.classes,
            (std::vector<double>{101, 202, 303}));
  EXPECT_EQ(config->data->schema.label.NumClasses(), 3);

  const std::vector<std::pair<std::string, std::string>> refused = {
      {"positive_above = 0\nlabel_classes = [1, 2]", "exclude each other"},
      {"label_classes = [1]", "at least 2"},
      {"label_classes = [1, 1]", "distinct"},
      {"label_classes = \"1,2\"", "label_classes"},
      {"label_classes = []", "label_classes"},
  };
  for (const auto& [lines, why] : refused) {
    auto bad = Parse(Replace(kValid, "positive_above = 0", lines));
    ASSERT_FALSE(bad) << lines;
    EXPECT_NE(bad.error().message.find(why), std::string::npos)
        << lines << " -> " << bad.error().message;
  }
}

TEST(ConfigTest, RelativePathsResolveAgainstTheConfigFilesDirectory) {
  auto config = Parse(kValid);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->tls.ca, "/srv/kit/ca.pem");
  EXPECT_EQ(config->tls.cert, "/srv/kit/certs/site.pem");
  EXPECT_EQ(config->tls.key, "/etc/cls/site.key");
  EXPECT_EQ(config->data->csv, "/srv/data/heart.csv");
  EXPECT_EQ(config->data_dir, "/srv/kit/state");
}

TEST(ConfigTest, LoadConfigResolvesPathsAgainstTheFileNotTheWorkingDirectory) {
  TempDir dir;
  const auto path = dir.Write("kit/site.toml", kValid);
  auto config = LoadConfig(path.string());
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->tls.ca, (dir.path() / "kit/ca.pem").string());
  EXPECT_EQ(config->data->csv, (dir.path() / "data/heart.csv").string());
  EXPECT_EQ(config->config_path, path.string());
}

TEST(ConfigTest, MissingFileIsNotFoundAndNamesThePath) {
  auto config = LoadConfig("/nonexistent/dir/site.toml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ErrorCode::kNotFound);
  EXPECT_NE(config.error().message.find("/nonexistent/dir/site.toml"),
            std::string::npos);
}

TEST(ConfigTest, UnknownTopLevelKeyIsRejectedNamingTheKey) {
  auto config =
      Parse(Replace(kValid, "log_level = \"debug\"", "colour = \"red\""));
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code, ErrorCode::kInvalidArgument);
  EXPECT_NE(config.error().message.find("unknown key 'colour'"),
            std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, UnknownKeyInAColumnIsRejectedWithItsPath) {
  auto config =
      Parse(Replace(kValid, "name = \"age\"", "name = \"age\"\nunit = \"y\""));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("unknown key 'data.columns[0].unit'"),
            std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, MisspelledDataKeyIsRejectedNotDefaulted) {
  auto config = Parse(Replace(kValid, "positive_above", "postive_above"));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("'data.postive_above'"),
            std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, BadColumnKindNamesTheKeyAndTheAllowedValues) {
  auto config =
      Parse(Replace(kValid, "kind = \"numeric\"", "kind = \"ordinal\""));
  ASSERT_FALSE(config);
  const std::string& m = config.error().message;
  EXPECT_NE(m.find("data.columns[0].kind"), std::string::npos) << m;
  EXPECT_NE(m.find("numeric, categorical"), std::string::npos) << m;
}

TEST(ConfigTest, BadImputationNamesTheAllowedValues) {
  auto config = Parse(Replace(kValid, "\"median\"", "\"mode\""));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("mean, median, zero"),
            std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, CategoricalColumnWithoutCategoriesIsRejected) {
  auto config = Parse(Replace(kValid, "categories = [1, 2, 3, 4]", ""));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("data.columns[1].categories"),
            std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, WrongValueTypeNamesTheKey) {
  auto config =
      Parse(Replace(kValid, "split_seed = 11", "split_seed = \"eleven\""));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("'data.split_seed'"), std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, TestFractionOutsideOpenUnitIntervalIsRejected) {
  auto config =
      Parse(Replace(kValid, "test_fraction = 0.3", "test_fraction = 1.5"));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("data.test_fraction"),
            std::string::npos);
}

TEST(ConfigTest, CoordinatorWithoutPortIsRejected) {
  auto config = Parse(Replace(kValid, "127.0.0.1:7443", "coord.example.org"));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("host:port"), std::string::npos);
}

TEST(ConfigTest, BadLogLevelNamesTheAllowedLevels) {
  auto config = Parse(Replace(kValid, "\"debug\"", "\"verbose\""));
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("trace|debug|info"), std::string::npos);
}

TEST(ConfigTest, MonitoringPortAndLogSettingsHaveDefaultsAndAreValidated) {
  auto defaults = Parse(kValid);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_TRUE(defaults->metrics_enabled);
  EXPECT_EQ(defaults->metrics_host, "127.0.0.1");
  EXPECT_EQ(defaults->metrics_port, 9465);
  EXPECT_EQ(defaults->log.format, "text");
  EXPECT_EQ(defaults->log.file, "");

  auto set = Parse(Replace(kValid, "log_level = \"debug\"",
                           "log_level = \"debug\"\nmetrics_listen = "
                           "\"0.0.0.0:19465\"\nlog_format = \"json\"\n"
                           "log_file = \"logs/agent.log\""));
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_EQ(set->metrics_host, "0.0.0.0");
  EXPECT_EQ(set->metrics_port, 19465);
  EXPECT_EQ(set->log.format, "json");
  EXPECT_EQ(set->log.file, "/srv/kit/logs/agent.log");

  auto off =
      Parse(Replace(kValid, "log_level = \"debug\"", "metrics_listen = \"\""));
  ASSERT_TRUE(off) << off.error().message;
  EXPECT_FALSE(off->metrics_enabled);

  auto bad = Parse(Replace(kValid, "log_level = \"debug\"",
                           "metrics_listen = \"localhost\""));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("'metrics_listen'"), std::string::npos)
      << bad.error().message;
  auto bad_format =
      Parse(Replace(kValid, "log_level = \"debug\"", "log_format = \"xml\""));
  ASSERT_FALSE(bad_format);
  EXPECT_NE(bad_format.error().message.find("text, json"), std::string::npos)
      << bad_format.error().message;
}

TEST(ConfigTest, SyntaxErrorReportsTheLine) {
  auto config = Parse("site_id = \"A\"\ncoordinator = \n");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("line 2"), std::string::npos)
      << config.error().message;
}

TEST(ConfigTest, StartupKitConfigGetsDefaultsForOptionalDataKeys) {
  auto config = Parse(R"(
site_id = "hospital-a"
coordinator = "coord.example.org:7443"
[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
crl = "ca-crl.pem"
[data]
csv = "/data/local.csv"
label_column = "num"
[[data.columns]]
name = "age"
)");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->data_dir, "/srv/kit/state");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_EQ(config->tls.crl, "/srv/kit/ca-crl.pem");
  EXPECT_DOUBLE_EQ(config->data->test_fraction, 0.2);
  EXPECT_EQ(config->data->split_seed, 7u);
  EXPECT_EQ(config->data->schema.imputation, core::Imputation::kMean);
}

TEST(ConfigTest, BenchmarkSectionReplacesData) {
  auto config = Parse(R"(
site_id = "BENCH_1"
coordinator = "[::1]:7443"
[tls]
ca = "ca.pem"
cert = "site.pem"
key = "site.key"
[benchmark]
parameters = 4096
)");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->coordinator_host, "::1");
  EXPECT_FALSE(config->data);
  ASSERT_TRUE(config->benchmark);
  EXPECT_EQ(config->benchmark->parameters, 4096u);
}

TEST(ConfigTest, SecureAggregationLimitsDefaultToSafeValues) {
  auto config = Parse(kValid);
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->secure_aggregation.min_neighbourhood, 3u);
  EXPECT_FALSE(config->secure_aggregation.allow_single_site);

  config = Parse(std::string(kValid) +
                 "\n[secure_aggregation]\nmin_neighbourhood = 5\n"
                 "allow_single_site = true\n");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_EQ(config->secure_aggregation.min_neighbourhood, 5u);
  EXPECT_TRUE(config->secure_aggregation.allow_single_site);
}

TEST(ConfigTest, SecureAggregationLimitsOutOfRangeAreRefusedNamingTheKey) {
  for (const char* bad :
       {"min_neighbourhood = 1", "min_neighbourhood = 1001"}) {
    auto config =
        Parse(std::string(kValid) + "\n[secure_aggregation]\n" + bad + "\n");
    ASSERT_FALSE(config) << bad;
    EXPECT_NE(config.error().message.find(
                  "'secure_aggregation.min_neighbourhood' must be between 2 "
                  "and 1000"),
              std::string::npos)
        << config.error().message;
  }
  auto typo = Parse(std::string(kValid) +
                    "\n[secure_aggregation]\nallow_single_site = \"yes\"\n");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.error().message.find("'secure_aggregation.allow_single_site'"),
            std::string::npos)
      << typo.error().message;
  auto unknown =
      Parse(std::string(kValid) + "\n[secure_aggregation]\nthreshold = 2\n");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("threshold"), std::string::npos);
}

TEST(ConfigTest, DataAndBenchmarkTogetherAreRejected) {
  auto config = Parse(std::string(kValid) + "\n[benchmark]\nparameters = 10\n");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("[benchmark]"), std::string::npos);
}

TEST(ConfigTest, MissingTlsTableIsRejected) {
  auto config = Parse(R"(
site_id = "A"
coordinator = "h:1"
[benchmark]
parameters = 1
)");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("[tls]"), std::string::npos);
}

TEST(ConfigTest, PrivacySectionTurnsDpSgdOnWithItsBudget) {
  auto config = Parse(std::string(kValid) + R"(
[privacy]
dp_sgd = true
target_epsilon = 3
clip_norm = 0.5
noise_multiplier = 1.3
)");
  ASSERT_TRUE(config) << config.error().ToString();
  EXPECT_TRUE(config->privacy.dp_sgd);
  EXPECT_EQ(config->privacy.target_epsilon, 3.0);
  EXPECT_FALSE(config->privacy.delta);  // default from the row count
  EXPECT_EQ(config->privacy.clip_norm, 0.5);
  EXPECT_EQ(config->privacy.noise_multiplier, 1.3);
  // Off by default.
  auto plain = Parse(kValid);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->privacy.dp_sgd);
}

TEST(ConfigTest, PrivacySectionRefusesMissingBudgetAndBadValues) {
  for (const auto& [body, key] :
       std::vector<std::pair<std::string, std::string>>{
           {"dp_sgd = true\n", "privacy.target_epsilon"},
           {"dp_sgd = true\ntarget_epsilon = -1\n", "privacy.target_epsilon"},
           {"dp_sgd = true\ntarget_epsilon = 3\ndelta = 0.5\n",
            "privacy.delta"},
           {"dp_sgd = true\ntarget_epsilon = 3\nclip_norm = 0\n",
            "privacy.clip_norm"},
           {"dp_sgd = true\ntarget_epsilon = 3\nnoise_multiplier = 0.01\n",
            "privacy.noise_multiplier"},
           {"dp_sgd = true\ntarget_epsilon = 3\nepsilon = 3\n", "epsilon"}}) {
    auto config = Parse(std::string(kValid) + "\n[privacy]\n" + body);
    ASSERT_FALSE(config) << body;
    EXPECT_NE(config.error().message.find(key), std::string::npos)
        << config.error().message;
  }
}

}  // namespace
}  // namespace cls::site
