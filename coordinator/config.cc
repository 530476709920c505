#include "coordinator/config.h"

#include "core/server_optimizer.h"

#include <toml++/toml.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <utility>

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

// Walks one TOML table, remembering which keys were read so that anything
// left over (a typo, a key from another version) is reported.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string prefix)
      : table_(table), prefix_(std::move(prefix)) {}

  template <typename T>
  Status Get(const std::string& key, T& out) {
    seen_.insert(key);
    const toml::node* node = table_.get(key);
    if (node == nullptr) return {};
    if constexpr (std::is_same_v<T, double>) {
      if (auto v = node->value<double>()) {
        out = *v;
        return {};
      }
    } else if constexpr (std::is_same_v<T, bool>) {
      if (auto v = node->value_exact<bool>()) {
        out = *v;
        return {};
      }
    } else if constexpr (std::is_integral_v<T>) {
      if (auto v = node->value<int64_t>()) {
        if (!std::in_range<T>(*v)) {
          return InvalidArgument("config: " + Name(key) + " is out of range");
        }
        out = static_cast<T>(*v);
        return {};
      }
    } else {
      if (auto v = node->value<std::string>()) {
        out = *v;
        return {};
      }
    }
    return InvalidArgument("config: " + Name(key) + " has the wrong type");
  }

  const toml::table* Table(const std::string& key) {
    seen_.insert(key);
    return table_.get_as<toml::table>(key);
  }

  Status CheckUnknown() const {
    for (const auto& [key, node] : table_) {
      if (!seen_.count(std::string(key.str()))) {
        return InvalidArgument("config: unknown key " +
                               Name(std::string(key.str())));
      }
    }
    return {};
  }

  std::string Name(const std::string& key) const {
    return prefix_.empty() ? "'" + key + "'" : "'" + prefix_ + "." + key + "'";
  }

 private:
  const toml::table& table_;
  std::string prefix_;
  std::set<std::string> seen_;
};

#define CLS_TRY(expr)                                              \
  do {                                                             \
    if (auto _s = (expr); !_s) return std::unexpected(_s.error()); \
  } while (0)

