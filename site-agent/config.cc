#include "site-agent/config.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

namespace cls::site {
namespace {

namespace fs = std::filesystem;

// The largest vector a round can carry (protocol/frame.h kMaxParameters).
constexpr int64_t kMaxBenchmarkParameters = 16 * 1024 * 1024;

std::string Join(const std::string& prefix, std::string_view key) {
  return prefix.empty() ? std::string(key) : prefix + "." + std::string(key);
}

std::string Line(const toml::node& node) {
  const auto& begin = node.source().begin;
  return begin.line ? " (line " + std::to_string(begin.line) + ")" : "";
}

// Every key of a table must be one the schema knows: a typo such as
// "postive_above" would otherwise silently fall back to a default.
Status CheckKeys(const toml::table& table, const std::string& prefix,
                 std::initializer_list<std::string_view> allowed) {
  for (const auto& [key, node] : table) {
    if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
      std::string names;
      for (auto name : allowed)
        names += (names.empty() ? "" : ", ") + std::string(name);
      return InvalidArgument("unknown key '" + Join(prefix, key.str()) + "'" +
                             Line(node) + "; allowed here: " + names);
    }
  }
  return {};
}

std::unexpected<Error> WrongType(const toml::node& node, const std::string& key,
                                 std::string_view expected) {
  return InvalidArgument("'" + key + "'" + Line(node) + " must be " +
                         std::string(expected));
}

Result<std::optional<std::string>> GetString(const toml::table& table,
                                             const std::string& prefix,
                                             std::string_view key) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (!node->is_string())
    return WrongType(*node, Join(prefix, key), "a string");
  return node->value<std::string>();
}

Result<std::string> RequireString(const toml::table& table,
                                  const std::string& prefix,
                                  std::string_view key) {
  auto value = GetString(table, prefix, key);
  if (!value) return std::unexpected(value.error());
  if (!*value || (*value)->empty()) {
    return InvalidArgument("missing required key '" + Join(prefix, key) + "'");
  }
  return **value;
}

// Integers are accepted where a real number is expected ("positive_above = 0").
Result<std::optional<double>> GetNumber(const toml::table& table,
                                        const std::string& prefix,
                                        std::string_view key) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (!node->is_number())
    return WrongType(*node, Join(prefix, key), "a number");
  double value = *node->value<double>();
  if (!std::isfinite(value))
    return WrongType(*node, Join(prefix, key), "finite");
  return value;
}

Result<std::optional<int64_t>> GetInteger(const toml::table& table,
                                          const std::string& prefix,
                                          std::string_view key) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (!node->is_integer()) {
    return WrongType(*node, Join(prefix, key), "a whole number");
  }
  return node->value<int64_t>();
}

Result<std::optional<bool>> GetBool(const toml::table& table,
                                    const std::string& prefix,
                                    std::string_view key) {
  const toml::node* node = table.get(key);
  if (!node) return std::nullopt;
  if (!node->is_boolean()) {
    return WrongType(*node, Join(prefix, key), "true or false");
  }
  return node->value<bool>();
}

Result<const toml::table*> GetTable(const toml::table& table,
                                    const std::string& prefix,
                                    std::string_view key) {
  const toml::node* node = table.get(key);
  if (!node) return nullptr;
  if (!node->is_table()) return WrongType(*node, Join(prefix, key), "a table");
  return node->as_table();
}

std::string ResolvePath(const fs::path& base_dir, const std::string& value) {
  fs::path p(value);
  if (p.is_relative()) p = base_dir / p;
  return p.lexically_normal().string();
}

bool IsValidSiteId(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

// "host:port" or "[v6-address]:port".
Status ParseCoordinator(const std::string& value, AgentConfig& config) {
  const std::string bad =
      "'coordinator' must be host:port (e.g. "
      "\"coord.example.org:7443\"), got '" +
      value + "'";
  const size_t colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    return InvalidArgument(bad);
  }
  std::string host = value.substr(0, colon);
  const std::string port = value.substr(colon + 1);
  if (host.front() == '[') {
    if (host.back() != ']' || host.size() < 3) return InvalidArgument(bad);
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return InvalidArgument(bad);
  }
  if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) {
        return c >= '0' && c <= '9';
      })) {
    return InvalidArgument(bad);
  }
  const int number = std::stoi(port);
  if (number < 1 || number > 65535) return InvalidArgument(bad);
  config.coordinator_host = host;
  config.coordinator_port = static_cast<uint16_t>(number);
  return {};
}

