#include "coordinator/config.h"

#include "common/host_port.h"
#include "common/toml_reader.h"
#include "coordinator/config_sections.h"
#include "core/server_optimizer.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

namespace cls::coordinator {
namespace {

namespace fs = std::filesystem;

using internal::kStyle;
using internal::Section;

std::string Resolve(const fs::path& base, const std::string& p) {
  if (p.empty() || fs::path(p).is_absolute()) return p;
  return (base / p).lexically_normal().string();
}

// A HOST:PORT key ("[::1]:7443" for IPv6), when present.
Status ReadAddress(const TomlTable& top, std::string_view key,
                   std::string& host, uint16_t& port,
                   PortZero zero = PortZero::kRefused) {
  auto text = top.String(key);
  if (!text) return std::unexpected(text.error());
  if (!*text) return {};
  auto address = ParseHostPort(**text, zero);
  if (!address) {
    return InvalidArgument("config: " + top.Name(key) + ": " +
                           address.error().message);
  }
  host = address->host;
  port = address->port;
  return {};
}

// metrics_listen: IP:PORT (port 0: any free one, logged), or "" for no
// monitoring port.
Status ReadMetricsListen(const TomlTable& top, CoordinatorConfig& c) {
  auto text = top.String("metrics_listen");
  if (!text) return std::unexpected(text.error());
  if (*text && (*text)->empty()) {
    c.metrics_enabled = false;
    return {};
  }
  return ReadAddress(top, "metrics_listen", c.metrics_host, c.metrics_port,
                     PortZero::kAllowed);
}

// [versions]: where the model key-encryption key lives.
Status ReadVersions(const TomlTable& top, const fs::path& base,
                    CoordinatorConfig& c) {
  auto v_or = Section(top, "versions", {"kek_file"});
  if (!v_or) return std::unexpected(v_or.error());
  const TomlTable& v = *v_or;
  CLS_RETURN_IF_ERROR(v.Read("kek_file", c.versions.kek_file));
  c.versions.kek_file = c.versions.kek_file.empty()
                            ? (fs::path(c.data_dir) / "model.kek").string()
                            : Resolve(base, c.versions.kek_file);
  return {};
}

// True when `inner` is `outer` or below it, symlinks resolved as far as the
// paths exist.
bool Inside(const fs::path& inner, const fs::path& outer) {
  std::error_code ec;
  const fs::path a = fs::weakly_canonical(fs::absolute(inner), ec);
  const fs::path b = fs::weakly_canonical(fs::absolute(outer), ec);
  const fs::path rel = a.lexically_relative(b);
  return !rel.empty() && *rel.begin() != "..";
}

// [backup]: where the online copies go, how often, how many stay.
Status ReadBackup(const TomlTable& top, const fs::path& base,
                  CoordinatorConfig& c) {
  auto b_or = Section(top, "backup", {"dir", "interval_s", "keep"});
  if (!b_or) return std::unexpected(b_or.error());
  const TomlTable& b = *b_or;
  BackupConfig& bc = c.backup;
  CLS_RETURN_IF_ERROR(b.Read("dir", bc.dir));
  CLS_RETURN_IF_ERROR(b.Read("interval_s", bc.interval_s));
  CLS_RETURN_IF_ERROR(b.Read("keep", bc.keep));
  bc.dir = Resolve(base, bc.dir);
  if (bc.interval_s < 0 || bc.interval_s > 31 * 86400) {
    return InvalidArgument(
        "config: 'backup.interval_s' must be 0..2678400 (0 = only on "
        "demand)");
  }
  if (bc.keep < 1 || bc.keep > 10000) {
    return InvalidArgument("config: 'backup.keep' must be 1..10000");
  }
  if (!bc.enabled() && bc.interval_s > 0) {
    return InvalidArgument(
        "config: 'backup.interval_s' is set but 'backup.dir' is not");
  }
  // Destroying the state folder must not destroy its backups.
  if (bc.enabled() && Inside(bc.dir, c.data_dir)) {
    return InvalidArgument("config: 'backup.dir' (" + bc.dir +
                           ") must not be inside 'data_dir' (" + c.data_dir +
                           "): a lost state folder would take its backups "
                           "with it");
  }
  return {};
}

// [audit] and [admin]: retention, checkpoints, break-glass and logoff.
Status ReadAuditAndAdmin(const TomlTable& top, CoordinatorConfig& c) {
  auto a_or = Section(top, "audit", {"retention_years", "checkpoint_every"});
  if (!a_or) return std::unexpected(a_or.error());
  const TomlTable& a = *a_or;
  CLS_RETURN_IF_ERROR(a.Read("retention_years", c.audit_retention_years));
  CLS_RETURN_IF_ERROR(a.Read("checkpoint_every", c.audit_checkpoint_every));
  auto ad_or =
      Section(top, "admin",
              {"break_glass_max_hours", "idle_timeout_s", "session_max_s"});
  if (!ad_or) return std::unexpected(ad_or.error());
  const TomlTable& ad = *ad_or;
  int64_t idle_s = c.admin_idle_timeout.count();
  int64_t session_s = c.admin_session_max.count();
  CLS_RETURN_IF_ERROR(
      ad.Read("break_glass_max_hours", c.break_glass_max_hours));
  CLS_RETURN_IF_ERROR(ad.Read("idle_timeout_s", idle_s));
  CLS_RETURN_IF_ERROR(ad.Read("session_max_s", session_s));
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
Status ReadPrivacy(const TomlTable& top, CoordinatorConfig& c) {
  auto p_or = Section(top, "privacy",
                      {"mode", "privacy_epsilon", "delta", "budget_epsilon",
                       "noise_multiplier"});
  if (!p_or) return std::unexpected(p_or.error());
  const TomlTable& p = *p_or;
  PrivacyConfig& dp = c.privacy;
  CLS_RETURN_IF_ERROR(p.Read("mode", dp.mode));
  CLS_RETURN_IF_ERROR(p.Read("privacy_epsilon", dp.privacy_epsilon));
  CLS_RETURN_IF_ERROR(p.Read("delta", dp.delta));
  CLS_RETURN_IF_ERROR(p.Read("budget_epsilon", dp.budget_epsilon));
  CLS_RETURN_IF_ERROR(p.Read("noise_multiplier", dp.noise_multiplier));
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
Status ReadRobust(const TomlTable& top, CoordinatorConfig& c) {
  auto r_or =
      Section(top, "robust",
              {"enabled", "rule", "group_size", "secure_aggregation",
               "trim_beta", "krum_f", "trust_floor", "trust_prior_strength",
               "trust_forgetting", "anomaly_tolerance"});
  if (!r_or) return std::unexpected(r_or.error());
  const TomlTable& r = *r_or;
  RobustAggregationConfig& rc = c.robust;
  std::string rule(core::robust::RobustRuleName(rc.pipeline.rule.rule));
  CLS_RETURN_IF_ERROR(r.Read("enabled", rc.enabled));
  CLS_RETURN_IF_ERROR(r.Read("rule", rule));
  CLS_RETURN_IF_ERROR(r.Read("group_size", rc.group_size));
  CLS_RETURN_IF_ERROR(r.Read("secure_aggregation", rc.secure_aggregation));
  CLS_RETURN_IF_ERROR(r.Read("trim_beta", rc.pipeline.rule.trim_beta));
  CLS_RETURN_IF_ERROR(r.Read("krum_f", rc.pipeline.rule.krum_f));
  CLS_RETURN_IF_ERROR(r.Read("trust_floor", rc.trust.floor));
  CLS_RETURN_IF_ERROR(r.Read("trust_prior_strength", rc.trust.prior_strength));
  CLS_RETURN_IF_ERROR(r.Read("trust_forgetting", rc.trust.forgetting));
  CLS_RETURN_IF_ERROR(r.Read("anomaly_tolerance", rc.trust.tolerance));
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

// [model] features, classes, hidden_layers and activation into
// c.model_spec (kind checked later, with the rest).
Status ReadModelSpec(const TomlTable& m, CoordinatorConfig& c) {
  core::ModelSpec& spec = c.model_spec;
  int64_t features = 0;
  int64_t classes = 2;
  CLS_RETURN_IF_ERROR(m.Read("features", features));
  CLS_RETURN_IF_ERROR(m.Read("classes", classes));
  CLS_RETURN_IF_ERROR(m.Read("activation", spec.activation));
  if (features < 0 || features > 1000000 || classes < 2 || classes > 1000) {
    return InvalidArgument(
        "config: 'model.features' must be 1..1000000 and 'model.classes' "
        "2..1000");
  }
  spec.num_features = static_cast<int>(features);
  spec.num_classes = static_cast<int>(classes);
  if (const toml::node* hidden = m.Node("hidden_layers")) {
    const toml::array* array = hidden->as_array();
    if (!array) {
      return m.WrongType(*hidden, "hidden_layers",
                         "an array of layer widths, e.g. [32]");
    }
    for (const toml::node& width : *array) {
      if (!width.is_integer()) {
        return m.WrongType(*hidden, "hidden_layers",
                           "an array of layer widths, e.g. [32]");
      }
      const int64_t w = *width.value<int64_t>();
      if (w < 1 || w > 4096) {
        return InvalidArgument(
            "config: 'model.hidden_layers' widths must be 1..4096");
      }
      spec.hidden.push_back(static_cast<int>(w));
    }
  }
  return {};
}

// The kind must be one the sites build; its spec must be whole, and fixes
// the parameter count.
Status CheckModelKind(CoordinatorConfig& c) {
#if CLS_BENCH_HOOKS
  // Benchmark mode exists only in test and benchmark builds.
  if (c.model_kind == "benchmark_vector") return {};
  constexpr std::string_view kKnown =
      "logistic_regression, softmax_regression, mlp or benchmark_vector";
#else
  constexpr std::string_view kKnown =
      "logistic_regression, softmax_regression or mlp (this build has no "
      "benchmark mode)";
#endif
  auto kind = core::ParseModelKind(c.model_kind);
  if (!kind) {
    return InvalidArgument("config: 'model.kind' must be " +
                           std::string(kKnown) + ", got '" + c.model_kind +
                           "'");
  }
  core::ModelSpec& spec = c.model_spec;
  spec.kind = *kind;
  if (spec.num_features == 0) {
    if (*kind != core::ModelKind::kLogisticRegression) {
      return InvalidArgument("config: 'model.kind' " + c.model_kind +
                             " needs 'model.features' (the sites' input "
                             "width) and 'model.classes'");
    }
    // Logistic regression as before: the count alone ([model] parameters).
    if (spec.num_classes != 2 || !spec.hidden.empty()) {
      return InvalidArgument(
          "config: 'model.classes' and 'model.hidden_layers' need "
          "'model.features'");
    }
    return {};
  }
  if (*kind != core::ModelKind::kMlp && !spec.hidden.empty()) {
    return InvalidArgument(
        "config: 'model.hidden_layers' is for kind = \"mlp\" only");
  }
  if (auto s = spec.Validate(); !s) {
    return InvalidArgument("config: " + s.error().message);
  }
  const auto count = static_cast<int64_t>(spec.NumParameters());
  if (c.model_parameters != 0 && c.model_parameters != count) {
    return InvalidArgument("config: 'model.parameters' is " +
                           std::to_string(c.model_parameters) + " but " +
                           spec.ToString() + " has " + std::to_string(count));
  }
  c.model_parameters = count;
  return {};
}

}  // namespace

Result<CoordinatorConfig> LoadCoordinatorConfig(const std::string& path) {
  auto text = ReadConfigFile(path);
  if (!text) return std::unexpected(text.error());
  auto parsed = ParseToml(*text, path);
  if (!parsed) return InvalidArgument("config: " + parsed.error().message);
  const toml::table& root = *parsed;
  const fs::path base = fs::absolute(path).parent_path();
  CoordinatorConfig c;
  const TomlTable top(root, "",
                      {"coordinator_id",
                       "data_dir",
                       "listen",
                       "admin_listen",
                       "metrics_listen",
                       "min_sites",
                       "max_site_connections",
                       "max_connections_per_site",
                       "log_level",
                       kLogSettingKeys[0],
                       kLogSettingKeys[1],
                       kLogSettingKeys[2],
                       kLogSettingKeys[3],
                       "tls",
                       "model",
                       "round",
                       "training",
                       "audit",
                       "admin",
                       "privacy",
                       "robust",
                       "versions",
                       "backup",
                       "federation",
                       "deployment",
                       "drift"},
                      kStyle);
  CLS_RETURN_IF_ERROR(top.CheckKeys());
  CLS_RETURN_IF_ERROR(top.Read("coordinator_id", c.coordinator_id));
  CLS_RETURN_IF_ERROR(top.Read("data_dir", c.data_dir));
  CLS_RETURN_IF_ERROR(ReadAddress(top, "listen", c.listen_host, c.listen_port));
  CLS_RETURN_IF_ERROR(
      ReadAddress(top, "admin_listen", c.admin_host, c.admin_port));
  CLS_RETURN_IF_ERROR(ReadMetricsListen(top, c));
  CLS_RETURN_IF_ERROR(top.Read("min_sites", c.min_sites));
  CLS_RETURN_IF_ERROR(top.Read("max_site_connections", c.max_site_connections));
  CLS_RETURN_IF_ERROR(
      top.Read("max_connections_per_site", c.max_connections_per_site));
  CLS_RETURN_IF_ERROR(top.Read("log_level", c.log_level));
  CLS_RETURN_IF_ERROR(ReadLogSettings(top, base, c.log));
  c.data_dir = Resolve(base, c.data_dir);

  auto tls_table = top.Table("tls");
  if (!tls_table) return std::unexpected(tls_table.error());
  if (*tls_table == nullptr) {
    return InvalidArgument("config: missing [tls] section");
  }
  const TomlTable t(**tls_table, "tls", {"ca", "cert", "key", "crl"}, kStyle);
  CLS_RETURN_IF_ERROR(t.CheckKeys());
  CLS_RETURN_IF_ERROR(t.Read("ca", c.tls.ca_file));
  CLS_RETURN_IF_ERROR(t.Read("cert", c.tls.cert_file));
  CLS_RETURN_IF_ERROR(t.Read("key", c.tls.key_file));
  CLS_RETURN_IF_ERROR(t.Read("crl", c.tls.crl_file));
  for (auto* f :
       {&c.tls.ca_file, &c.tls.cert_file, &c.tls.key_file, &c.tls.crl_file}) {
    *f = Resolve(base, *f);
  }
  if (c.tls.ca_file.empty() || c.tls.cert_file.empty() ||
      c.tls.key_file.empty()) {
    return InvalidArgument("config: [tls] needs ca, cert and key");
  }

  auto m_or = Section(top, "model",
                      {"type", "kind", "parameters", "standardisation",
                       "features", "classes", "hidden_layers", "activation"});
  if (!m_or) return std::unexpected(m_or.error());
  const TomlTable& m = *m_or;
  CLS_RETURN_IF_ERROR(m.Read("type", c.model_type));
  CLS_RETURN_IF_ERROR(m.Read("kind", c.model_kind));
  CLS_RETURN_IF_ERROR(m.Read("parameters", c.model_parameters));
  CLS_RETURN_IF_ERROR(m.Read("standardisation", c.standardisation));
  CLS_RETURN_IF_ERROR(ReadModelSpec(m, c));

  auto r_or = Section(
      top, "round",
      {"stage_timeout_s", "clip", "value_bits", "server_learning_rate",
       "server_optimizer", "complete_graph_up_to", "pause_between_rounds_ms"});
  if (!r_or) return std::unexpected(r_or.error());
  const TomlTable& r = *r_or;
  double stage_timeout_s = c.stage_timeout.count() / 1000.0;
  int64_t pause_ms = c.pause_between_rounds.count();
  int64_t complete_up_to = static_cast<int64_t>(c.complete_graph_up_to);
  CLS_RETURN_IF_ERROR(r.Read("stage_timeout_s", stage_timeout_s));
  CLS_RETURN_IF_ERROR(r.Read("clip", c.clip));
  CLS_RETURN_IF_ERROR(r.Read("value_bits", c.value_bits));
  CLS_RETURN_IF_ERROR(r.Read("server_learning_rate", c.server_learning_rate));
  CLS_RETURN_IF_ERROR(r.Read("server_optimizer", c.server_optimizer));
  CLS_RETURN_IF_ERROR(r.Read("complete_graph_up_to", complete_up_to));
  CLS_RETURN_IF_ERROR(r.Read("pause_between_rounds_ms", pause_ms));
  c.stage_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(stage_timeout_s * 1000));
  c.pause_between_rounds = std::chrono::milliseconds(pause_ms);
  c.complete_graph_up_to =
      static_cast<size_t>(std::max<int64_t>(complete_up_to, 2));

  auto tr_or = Section(
      top, "training",
      {"epochs", "batch_size", "learning_rate", "l2", "seed", "proximal_mu"});
  if (!tr_or) return std::unexpected(tr_or.error());
  const TomlTable& tr = *tr_or;
  CLS_RETURN_IF_ERROR(tr.Read("epochs", c.training.epochs));
  CLS_RETURN_IF_ERROR(tr.Read("batch_size", c.training.batch_size));
  CLS_RETURN_IF_ERROR(tr.Read("learning_rate", c.training.learning_rate));
  CLS_RETURN_IF_ERROR(tr.Read("l2", c.training.l2));
  CLS_RETURN_IF_ERROR(tr.Read("seed", c.training.seed));
  CLS_RETURN_IF_ERROR(tr.Read("proximal_mu", c.training.proximal_mu));
  CLS_RETURN_IF_ERROR(ReadAuditAndAdmin(top, c));
  CLS_RETURN_IF_ERROR(ReadPrivacy(top, c));
  CLS_RETURN_IF_ERROR(ReadRobust(top, c));
  CLS_RETURN_IF_ERROR(ReadVersions(top, base, c));
  CLS_RETURN_IF_ERROR(ReadBackup(top, base, c));
  CLS_RETURN_IF_ERROR(internal::ReadFederation(top, c));
  CLS_RETURN_IF_ERROR(internal::ReadDeployment(top, c));
  CLS_RETURN_IF_ERROR(internal::ReadDrift(top, c));

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
  if (auto s = internal::CheckMinSites(c); !s)
    return std::unexpected(s.error());
  if (std::find_if(std::begin(kModelTypes), std::end(kModelTypes),
                   [&](const char* t) { return c.model_type == t; }) ==
      std::end(kModelTypes)) {
    return InvalidArgument(
        "config: 'model.type' must be one of diagnosis_predictor, "
        "readmission_risk, medication_recommender, clinical_nlp, "
        "imaging_classifier");
  }
  CLS_RETURN_IF_ERROR(CheckModelKind(c));
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