std::string Resolve(const fs::path& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

// [versions]: where the model key-encryption key lives.
Status ReadVersions(TableReader& top, const fs::path& base,
                    CoordinatorConfig& c) {
  const toml::table empty;
  const toml::table* versions = top.Table("versions");
  TableReader v(versions ? *versions : empty, "versions");
  CLS_TRY(v.Get("kek_file", c.versions.kek_file));
  CLS_TRY(v.CheckUnknown());
  c.versions.kek_file = c.versions.kek_file.empty()
                            ? (fs::path(c.data_dir) / "model.kek").string()
                            : Resolve(base, c.versions.kek_file);
  return {};
}

// [audit] and [admin]: retention, checkpoints, break-glass and logoff.
Status ReadAuditAndAdmin(TableReader& top, CoordinatorConfig& c) {
  const toml::table empty;
  const toml::table* audit = top.Table("audit");
  TableReader a(audit ? *audit : empty, "audit");
  CLS_TRY(a.Get("retention_years", c.audit_retention_years));
  CLS_TRY(a.Get("checkpoint_every", c.audit_checkpoint_every));
  CLS_TRY(a.CheckUnknown());
  const toml::table* admin = top.Table("admin");
  TableReader ad(admin ? *admin : empty, "admin");
  int64_t idle_s = c.admin_idle_timeout.count();
  int64_t session_s = c.admin_session_max.count();
  CLS_TRY(ad.Get("break_glass_max_hours", c.break_glass_max_hours));
  CLS_TRY(ad.Get("idle_timeout_s", idle_s));
  CLS_TRY(ad.Get("session_max_s", session_s));
  CLS_TRY(ad.CheckUnknown());
  // HIPAA 164.316(b)(2)(i): documentation, audit trails included, is kept
  // six years; shorter retention would destroy what the law requires.
  if (c.audit_retention_years < 6) {
    return InvalidArgument(
        "config: 'audit.retention_years' must be at least 6 (HIPAA "
        "164.316(b)(2) retention); the default is 7");
  }
  if (c.audit_retention_years > 100) {
    return InvalidArgument("config: 'audit.retention_years' must be <= 100");
  }
  if (c.audit_checkpoint_every < 1 || c.audit_checkpoint_every > 1000000) {
    return InvalidArgument(
        "config: 'audit.checkpoint_every' must be 1..1000000");
  }
  if (c.break_glass_max_hours < 1 || c.break_glass_max_hours > 72) {
    return InvalidArgument(
        "config: 'admin.break_glass_max_hours' must be 1..72");
  }
  if (idle_s < 1 || idle_s > 3600) {
    return InvalidArgument("config: 'admin.idle_timeout_s' must be 1..3600");
  }
  if (session_s < 1 || session_s > 86400) {
    return InvalidArgument("config: 'admin.session_max_s' must be 1..86400");
  }
  c.admin_idle_timeout = std::chrono::seconds(idle_s);
  c.admin_session_max = std::chrono::seconds(session_s);
  return {};
}

// [privacy]: the mode, the per-round target and the period's budget.
Status ReadPrivacy(TableReader& top, CoordinatorConfig& c) {
  const toml::table empty;
  const toml::table* privacy = top.Table("privacy");
  TableReader p(privacy ? *privacy : empty, "privacy");
  PrivacyConfig& dp = c.privacy;
  CLS_TRY(p.Get("mode", dp.mode));
  CLS_TRY(p.Get("privacy_epsilon", dp.privacy_epsilon));
  CLS_TRY(p.Get("delta", dp.delta));
  CLS_TRY(p.Get("budget_epsilon", dp.budget_epsilon));
  CLS_TRY(p.Get("noise_multiplier", dp.noise_multiplier));
  CLS_TRY(p.CheckUnknown());
  if (dp.mode != "off" && dp.mode != "central" && dp.mode != "distributed") {
    return InvalidArgument(
        "config: 'privacy.mode' must be off, central or distributed");
  }
  if (!(dp.privacy_epsilon > 0) || !std::isfinite(dp.privacy_epsilon)) {
    return InvalidArgument(
        "config: 'privacy.privacy_epsilon' (the per-round target) must be "
        "positive");
  }
  if (!(dp.delta > 0 && dp.delta < 1)) {
    return InvalidArgument("config: 'privacy.delta' must be in (0, 1)");
  }
  if (!(dp.budget_epsilon > 0) || !std::isfinite(dp.budget_epsilon)) {
    return InvalidArgument("config: 'privacy.budget_epsilon' must be positive");
  }
  if (!(dp.noise_multiplier >= 0) || !std::isfinite(dp.noise_multiplier)) {
    return InvalidArgument(
        "config: 'privacy.noise_multiplier' must be >= 0 (0 = calibrate from "
        "privacy_epsilon)");
  }
  return {};
}

// [robust]: the rule across group sums, the group size and trust.
Status ReadRobust(TableReader& top, CoordinatorConfig& c) {
  const toml::table empty;
  const toml::table* robust = top.Table("robust");
  TableReader r(robust ? *robust : empty, "robust");
  RobustAggregationConfig& rc = c.robust;
  std::string rule(core::robust::RobustRuleName(rc.pipeline.rule.rule));
  CLS_TRY(r.Get("enabled", rc.enabled));
  CLS_TRY(r.Get("rule", rule));
  CLS_TRY(r.Get("group_size", rc.group_size));
  CLS_TRY(r.Get("secure_aggregation", rc.secure_aggregation));
  CLS_TRY(r.Get("trim_beta", rc.pipeline.rule.trim_beta));
  CLS_TRY(r.Get("krum_f", rc.pipeline.rule.krum_f));
  CLS_TRY(r.Get("trust_floor", rc.trust.floor));
  CLS_TRY(r.Get("trust_prior_strength", rc.trust.prior_strength));
  CLS_TRY(r.Get("trust_forgetting", rc.trust.forgetting));
  CLS_TRY(r.Get("anomaly_tolerance", rc.trust.tolerance));
  CLS_TRY(r.CheckUnknown());
  auto parsed = core::robust::ParseRobustRule(rule);
  if (!parsed) {
    return InvalidArgument(
        "config: 'robust.rule' must be mean, median, trimmed_mean, "
        "multi_krum, centered_clipping or geometric_median");
  }
  rc.pipeline.rule.rule = *parsed;
  if (rc.group_size < 2 || rc.group_size > 1000) {
    return InvalidArgument(
        "config: 'robust.group_size' must be 2..1000 (secure aggregation "
        "inside a group needs two sites)");
  }
  if (!rc.secure_aggregation && !rc.enabled) {
    // Turning secure aggregation off buys nothing without the per-site rule.
    return InvalidArgument(
        "config: 'robust.secure_aggregation' = false needs robust.enabled = "
        "true (it exists only to run the robust rule per site)");
  }
  if (!rc.secure_aggregation && c.privacy.mode == "distributed") {
    // Distributed noise assumes secure aggregation: each site adds only its
    // 1/n share, so a site's update seen alone is barely noised.
    return InvalidArgument(
        "config: 'robust.secure_aggregation' = false with privacy.mode = "
        "\"distributed\" is refused: distributed noise assumes secure "
        "aggregation (each update seen alone carries only its own 1/n noise "
        "share); use privacy.mode = \"central\"");
  }
  if (rc.enabled && c.privacy.mode == "distributed") {
    // Each group's sum would carry only its members' noise shares.
    return InvalidArgument(
        "config: [robust] enabled with privacy.mode = \"distributed\" is not "
        "supported; use privacy.mode = \"central\"");
  }
  if (!(rc.pipeline.rule.trim_beta >= 0 && rc.pipeline.rule.trim_beta < 0.5)) {
    return InvalidArgument("config: 'robust.trim_beta' must be in [0, 0.5)");
  }
  if (rc.pipeline.rule.krum_f < 0) {
    return InvalidArgument("config: 'robust.krum_f' must be >= 0");
  }
  if (auto s = core::robust::ValidateTrustConfig(rc.trust); !s) {
    return InvalidArgument("config: [robust] trust: " + s.error().message);
  }
  return {};
}

}  // namespace