Status ParseTls(const toml::table& root, const fs::path& base_dir,
                AgentConfig& config) {
  auto table = GetTable(root, "", "tls");
  if (!table) return std::unexpected(table.error());
  if (!*table) return InvalidArgument("missing required table [tls]");
  const toml::table& tls = **table;
  if (auto s = CheckKeys(tls, "tls", {"ca", "cert", "key", "crl"}); !s)
    return s;
  auto ca = RequireString(tls, "tls", "ca");
  auto cert = RequireString(tls, "tls", "cert");
  auto key = RequireString(tls, "tls", "key");
  auto crl = GetString(tls, "tls", "crl");
  for (const auto* r : {&ca, &cert, &key}) {
    if (!*r) return std::unexpected(r->error());
  }
  if (!crl) return std::unexpected(crl.error());
  config.tls.ca = ResolvePath(base_dir, *ca);
  config.tls.cert = ResolvePath(base_dir, *cert);
  config.tls.key = ResolvePath(base_dir, *key);
  if (*crl && !(*crl)->empty()) config.tls.crl = ResolvePath(base_dir, **crl);
  return {};
}

Result<core::ColumnSpec> ParseColumn(const toml::node& node,
                                     const std::string& prefix) {
  if (!node.is_table()) return WrongType(node, prefix, "a table");
  const toml::table& t = *node.as_table();
  if (auto s = CheckKeys(t, prefix,
                         {"name", "kind", "categories", "zero_is_missing"});
      !s) {
    return std::unexpected(s.error());
  }
  core::ColumnSpec column;
  auto name = RequireString(t, prefix, "name");
  if (!name) return std::unexpected(name.error());
  column.name = *name;

  auto kind = GetString(t, prefix, "kind");
  if (!kind) return std::unexpected(kind.error());
  const std::string kind_value = kind->value_or("numeric");
  if (kind_value == "numeric") {
    column.kind = core::ColumnSpec::Kind::kNumeric;
  } else if (kind_value == "categorical") {
    column.kind = core::ColumnSpec::Kind::kCategorical;
  } else {
    return InvalidArgument("'" + prefix + ".kind' is '" + kind_value +
                           "'; allowed values: numeric, categorical");
  }

  const toml::node* categories = t.get("categories");
  if (column.kind == core::ColumnSpec::Kind::kCategorical) {
    if (!categories) {
      return InvalidArgument("missing required key '" + prefix +
                             ".categories' (kind = \"categorical\")");
    }
    const toml::array* array = categories->as_array();
    if (!array || array->empty()) {
      return WrongType(*categories, prefix + ".categories",
                       "a non-empty array of numbers");
    }
    std::set<double> seen;
    for (const toml::node& element : *array) {
      if (!element.is_number()) {
        return WrongType(*categories, prefix + ".categories",
                         "a non-empty array of numbers");
      }
      const double value = *element.value<double>();
      if (!std::isfinite(value) || !seen.insert(value).second) {
        return InvalidArgument("'" + prefix + ".categories'" +
                               Line(*categories) +
                               " must hold distinct finite numbers");
      }
      column.categories.push_back(value);
    }
  } else if (categories) {
    return InvalidArgument("'" + prefix + ".categories'" + Line(*categories) +
                           " is only allowed with kind = \"categorical\"");
  }

  auto zero = GetBool(t, prefix, "zero_is_missing");
  if (!zero) return std::unexpected(zero.error());
  column.zero_is_missing = zero->value_or(false);
  return column;
}

