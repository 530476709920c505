#include "site-agent/config.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "common/host_port.h"
#include "common/toml_reader.h"
#include "core/text_features.h"
#include "site-agent/config_sections.h"

namespace cls::site {
namespace {

namespace fs = std::filesystem;

// The largest vector a round can carry (protocol/frame.h kMaxParameters).
constexpr int64_t kMaxBenchmarkParameters = 16 * 1024 * 1024;

using config_internal::ParseOnline;
using config_internal::ParsePrivacy;
using config_internal::ParseSecureAggregation;
using config_internal::ParseServe;
using config_internal::ResolvePath;

bool IsValidSiteId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// "host:port" or "[v6-address]:port".
Status ParseCoordinator(const std::string& value, AgentConfig& config) {
  auto address = ParseHostPort(value);
  if (!address) {
    return InvalidArgument(
        "'coordinator' must be host:port (e.g. \"coord.example.org:7443\"): " +
        address.error().message);
  }
  config.coordinator_host = address->host;
  config.coordinator_port = address->port;
  return {};
}

Status ParseTls(const TomlTable& root, const fs::path& base_dir,
                AgentConfig& config) {
  CLS_ASSIGN_OR_RETURN(const toml::table* table, root.Table("tls"));
  if (!table) return InvalidArgument("missing required table [tls]");
  const TomlTable tls(*table, "tls", {"ca", "cert", "key", "crl"});
  CLS_RETURN_IF_ERROR(tls.CheckKeys());
  CLS_ASSIGN_OR_RETURN(const std::string ca, tls.RequiredString("ca"));
  CLS_ASSIGN_OR_RETURN(const std::string cert, tls.RequiredString("cert"));
  CLS_ASSIGN_OR_RETURN(const std::string key, tls.RequiredString("key"));
  CLS_ASSIGN_OR_RETURN(const auto crl, tls.String("crl"));
  config.tls.ca = ResolvePath(base_dir, ca);
  config.tls.cert = ResolvePath(base_dir, cert);
  config.tls.key = ResolvePath(base_dir, key);
  if (crl && !crl->empty()) config.tls.crl = ResolvePath(base_dir, *crl);
  return {};
}

// A non-empty array of distinct finite numbers under `key` (categories,
// label_classes); the node must exist.
Result<std::vector<double>> ParseDistinctNumbers(const TomlTable& t,
                                                 const toml::node* node,
                                                 const std::string& key) {
  const std::string expected = "a non-empty array of numbers";
  const toml::array* array = node->as_array();
  if (!array || array->empty()) {
    return t.WrongType(*node, key, expected);
  }
  std::vector<double> categories;
  std::set<double> seen;
  for (const toml::node& element : *array) {
    if (!element.is_number()) return t.WrongType(*node, key, expected);
    const double value = *element.value<double>();
    if (!std::isfinite(value) || !seen.insert(value).second) {
      return InvalidArgument(t.Name(key) + t.Where(*node) +
                             " must hold distinct finite numbers");
    }
    categories.push_back(value);
  }
  return categories;
}

Result<std::vector<double>> ParseCategories(const TomlTable& t) {
  const toml::node* node = t.Node("categories");
  if (!node) {
    return InvalidArgument("missing required key " + t.Name("categories") +
                           " (kind = \"categorical\")");
  }
  return ParseDistinctNumbers(t, node, "categories");
}

Result<core::ColumnSpec> ParseColumn(const TomlTable& data, size_t index) {
  const std::string path = "data.columns[" + std::to_string(index) + "]";
  const toml::node& node = *data.Node("columns")->as_array()->get(index);
  if (!node.is_table()) {
    return InvalidArgument("'" + path + "'" + data.Where(node) +
                           " must be a table");
  }
  const TomlTable t(*node.as_table(), path,
                    {"name", "kind", "categories", "zero_is_missing",
                     "hash_buckets", "dimension"});
  CLS_RETURN_IF_ERROR(t.CheckKeys());
  core::ColumnSpec column;
  CLS_ASSIGN_OR_RETURN(column.name, t.RequiredString("name"));
  CLS_ASSIGN_OR_RETURN(const auto kind, t.String("kind"));
  const std::string kind_value = kind.value_or("numeric");
  if (kind_value == "numeric") {
    column.kind = core::ColumnSpec::Kind::kNumeric;
  } else if (kind_value == "categorical") {
    column.kind = core::ColumnSpec::Kind::kCategorical;
  } else if (kind_value == "text") {
    column.kind = core::ColumnSpec::Kind::kText;
  } else if (kind_value == "embedding") {
    column.kind = core::ColumnSpec::Kind::kEmbedding;
  } else {
    return InvalidArgument(
        t.Name("kind") + " is '" + kind_value +
        "'; allowed values: numeric, categorical, text, embedding");
  }
  using Kind = core::ColumnSpec::Kind;
  // Each option belongs to one kind (zero_is_missing to the number kinds).
  struct Option {
    const char* key;
    bool allowed;
    const char* kinds;
  };
  for (const Option& o :
       {Option{"categories", column.kind == Kind::kCategorical,
               "kind = \"categorical\""},
        Option{"hash_buckets", column.kind == Kind::kText, "kind = \"text\""},
        Option{"dimension", column.kind == Kind::kEmbedding,
               "kind = \"embedding\""},
        Option{
            "zero_is_missing",
            column.kind == Kind::kNumeric || column.kind == Kind::kCategorical,
            "kind = \"numeric\" or \"categorical\""}}) {
    const toml::node* n = t.Node(o.key);
    if (n && !o.allowed) {
      return InvalidArgument(t.Name(o.key) + t.Where(*n) +
                             " is only allowed with " + o.kinds);
    }
  }
  if (column.kind == Kind::kCategorical) {
    CLS_ASSIGN_OR_RETURN(column.categories, ParseCategories(t));
  }
  if (column.kind == Kind::kText) {
    CLS_ASSIGN_OR_RETURN(const auto buckets, t.Integer("hash_buckets"));
    const int64_t b = buckets.value_or(core::kDefaultHashBuckets);
    if (!core::ValidHashBuckets(b)) {
      return InvalidArgument(t.Name("hash_buckets") +
                             " must be a power of two "
                             "from " +
                             std::to_string(core::kMinHashBuckets) + " to " +
                             std::to_string(core::kMaxHashBuckets) +
                             " (e.g. 1024), got " + std::to_string(b));
    }
    column.hash_buckets = static_cast<int>(b);
  }
  if (column.kind == Kind::kEmbedding) {
    CLS_ASSIGN_OR_RETURN(const auto dimension, t.Integer("dimension"));
    if (!dimension) {
      return InvalidArgument("missing required key '" + path +
                             ".dimension' (the embedding's length)");
    }
    if (*dimension < 1 || *dimension > core::kMaxEmbeddingDimension) {
      return InvalidArgument(t.Name("dimension") + " must be from 1 to " +
                             std::to_string(core::kMaxEmbeddingDimension) +
                             ", got " + std::to_string(*dimension));
    }
    column.dimension = static_cast<int>(*dimension);
  }
  CLS_ASSIGN_OR_RETURN(const auto zero, t.Bool("zero_is_missing"));
  column.zero_is_missing = zero.value_or(false);
  return column;
}

Result<core::Imputation> ParseImputation(const TomlTable& data) {
  CLS_ASSIGN_OR_RETURN(const auto imputation, data.String("imputation"));
  const std::string how = imputation.value_or("mean");
  if (how == "mean") return core::Imputation::kMean;
  if (how == "median") return core::Imputation::kMedian;
  if (how == "zero") return core::Imputation::kZero;
  return InvalidArgument("'data.imputation' is '" + how +
                         "'; allowed values: mean, median, zero");
}

Status ParseData(const toml::table& table, const fs::path& base_dir,
                 AgentConfig& config) {
  const TomlTable data(
      table, "data",
      {"csv", "label_column", "positive_above", "label_classes", "imputation",
       "test_fraction", "split_seed", "columns"});
  CLS_RETURN_IF_ERROR(data.CheckKeys());
  DataConfig out;
  CLS_ASSIGN_OR_RETURN(const std::string csv, data.RequiredString("csv"));
  out.csv = ResolvePath(base_dir, csv);
  CLS_ASSIGN_OR_RETURN(out.schema.label.column,
                       data.RequiredString("label_column"));
  CLS_ASSIGN_OR_RETURN(const auto above, data.Number("positive_above"));
  out.schema.label.positive_above = above.value_or(0.0);
  // Multi-class labels: the label column's values, class i = the i-th.
  if (const toml::node* classes = data.Node("label_classes")) {
    if (above) {
      return InvalidArgument(
          "'data.label_classes' and 'data.positive_above' exclude each other "
          "(multi-class or binary labels)");
    }
    CLS_ASSIGN_OR_RETURN(out.schema.label.classes,
                         ParseDistinctNumbers(data, classes, "label_classes"));
    if (out.schema.label.classes.size() < 2) {
      return InvalidArgument("'data.label_classes' needs at least 2 classes");
    }
  }
  CLS_ASSIGN_OR_RETURN(out.schema.imputation, ParseImputation(data));

  CLS_ASSIGN_OR_RETURN(const auto fraction, data.Number("test_fraction"));
  out.test_fraction = fraction.value_or(0.2);
  if (!(out.test_fraction > 0.0 && out.test_fraction < 1.0)) {
    return InvalidArgument(
        "'data.test_fraction' must be between 0 and 1 "
        "(exclusive), got " +
        std::to_string(out.test_fraction));
  }
  CLS_ASSIGN_OR_RETURN(const auto seed, data.Integer("split_seed"));
  if (seed.value_or(7) < 0) {
    return InvalidArgument("'data.split_seed' must be >= 0");
  }
  out.split_seed = static_cast<uint64_t>(seed.value_or(7));

  const toml::node* columns = data.Node("columns");
  if (!columns) {
    return InvalidArgument(
        "missing required key 'data.columns': add one "
        "[[data.columns]] block per feature column");
  }
  const toml::array* array = columns->as_array();
  if (!array || array->empty()) {
    return data.WrongType(*columns, "columns",
                          "a non-empty array of tables ([[data.columns]])");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    CLS_ASSIGN_OR_RETURN(core::ColumnSpec column, ParseColumn(data, i));
    const std::string where = "'data.columns[" + std::to_string(i) + "]': ";
    if (column.name == out.schema.label.column) {
      return InvalidArgument(where + "the label column '" + column.name +
                             "' cannot also be a feature");
    }
    if (!names.insert(column.name).second) {
      return InvalidArgument(where + "column '" + column.name +
                             "' listed twice");
    }
    out.schema.features.push_back(std::move(column));
  }
  config.data = std::move(out);
  return {};
}

#if CLS_BENCH_HOOKS
Status ParseBenchmark(const toml::table& table, AgentConfig& config) {
  const TomlTable bench(table, "benchmark", {"parameters"});
  CLS_RETURN_IF_ERROR(bench.CheckKeys());
  CLS_ASSIGN_OR_RETURN(const auto n, bench.Integer("parameters"));
  if (!n) return InvalidArgument("missing required key 'benchmark.parameters'");
  if (*n < 1 || *n > kMaxBenchmarkParameters) {
    return InvalidArgument("'benchmark.parameters' must be between 1 and " +
                           std::to_string(kMaxBenchmarkParameters));
  }
  config.benchmark = BenchmarkConfig{static_cast<uint64_t>(*n)};
  return {};
}
#endif  // CLS_BENCH_HOOKS

// The root's keys; [benchmark] exists only in test and benchmark builds
// (elsewhere it is an unknown key).
std::vector<std::string_view> RootKeys() {
  std::vector<std::string_view> keys = {"site_id",
                                        "site_name",
                                        "location",
                                        "coordinator",
                                        "data_dir",
                                        "log_level",
                                        "tls",
                                        "data",
                                        "online",
                                        "serve",
                                        "secure_aggregation",
                                        "privacy",
                                        "metrics_listen"};
  keys.insert(keys.end(), kLogSettingKeys.begin(), kLogSettingKeys.end());
#if CLS_BENCH_HOOKS
  keys.push_back("benchmark");
#endif
  return keys;
}

Status ParseIdentity(const TomlTable& root, const fs::path& base_dir,
                     AgentConfig& config) {
  CLS_ASSIGN_OR_RETURN(config.site_id, root.RequiredString("site_id"));
  if (!IsValidSiteId(config.site_id)) {
    return InvalidArgument(
        "'site_id' must be 1-64 characters of A-Z a-z 0-9 "
        "_ . - (as in the site certificate), got '" +
        config.site_id + "'");
  }
  CLS_ASSIGN_OR_RETURN(const auto name, root.String("site_name"));
  CLS_ASSIGN_OR_RETURN(const auto location, root.String("location"));
  config.site_name = name.value_or("");
  config.location = location.value_or("");

  CLS_ASSIGN_OR_RETURN(const std::string coordinator,
                       root.RequiredString("coordinator"));
  CLS_RETURN_IF_ERROR(ParseCoordinator(coordinator, config));

  CLS_ASSIGN_OR_RETURN(const auto data_dir, root.String("data_dir"));
  const std::string dir = data_dir.value_or("./state");
  if (dir.empty()) return InvalidArgument("'data_dir' must not be empty");
  config.data_dir = ResolvePath(base_dir, dir);

  CLS_ASSIGN_OR_RETURN(const auto level, root.String("log_level"));
  config.log_level = level.value_or("info");
  if (!IsValidLogLevel(config.log_level)) {
    return InvalidArgument("'log_level' is '" + config.log_level +
                           "'; allowed values: " + std::string(kLogLevels));
  }
  CLS_RETURN_IF_ERROR(ReadLogSettings(root, base_dir, config.log));

  CLS_ASSIGN_OR_RETURN(const auto metrics, root.String("metrics_listen"));
  if (metrics && metrics->empty()) {
    config.metrics_enabled = false;
  } else if (metrics) {
    // Port 0: any free port (the agent logs which).
    auto address = ParseHostPort(*metrics, PortZero::kAllowed);
    if (!address) {
      return InvalidArgument("'metrics_listen': " + address.error().message);
    }
    config.metrics_host = address->host;
    config.metrics_port = address->port;
  }
  return {};
}

Result<AgentConfig> ParseRoot(const toml::table& table,
                              const fs::path& base_dir) {
  const TomlTable root(table, "", RootKeys());
  CLS_RETURN_IF_ERROR(root.CheckKeys());
  AgentConfig config;
  CLS_RETURN_IF_ERROR(ParseIdentity(root, base_dir, config));
  CLS_RETURN_IF_ERROR(ParseTls(root, base_dir, config));

  CLS_ASSIGN_OR_RETURN(const toml::table* data, root.Table("data"));
  bool benchmark = false;
#if CLS_BENCH_HOOKS
  CLS_ASSIGN_OR_RETURN(const toml::table* bench, root.Table("benchmark"));
  if (data && bench) {
    return InvalidArgument(
        "[data] and [benchmark] cannot both be present: "
        "a benchmark agent has no data");
  }
  if (bench) CLS_RETURN_IF_ERROR(ParseBenchmark(*bench, config));
  benchmark = bench != nullptr;
#endif
  if (!data && !benchmark) {
    return InvalidArgument("missing required table [data] (the local CSV)");
  }
  if (data) CLS_RETURN_IF_ERROR(ParseData(*data, base_dir, config));

  CLS_ASSIGN_OR_RETURN(const toml::table* online, root.Table("online"));
  if (online) {
    if (!config.data) {
      return InvalidArgument(
          "[online] needs [data]: online learning uses its schema");
    }
    CLS_RETURN_IF_ERROR(ParseOnline(*online, base_dir, config));
  }
  CLS_ASSIGN_OR_RETURN(const toml::table* secure_aggregation,
                       root.Table("secure_aggregation"));
  if (secure_aggregation) {
    CLS_RETURN_IF_ERROR(ParseSecureAggregation(*secure_aggregation, config));
  }
  CLS_ASSIGN_OR_RETURN(const toml::table* privacy, root.Table("privacy"));
  if (privacy) {
    CLS_RETURN_IF_ERROR(ParsePrivacy(*privacy, config));
    if (config.privacy.dp_sgd && !config.data) {
      return InvalidArgument("[privacy] dp_sgd needs [data]: it trains on it");
    }
  }
  CLS_ASSIGN_OR_RETURN(const toml::table* serve, root.Table("serve"));
  if (serve) {
    if (!config.data) {
      return InvalidArgument(
          "[serve] needs [data]: requests are read with its schema");
    }
    CLS_RETURN_IF_ERROR(ParseServe(*serve, base_dir, config));
  }
  if (config.online && config.online->serve_candidate != "off" &&
      !config.serve) {
    return InvalidArgument(
        "'online.serve_candidate' needs [serve] listen: the site-local "
        "candidate is served next to the deployed version");
  }
  return config;
}

}  // namespace

bool IsValidLogLevel(std::string_view level) {
  for (std::string_view known :
       {"trace", "debug", "info", "warn", "error", "critical", "off"}) {
    if (level == known) return true;
  }
  return false;
}

Result<AgentConfig> ParseConfig(std::string_view text, const fs::path& base_dir,
                                const std::string& origin) {
  auto root = ParseToml(text, origin);
  if (!root) return InvalidArgument("config: " + root.error().message);
  auto config = ParseRoot(*root, base_dir);
  if (!config) {
    return InvalidArgument("config " + origin + ": " + config.error().message);
  }
  return config;
}

Result<AgentConfig> LoadConfig(const std::string& path) {
  auto text = ReadConfigFile(path);
  if (!text) return std::unexpected(text.error());
  const fs::path absolute = fs::absolute(path);
  auto config = ParseConfig(*text, absolute.parent_path(), path);
  if (config) config->config_path = absolute.lexically_normal().string();
  return config;
}

}  // namespace cls::site