Status ParseHostPort(const std::string& value, const std::string& what,
                     std::string& host, uint16_t& port) {
  auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == value.size()) {
    return InvalidArgument(what + ": expected HOST:PORT, got '" + value + "'");
  }
  int p = 0;
  try {
    size_t used = 0;
    p = std::stoi(value.substr(colon + 1), &used);
    if (used != value.size() - colon - 1) p = -1;
  } catch (...) {
    p = -1;
  }
  if (p < 1 || p > 65535) {
    return InvalidArgument(what + ": port must be 1-65535, got '" +
                           value.substr(colon + 1) + "'");
  }
  host = value.substr(0, colon);
  port = static_cast<uint16_t>(p);
  return {};
}

Result<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return NotFound("config: no such file " + path);
  toml::table root;
  try {
    root = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    return InvalidArgument("config: " + path + ":" +
                           std::to_string(e.source().begin.line) + ": " +
                           std::string(e.description()));
  }
  const fs::path base = fs::absolute(path).parent_path();
  CoordinatorConfig c;
  TableReader top(root, "");
  std::string listen = c.listen_host + ":" + std::to_string(c.listen_port);
  std::string admin = c.admin_host + ":" + std::to_string(c.admin_port);
  CLS_TRY(top.Get("coordinator_id", c.coordinator_id));
  CLS_TRY(top.Get("data_dir", c.data_dir));
  CLS_TRY(top.Get("listen", listen));
  CLS_TRY(top.Get("admin_listen", admin));
  CLS_TRY(top.Get("min_sites", c.min_sites));
  CLS_TRY(top.Get("max_site_connections", c.max_site_connections));
  CLS_TRY(top.Get("max_connections_per_site", c.max_connections_per_site));
  CLS_TRY(top.Get("log_level", c.log_level));
  CLS_TRY(
      ParseHostPort(listen, "config: 'listen'", c.listen_host, c.listen_port));
  CLS_TRY(ParseHostPort(admin, "config: 'admin_listen'", c.admin_host,
                        c.admin_port));
  c.data_dir = Resolve(base, c.data_dir);

  const toml::table empty;
  const toml::table* tls = top.Table("tls");
  if (tls == nullptr) return InvalidArgument("config: missing [tls] section");
  TableReader t(*tls, "tls");
  CLS_TRY(t.Get("ca", c.tls.ca_file));
  CLS_TRY(t.Get("cert", c.tls.cert_file));
  CLS_TRY(t.Get("key", c.tls.key_file));
  CLS_TRY(t.Get("crl", c.tls.crl_file));
  CLS_TRY(t.CheckUnknown());
  for (auto* f :
       {&c.tls.ca_file, &c.tls.cert_file, &c.tls.key_file, &c.tls.crl_file}) {
    *f = Resolve(base, *f);
  }
  if (c.tls.ca_file.empty() || c.tls.cert_file.empty() ||
      c.tls.key_file.empty()) {
    return InvalidArgument("config: [tls] needs ca, cert and key");
  }

  const toml::table* model = top.Table("model");
  TableReader m(model ? *model : empty, "model");
  CLS_TRY(m.Get("type", c.model_type));
  CLS_TRY(m.Get("kind", c.model_kind));
  CLS_TRY(m.Get("parameters", c.model_parameters));
  CLS_TRY(m.Get("standardisation", c.standardisation));
  CLS_TRY(m.CheckUnknown());

  const toml::table* round = top.Table("round");
  TableReader r(round ? *round : empty, "round");
  double stage_timeout_s = c.stage_timeout.count() / 1000.0;
  int64_t pause_ms = c.pause_between_rounds.count();
  int64_t complete_up_to = static_cast<int64_t>(c.complete_graph_up_to);
  CLS_TRY(r.Get("stage_timeout_s", stage_timeout_s));
  CLS_TRY(r.Get("clip", c.clip));
  CLS_TRY(r.Get("value_bits", c.value_bits));
  CLS_TRY(r.Get("server_learning_rate", c.server_learning_rate));
  CLS_TRY(r.Get("server_optimizer", c.server_optimizer));
  CLS_TRY(r.Get("complete_graph_up_to", complete_up_to));
  CLS_TRY(r.Get("pause_between_rounds_ms", pause_ms));
  CLS_TRY(r.CheckUnknown());
  c.stage_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(stage_timeout_s * 1000));
  c.pause_between_rounds = std::chrono::milliseconds(pause_ms);
  c.complete_graph_up_to =
      static_cast<size_t>(std::max<int64_t>(complete_up_to, 2));

  const toml::table* training = top.Table("training");
  TableReader tr(training ? *training : empty, "training");
  CLS_TRY(tr.Get("epochs", c.training.epochs));
  CLS_TRY(tr.Get("batch_size", c.training.batch_size));
  CLS_TRY(tr.Get("learning_rate", c.training.learning_rate));
  CLS_TRY(tr.Get("l2", c.training.l2));
  CLS_TRY(tr.Get("seed", c.training.seed));
  CLS_TRY(tr.Get("proximal_mu", c.training.proximal_mu));
  CLS_TRY(tr.CheckUnknown());
  CLS_TRY(ReadAuditAndAdmin(top, c));
  CLS_TRY(ReadPrivacy(top, c));
  CLS_TRY(ReadRobust(top, c));
  CLS_TRY(ReadVersions(top, base, c));
  CLS_TRY(top.CheckUnknown());

  // Values that cannot work.
  if (c.max_site_connections < 1 || c.max_site_connections > 100000) {
    return InvalidArgument("config: 'max_site_connections' must be 1..100000");
  }
  if (c.max_connections_per_site < 1 || c.max_connections_per_site > 1000) {
    return InvalidArgument(
        "config: 'max_connections_per_site' must be 1..1000");
  }
  if (c.max_connections_per_site > c.max_site_connections) {
    return InvalidArgument("config: 'max_connections_per_site' (" +
                           std::to_string(c.max_connections_per_site) +
                           ") must not exceed 'max_site_connections' (" +
                           std::to_string(c.max_site_connections) + ")");
  }
  if (c.min_sites < 2) {
    return InvalidArgument(
        "config: 'min_sites' must be at least 2 (secure aggregation needs "
        "two)");
  }
  if (std::find_if(std::begin(kModelTypes), std::end(kModelTypes),
                   [&](const char* t) { return c.model_type == t; }) ==
      std::end(kModelTypes)) {
    return InvalidArgument(
        "config: 'model.type' must be one of diagnosis_predictor, "
        "readmission_risk, medication_recommender, clinical_nlp, "
        "imaging_classifier");
  }