Status ParseData(const toml::table& data, const fs::path& base_dir,
                 AgentConfig& config) {
  if (auto s = CheckKeys(data, "data",
                         {"csv", "label_column", "positive_above", "imputation",
                          "test_fraction", "split_seed", "columns"});
      !s) {
    return s;
  }
  DataConfig out;
  auto csv = RequireString(data, "data", "csv");
  if (!csv) return std::unexpected(csv.error());
  out.csv = ResolvePath(base_dir, *csv);

  auto label = RequireString(data, "data", "label_column");
  if (!label) return std::unexpected(label.error());
  out.schema.label.column = *label;

  auto above = GetNumber(data, "data", "positive_above");
  if (!above) return std::unexpected(above.error());
  out.schema.label.positive_above = above->value_or(0.0);

  auto imputation = GetString(data, "data", "imputation");
  if (!imputation) return std::unexpected(imputation.error());
  const std::string how = imputation->value_or("mean");
  if (how == "mean") {
    out.schema.imputation = core::Imputation::kMean;
  } else if (how == "median") {
    out.schema.imputation = core::Imputation::kMedian;
  } else if (how == "zero") {
    out.schema.imputation = core::Imputation::kZero;
  } else {
    return InvalidArgument("'data.imputation' is '" + how +
                           "'; allowed values: mean, median, zero");
  }

  auto fraction = GetNumber(data, "data", "test_fraction");
  if (!fraction) return std::unexpected(fraction.error());
  out.test_fraction = fraction->value_or(0.2);
  if (!(out.test_fraction > 0.0 && out.test_fraction < 1.0)) {
    return InvalidArgument(
        "'data.test_fraction' must be between 0 and 1 "
        "(exclusive), got " +
        std::to_string(out.test_fraction));
  }

  auto seed = GetInteger(data, "data", "split_seed");
  if (!seed) return std::unexpected(seed.error());
  if (seed->value_or(7) < 0) {
    return InvalidArgument("'data.split_seed' must be >= 0");
  }
  out.split_seed = static_cast<uint64_t>(seed->value_or(7));

  const toml::node* columns = data.get("columns");
  if (!columns) {
    return InvalidArgument(
        "missing required key 'data.columns': add one "
        "[[data.columns]] block per feature column");
  }
  const toml::array* array = columns->as_array();
  if (!array || array->empty()) {
    return WrongType(*columns, "data.columns",
                     "a non-empty array of tables ([[data.columns]])");
  }
  std::set<std::string> names;
  for (size_t i = 0; i < array->size(); ++i) {
    auto column =
        ParseColumn(*array->get(i), "data.columns[" + std::to_string(i) + "]");
    if (!column) return std::unexpected(column.error());
    if (column->name == out.schema.label.column) {
      return InvalidArgument("'data.columns[" + std::to_string(i) +
                             "]': the label column '" + column->name +
                             "' cannot also be a feature");
    }
    if (!names.insert(column->name).second) {
      return InvalidArgument("'data.columns[" + std::to_string(i) +
                             "]': column '" + column->name + "' listed twice");
    }
    out.schema.features.push_back(std::move(*column));
  }
  config.data = std::move(out);
  return {};
}

#if CLS_BENCH_HOOKS
Status ParseBenchmark(const toml::table& bench, AgentConfig& config) {
  if (auto s = CheckKeys(bench, "benchmark", {"parameters"}); !s) return s;
  auto n = GetInteger(bench, "benchmark", "parameters");
  if (!n) return std::unexpected(n.error());
  if (!*n)
    return InvalidArgument("missing required key 'benchmark.parameters'");
  if (**n < 1 || **n > kMaxBenchmarkParameters) {
    return InvalidArgument("'benchmark.parameters' must be between 1 and " +
                           std::to_string(kMaxBenchmarkParameters));
  }
  config.benchmark = BenchmarkConfig{static_cast<uint64_t>(**n)};
  return {};
}
#endif  // CLS_BENCH_HOOKS

Status ParseOnline(const toml::table& t, const fs::path& base_dir,
                   AgentConfig& config) {
  if (auto s = CheckKeys(t, "online",
                         {"inbox", "key_file", "poll_interval_s", "batch_size",
                          "learning_rate", "retention_rate", "reservoir_size",
                          "rehearsal_samples"});
      !s) {
    return s;
  }
  OnlineConfig o;
  auto inbox = RequireString(t, "online", "inbox");
  if (!inbox) return std::unexpected(inbox.error());
  o.inbox = ResolvePath(base_dir, *inbox);
  auto key = GetString(t, "online", "key_file");
  if (!key) return std::unexpected(key.error());
  o.key_file =
      *key ? ResolvePath(base_dir, **key)
           : (fs::path(config.data_dir) / "keys" / "online-state.key").string();
  struct IntField {
    const char* key;
    uint32_t* out;
    int64_t lo, hi;
  };
  for (const IntField& f :
       {IntField{"poll_interval_s", &o.poll_interval_s, 1, 86400},
        IntField{"batch_size", &o.batch_size, 1, 100000},
        IntField{"reservoir_size", &o.reservoir_size, 0, 10000000},
        IntField{"rehearsal_samples", &o.rehearsal_samples, 0, 100000}}) {
    auto v = GetInteger(t, "online", f.key);
    if (!v) return std::unexpected(v.error());
    if (!*v) continue;
    if (**v < f.lo || **v > f.hi) {
      return InvalidArgument("'online." + std::string(f.key) +
                             "' must be between " + std::to_string(f.lo) +
                             " and " + std::to_string(f.hi));
    }
    *f.out = static_cast<uint32_t>(**v);
  }
  auto lr = GetNumber(t, "online", "learning_rate");
  if (!lr) return std::unexpected(lr.error());
  if (*lr) o.learning_rate = **lr;
  if (!(o.learning_rate > 0 && o.learning_rate <= 10)) {
    return InvalidArgument("'online.learning_rate' must be in (0, 10]");
  }
  auto retention = GetNumber(t, "online", "retention_rate");
  if (!retention) return std::unexpected(retention.error());
  if (*retention) o.retention_rate = **retention;
  if (!(o.retention_rate >= 0 && o.retention_rate < 1)) {
    return InvalidArgument(
        "'online.retention_rate' must be in [0, 1) (0.9: the original "
        "guide's default)");
  }
  config.online = o;
  return {};
}

