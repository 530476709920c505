#include "site-agent/config_sections.h"

#include <algorithm>
#include <string_view>

#include "common/host_port.h"
#include "common/toml_reader.h"

namespace cls::site::config_internal {
namespace {

namespace fs = std::filesystem;

// [serve] client_roles and allow_own_site_cert. Every certificate of the
// project CA passes the TLS handshake, including every other hospital's
// site certificate; these say which of them may call.
Status ParseClientPolicy(const TomlTable& t, ServeConfig& serve) {
  static constexpr std::string_view kRoles[] = {
      "ehr", "admin", "operator", "auditor", "viewer", "break_glass"};
  const std::string allowed =
      "ehr, admin, operator, auditor, viewer, break_glass";
  const std::string expected = "an array of role names, e.g. [\"ehr\"]";
  if (const toml::node* node = t.Node("client_roles")) {
    const toml::array* array = node->as_array();
    if (!array) return t.WrongType(*node, "client_roles", expected);
    const std::string name = t.Name("client_roles") + t.Where(*node);
    serve.client_roles.clear();
    for (const toml::node& element : *array) {
      if (!element.is_string()) {
        return t.WrongType(*node, "client_roles", expected);
      }
      const std::string role = *element.value<std::string>();
      if (role == "site") {
        // A site role would admit every hospital of the consortium.
        return InvalidArgument(
            name +
            " cannot hold 'site': that admits every hospital's site "
            "certificate; set 'serve.allow_own_site_cert = true' to admit "
            "this site's own certificate");
      }
      if (std::find(std::begin(kRoles), std::end(kRoles), role) ==
          std::end(kRoles)) {
        return InvalidArgument(name + " has unknown role '" + role +
                               "'; allowed values: " + allowed);
      }
      if (std::find(serve.client_roles.begin(), serve.client_roles.end(),
                    role) == serve.client_roles.end()) {
        serve.client_roles.push_back(role);
      }
    }
  }
  CLS_ASSIGN_OR_RETURN(const auto own, t.Bool("allow_own_site_cert"));
  serve.allow_own_site_cert = own.value_or(false);
  const bool set = t.Node("client_roles") != nullptr || own.has_value();
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

// An integer of [serve] in [min, max], `fallback` when absent.
Result<int64_t> ServeInteger(const TomlTable& t, std::string_view key,
                             int64_t min, int64_t max, int64_t fallback) {
  CLS_ASSIGN_OR_RETURN(const auto v, t.Integer(key));
  const int64_t value = v.value_or(fallback);
  if (value < min || value > max) {
    return InvalidArgument(t.Name(key) + " must be in [" + std::to_string(min) +
                           ", " + std::to_string(max) + "]");
  }
  return value;
}

}  // namespace

std::string ResolvePath(const fs::path& base_dir, const std::string& value) {
  fs::path p(value);
  if (p.is_relative()) p = base_dir / p;
  return p.lexically_normal().string();
}

Status ParseOnline(const toml::table& table, const fs::path& base_dir,
                   AgentConfig& config) {
  const TomlTable t(
      table, "online",
      {"inbox", "key_file", "poll_interval_s", "batch_size", "learning_rate",
       "retention_rate", "reservoir_size", "rehearsal_samples",
       "serve_candidate", "candidate_share"});
  CLS_RETURN_IF_ERROR(t.CheckKeys());
  OnlineConfig o;
  CLS_ASSIGN_OR_RETURN(const std::string inbox, t.RequiredString("inbox"));
  o.inbox = ResolvePath(base_dir, inbox);
  CLS_ASSIGN_OR_RETURN(const auto key, t.String("key_file"));
  o.key_file =
      key ? ResolvePath(base_dir, *key)
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
    CLS_ASSIGN_OR_RETURN(const auto v, t.Integer(f.key, f.lo, f.hi));
    if (v) *f.out = static_cast<uint32_t>(*v);
  }
  CLS_RETURN_IF_ERROR(t.Read("learning_rate", o.learning_rate));
  if (!(o.learning_rate > 0 && o.learning_rate <= 10)) {
    return InvalidArgument("'online.learning_rate' must be in (0, 10]");
  }
  CLS_RETURN_IF_ERROR(t.Read("retention_rate", o.retention_rate));
  if (!(o.retention_rate >= 0 && o.retention_rate < 1)) {
    return InvalidArgument(
        "'online.retention_rate' must be in [0, 1) (0.9: the original "
        "guide's default)");
  }
  CLS_RETURN_IF_ERROR(t.Read("serve_candidate", o.serve_candidate));
  if (o.serve_candidate != "off" && o.serve_candidate != "shadow" &&
      o.serve_candidate != "ab") {
    return InvalidArgument(
        "'online.serve_candidate' must be \"off\", \"shadow\" or \"ab\"");
  }
  CLS_RETURN_IF_ERROR(t.Read("candidate_share", o.candidate_share));
  if (!(o.candidate_share > 0 && o.candidate_share < 1)) {
    return InvalidArgument(
        "'online.candidate_share' must be in (0, 1) (the site-local "
        "candidate's share of requests in \"ab\")");
  }
  config.online = o;
  return {};
}

Status ParseServe(const toml::table& table, const fs::path& base_dir,
                  AgentConfig& config) {
  const TomlTable t(
      table, "serve",
      {"listen", "cert", "key", "require_client_cert", "client_roles",
       "allow_own_site_cert", "retention_hours", "max_tracked",
       "report_interval_s", "idle_timeout_s", "threads", "input_drift_window",
       "input_drift_interval_s"});
  CLS_RETURN_IF_ERROR(t.CheckKeys());
  CLS_ASSIGN_OR_RETURN(const auto listen, t.String("listen"));
  if (!listen) return {};  // not serving
  ServeConfig serve;
  auto address = ParseHostPort(*listen, PortZero::kAllowed);
  if (!address) {
    return InvalidArgument(
        "'serve.listen' must be HOST:PORT with a port 0-65535, e.g. "
        "\"127.0.0.1:8443\": " +
        address.error().message);
  }
  serve.host = address->host;
  serve.port = address->port;
  CLS_ASSIGN_OR_RETURN(const auto cert, t.String("cert"));
  CLS_ASSIGN_OR_RETURN(const auto key, t.String("key"));
  serve.cert = cert ? ResolvePath(base_dir, *cert) : config.tls.cert;
  serve.key = key ? ResolvePath(base_dir, *key) : config.tls.key;
  if (cert.has_value() != key.has_value()) {
    return InvalidArgument("'serve.cert' and 'serve.key' go together");
  }
  CLS_RETURN_IF_ERROR(t.Read("require_client_cert", serve.require_client_cert));
  if (serve.require_client_cert && config.tls.crl.empty()) {
    return InvalidArgument(
        "'serve.require_client_cert' needs [tls] crl (the project CA's CRL) "
        "to check client certificates; or set it to false and listen on "
        "loopback only");
  }
  CLS_RETURN_IF_ERROR(ParseClientPolicy(t, serve));
  CLS_RETURN_IF_ERROR(t.Read("retention_hours", serve.retention_hours));
  if (!(serve.retention_hours > 0 && serve.retention_hours <= 24 * 90)) {
    return InvalidArgument(
        "'serve.retention_hours' must be in (0, 2160] (90 days)");
  }
  CLS_ASSIGN_OR_RETURN(serve.max_tracked,
                       ServeInteger(t, "max_tracked", 1, 10'000'000, 100'000));
  CLS_ASSIGN_OR_RETURN(serve.report_interval_s,
                       ServeInteger(t, "report_interval_s", 1, 86'400, 300));
  CLS_ASSIGN_OR_RETURN(serve.idle_timeout_s,
                       ServeInteger(t, "idle_timeout_s", 1, 3'600, 30));
  CLS_ASSIGN_OR_RETURN(serve.threads, ServeInteger(t, "threads", 1, 64, 2));
  // Fewer than 30 rows leave every feature "not judged" (DataDriftConfig).
  CLS_ASSIGN_OR_RETURN(const auto window, t.Integer("input_drift_window"));
  serve.input_drift_window = static_cast<uint32_t>(
      std::clamp<int64_t>(window.value_or(500), 0, 1'000'001));
  if (window && *window != 0 && (*window < 30 || *window > 1'000'000)) {
    return InvalidArgument(
        "'serve.input_drift_window' must be 0 (off) or in [30, 1000000]");
  }
  CLS_ASSIGN_OR_RETURN(
      serve.input_drift_interval_s,
      ServeInteger(t, "input_drift_interval_s", 1, 7 * 86'400, 300));
  config.serve = serve;
  return {};
}

Status ParseSecureAggregation(const toml::table& table, AgentConfig& config) {
  const TomlTable t(table, "secure_aggregation",
                    {"min_neighbourhood", "allow_single_site"});
  CLS_RETURN_IF_ERROR(t.CheckKeys());
  CLS_ASSIGN_OR_RETURN(const auto min, t.Integer("min_neighbourhood"));
  CLS_RETURN_IF_ERROR(
      t.Read("allow_single_site", config.secure_aggregation.allow_single_site));
  if (min) {
    if (*min < 2 || *min > 1000) {
      return InvalidArgument(
          "'secure_aggregation.min_neighbourhood' must be between 2 and "
          "1000 (a neighbourhood of one is allow_single_site)");
    }
    config.secure_aggregation.min_neighbourhood = static_cast<uint32_t>(*min);
  }
  return {};
}

Status ParsePrivacy(const toml::table& table, AgentConfig& config) {
  const TomlTable t(
      table, "privacy",
      {"dp_sgd", "target_epsilon", "delta", "clip_norm", "noise_multiplier"});
  CLS_RETURN_IF_ERROR(t.CheckKeys());
  PrivacyConfig p;
  CLS_RETURN_IF_ERROR(t.Read("dp_sgd", p.dp_sgd));
  CLS_ASSIGN_OR_RETURN(const auto target, t.Number("target_epsilon"));
  CLS_ASSIGN_OR_RETURN(p.delta, t.Number("delta"));
  CLS_RETURN_IF_ERROR(t.Read("clip_norm", p.clip_norm));
  CLS_RETURN_IF_ERROR(t.Read("noise_multiplier", p.noise_multiplier));
  if (p.dp_sgd && !target) {
    return InvalidArgument(
        "'privacy.target_epsilon' is required with dp_sgd = true (the "
        "record-level budget, e.g. 3)");
  }
  if (target) {
    if (!(*target > 0 && *target <= 100)) {
      return InvalidArgument("'privacy.target_epsilon' must be in (0, 100]");
    }
    p.target_epsilon = *target;
  }
  if (p.delta && !(*p.delta > 0 && *p.delta < 0.01)) {
    return InvalidArgument(
        "'privacy.delta' must be in (0, 0.01); it should be well below 1/n");
  }
  if (!(p.clip_norm > 0 && p.clip_norm <= 1e6)) {
    return InvalidArgument("'privacy.clip_norm' must be in (0, 1e6]");
  }
  if (!(p.noise_multiplier >= 0.3 && p.noise_multiplier <= 1000)) {
    // Below ~0.3 the RDP bound of a step is so large that one epoch spends
    // any sensible budget.
    return InvalidArgument("'privacy.noise_multiplier' must be in [0.3, 1000]");
  }
  config.privacy = p;
  return {};
}

}  // namespace cls::site::config_internal