#if CLS_BENCH_HOOKS
  if (c.model_kind != "logistic_regression" &&
      c.model_kind != "benchmark_vector") {
    return InvalidArgument(
        "config: 'model.kind' must be logistic_regression or benchmark_vector");
  }
#else
  // Benchmark mode exists only in test and benchmark builds.
  if (c.model_kind != "logistic_regression") {
    return InvalidArgument(
        "config: 'model.kind' must be logistic_regression (this build has no "
        "benchmark mode)");
  }
#endif
  if (c.standardisation != "federation" && c.standardisation != "site") {
    return InvalidArgument(
        "config: 'model.standardisation' must be federation or site");
  }
  if (c.model_parameters < 1 || c.model_parameters > (int64_t{1} << 24)) {
    return InvalidArgument(
        "config: 'model.parameters' must be 1..16777216 "
        "(for logistic regression: the feature count + 1)");
  }
  if (!(c.stage_timeout.count() >= 100)) {
    return InvalidArgument(
        "config: 'round.stage_timeout_s' must be at least 0.1");
  }
  if (!(c.clip > 0) || !std::isfinite(c.clip)) {
    return InvalidArgument("config: 'round.clip' must be positive");
  }
  if (c.value_bits < 2 || c.value_bits > 24) {
    return InvalidArgument("config: 'round.value_bits' must be 2..24");
  }
  if (!core::ServerOptimizer::ParseKind(c.server_optimizer)) {
    return InvalidArgument(
        "config: 'round.server_optimizer' must be fedavg, fedavgm or fedadam");
  }
  if (!(c.training.proximal_mu >= 0 && c.training.proximal_mu <= 100)) {
    return InvalidArgument(
        "config: 'training.proximal_mu' must be in [0, 100] (0 = FedAvg)");
  }
  if (!(c.server_learning_rate > 0)) {
    return InvalidArgument(
        "config: 'round.server_learning_rate' must be positive");
  }
  if (c.training.epochs < 1 || c.training.batch_size < 1 ||
      !(c.training.learning_rate > 0) || c.training.l2 < 0) {
    return InvalidArgument(
        "config: [training] needs epochs >= 1, batch_size >= 1, "
        "learning_rate > 0, l2 >= 0");
  }
  static const std::set<std::string> kLevels = {"trace", "debug", "info",
                                                "warn", "error"};
  if (!kLevels.count(c.log_level)) {
    return InvalidArgument(
        "config: 'log_level' must be trace, debug, info, warn or error");
  }
  return c;
}

}  // namespace cls::coordinator