// [serve] client_roles and allow_own_site_cert. Every certificate of the
// project CA passes the TLS handshake, including every other hospital's
// site certificate; these say which of them may call.
Status ParseClientPolicy(const toml::table& t, ServeConfig& serve) {
  static constexpr std::string_view kRoles[] = {
      "ehr", "admin", "operator", "auditor", "viewer", "break_glass"};
  const std::string allowed =
      "ehr, admin, operator, auditor, viewer, break_glass";
  if (const toml::node* node = t.get("client_roles")) {
    const toml::array* array = node->as_array();
    if (!array) {
      return WrongType(*node, "serve.client_roles",
                       "an array of role names, e.g. [\"ehr\"]");
    }
    serve.client_roles.clear();
    for (const toml::node& element : *array) {
      if (!element.is_string()) {
        return WrongType(*node, "serve.client_roles",
                         "an array of role names, e.g. [\"ehr\"]");
      }
      const std::string role = *element.value<std::string>();
      if (role == "site") {
        // A site role would admit every hospital of the consortium.
        return InvalidArgument(
            "'serve.client_roles'" + Line(*node) +
            " cannot hold 'site': that admits every hospital's site "
            "certificate; set 'serve.allow_own_site_cert = true' to admit "
            "this site's own certificate");
      }
      if (std::find(std::begin(kRoles), std::end(kRoles), role) ==
          std::end(kRoles)) {
        return InvalidArgument("'serve.client_roles'" + Line(*node) +
                               " has unknown role '" + role +
                               "'; allowed values: " + allowed);
      }
      if (std::find(serve.client_roles.begin(), serve.client_roles.end(),
                    role) == serve.client_roles.end()) {
        serve.client_roles.push_back(role);
      }
    }
  }
  auto own = GetBool(t, "serve", "allow_own_site_cert");
  if (!own) return std::unexpected(own.error());
  serve.allow_own_site_cert = own->value_or(false);
  const bool set = t.contains("client_roles") || own->has_value();
  if (set && !serve.require_client_cert) {
    return InvalidArgument(
        "'serve.client_roles' and 'serve.allow_own_site_cert' need "
        "require_client_cert = true: without client certificates no caller "
        "is identified");
  }
  if (serve.client_roles.empty() && !serve.allow_own_site_cert) {
    return InvalidArgument(
        "'serve.client_roles' is empty and 'serve.allow_own_site_cert' is "
        "false: no client could call the endpoint");
  }
  return {};
}

Status ParseServe(const toml::table& t, const fs::path& base_dir,
                  AgentConfig& config) {
  if (auto s = CheckKeys(
          t, "serve",
          {"listen", "cert", "key", "require_client_cert", "client_roles",
           "allow_own_site_cert", "retention_hours", "max_tracked",
           "report_interval_s", "idle_timeout_s", "threads"});
      !s) {
    return s;
  }
  auto listen = GetString(t, "serve", "listen");
  if (!listen) return std::unexpected(listen.error());
  if (!*listen) return {};  // not serving
  ServeConfig serve;
  const std::string& address = **listen;
  const size_t colon = address.rfind(':');
  int64_t port = -1;
  if (colon != std::string::npos && colon > 0 && colon + 1 < address.size() &&
      address.find_first_not_of("0123456789", colon + 1) == std::string::npos &&
      address.size() - colon <= 6) {
    port = std::stoll(address.substr(colon + 1));
  }
  if (port < 0 || port > 65535) {
    return InvalidArgument(
        "'serve.listen' must be HOST:PORT with a port 0-65535, e.g. "
        "\"127.0.0.1:8443\"");
  }
  serve.host = address.substr(0, colon);
  if (serve.host.size() > 2 && serve.host.front() == '[' &&
      serve.host.back() == ']') {
    serve.host = serve.host.substr(1, serve.host.size() - 2);
  }
  serve.port = static_cast<uint16_t>(port);
  auto cert = GetString(t, "serve", "cert");
  auto key = GetString(t, "serve", "key");
  if (!cert) return std::unexpected(cert.error());
  if (!key) return std::unexpected(key.error());
  serve.cert = *cert ? ResolvePath(base_dir, **cert) : config.tls.cert;
  serve.key = *key ? ResolvePath(base_dir, **key) : config.tls.key;
  if (cert->has_value() != key->has_value()) {
    return InvalidArgument("'serve.cert' and 'serve.key' go together");
  }
  auto require = GetBool(t, "serve", "require_client_cert");
  if (!require) return std::unexpected(require.error());
  serve.require_client_cert = require->value_or(true);
  if (serve.require_client_cert && config.tls.crl.empty()) {
    return InvalidArgument(
        "'serve.require_client_cert' needs [tls] crl (the project CA's CRL) "
        "to check client certificates; or set it to false and listen on "
        "loopback only");
  }
  if (auto s = ParseClientPolicy(t, serve); !s) return s;
  auto hours = GetNumber(t, "serve", "retention_hours");
  if (!hours) return std::unexpected(hours.error());
  serve.retention_hours = hours->value_or(24);
  if (!(serve.retention_hours > 0 && serve.retention_hours <= 24 * 90)) {
    return InvalidArgument(
        "'serve.retention_hours' must be in (0, 2160] (90 days)");
  }
  const struct {
    std::string_view key;
    int64_t min, max, fallback;
  } integers[] = {{"max_tracked", 1, 10'000'000, 100'000},
                  {"report_interval_s", 1, 86'400, 300},
                  {"idle_timeout_s", 1, 3'600, 30},
                  {"threads", 1, 64, 2}};
  int64_t values[4];
  for (size_t i = 0; i < 4; ++i) {
    auto v = GetInteger(t, "serve", integers[i].key);
    if (!v) return std::unexpected(v.error());
    values[i] = v->value_or(integers[i].fallback);
    if (values[i] < integers[i].min || values[i] > integers[i].max) {
      return InvalidArgument("'serve." + std::string(integers[i].key) +
                             "' must be in [" +
                             std::to_string(integers[i].min) + ", " +
                             std::to_string(integers[i].max) + "]");
    }
  }
  serve.max_tracked = static_cast<uint64_t>(values[0]);
  serve.report_interval_s = static_cast<uint32_t>(values[1]);
  serve.idle_timeout_s = static_cast<uint32_t>(values[2]);
  serve.threads = static_cast<uint32_t>(values[3]);
  config.serve = serve;
  return {};
}

Status ParseSecureAggregation(const toml::table& t, AgentConfig& config) {
  constexpr std::string_view kTable = "secure_aggregation";
  if (auto s = CheckKeys(t, std::string(kTable),
                         {"min_neighbourhood", "allow_single_site"});
      !s) {
    return s;
  }
  auto min = GetInteger(t, std::string(kTable), "min_neighbourhood");
  auto single = GetBool(t, std::string(kTable), "allow_single_site");
  if (!min) return std::unexpected(min.error());
  if (!single) return std::unexpected(single.error());
  if (*min) {
    if (**min < 2 || **min > 1000) {
      return InvalidArgument(
          "'secure_aggregation.min_neighbourhood' must be between 2 and "
          "1000 (a neighbourhood of one is allow_single_site)");
    }
    config.secure_aggregation.min_neighbourhood = static_cast<uint32_t>(**min);
  }
  if (*single) config.secure_aggregation.allow_single_site = **single;
  return {};
}

Result<AgentConfig> ParseRoot(const toml::table& root,
                              const fs::path& base_dir) {
#if CLS_BENCH_HOOKS
  const Status keys =
      CheckKeys(root, "",
                {"site_id", "site_name", "location", "coordinator", "data_dir",
                 "log_level", "tls", "data", "benchmark", "online", "serve",
                 "secure_aggregation"});
#else
  // Benchmark mode exists only in test and benchmark builds: elsewhere
  // [benchmark] is an unknown key.
  const Status keys = CheckKeys(
      root, "",
      {"site_id", "site_name", "location", "coordinator", "data_dir",
       "log_level", "tls", "data", "online", "serve", "secure_aggregation"});
#endif
  if (!keys) return std::unexpected(keys.error());
  AgentConfig config;
  auto site_id = RequireString(root, "", "site_id");
  if (!site_id) return std::unexpected(site_id.error());
  if (!IsValidSiteId(*site_id)) {
    return InvalidArgument(
        "'site_id' must be 1-64 characters of A-Z a-z 0-9 "
        "_ . - (as in the site certificate), got '" +
        *site_id + "'");
  }
  config.site_id = *site_id;

  auto name = GetString(root, "", "site_name");
  auto location = GetString(root, "", "location");
  if (!name) return std::unexpected(name.error());
  if (!location) return std::unexpected(location.error());
  config.site_name = name->value_or("");
  config.location = location->value_or("");

  auto coordinator = RequireString(root, "", "coordinator");
  if (!coordinator) return std::unexpected(coordinator.error());
  if (auto s = ParseCoordinator(*coordinator, config); !s) {
    return std::unexpected(s.error());
  }

  auto data_dir = GetString(root, "", "data_dir");
  if (!data_dir) return std::unexpected(data_dir.error());
  const std::string dir = data_dir->value_or("./state");
  if (dir.empty()) return InvalidArgument("'data_dir' must not be empty");
  config.data_dir = ResolvePath(base_dir, dir);

  auto level = GetString(root, "", "log_level");
  if (!level) return std::unexpected(level.error());
  config.log_level = level->value_or("info");
  if (!IsValidLogLevel(config.log_level)) {
    return InvalidArgument("'log_level' is '" + config.log_level +
                           "'; allowed values: " + std::string(kLogLevels));
  }

  if (auto s = ParseTls(root, base_dir, config); !s) {
    return std::unexpected(s.error());
  }

  auto data = GetTable(root, "", "data");
  if (!data) return std::unexpected(data.error());
#if CLS_BENCH_HOOKS
  auto bench = GetTable(root, "", "benchmark");
  if (!bench) return std::unexpected(bench.error());
  if (*data && *bench) {
    return InvalidArgument(
        "[data] and [benchmark] cannot both be present: "
        "a benchmark agent has no data");
  }
  if (*bench) {
    if (auto s = ParseBenchmark(**bench, config); !s) {
      return std::unexpected(s.error());
    }
  }
  const bool benchmark = *bench != nullptr;
#else
  const bool benchmark = false;
#endif
  if (!*data && !benchmark) {
    return InvalidArgument("missing required table [data] (the local CSV)");
  }
  if (*data) {
    if (auto s = ParseData(**data, base_dir, config); !s) {
      return std::unexpected(s.error());
    }
  }
  auto online = GetTable(root, "", "online");
  if (!online) return std::unexpected(online.error());
  if (*online) {
    if (!config.data) {
      return InvalidArgument(
          "[online] needs [data]: online learning uses its schema");
    }
    if (auto s = ParseOnline(**online, base_dir, config); !s) {
      return std::unexpected(s.error());
    }
  }
  auto secure_aggregation = GetTable(root, "", "secure_aggregation");
  if (!secure_aggregation) return std::unexpected(secure_aggregation.error());
  if (*secure_aggregation) {
    if (auto s = ParseSecureAggregation(**secure_aggregation, config); !s) {
      return std::unexpected(s.error());
    }
  }
  auto serve = GetTable(root, "", "serve");
  if (!serve) return std::unexpected(serve.error());
  if (*serve) {
    if (!config.data) {
      return InvalidArgument(
          "[serve] needs [data]: requests are read with its schema");
    }
    if (auto s = ParseServe(**serve, base_dir, config); !s) {
      return std::unexpected(s.error());
    }
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
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    return InvalidArgument("config " + origin + ": line " +
                           std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  auto config = ParseRoot(root, base_dir);
  if (!config) {
    return InvalidArgument("config " + origin + ": " + config.error().message);
  }
  return config;
}

Result<AgentConfig> LoadConfig(const std::string& path) {
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec || !fs::exists(absolute, ec)) {
    return NotFound("config file '" + path + "' not found");
  }
  if (!fs::is_regular_file(absolute, ec)) {
    return InvalidArgument("config file '" + path + "' is not a regular file");
  }
  std::ifstream in(absolute, std::ios::binary);
  if (!in) return Unavailable("config file '" + path + "' cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto config = ParseConfig(buffer.str(), absolute.parent_path(), path);
  if (config) config->config_path = absolute.lexically_normal().string();
  return config;
}

}  // namespace cls::site
