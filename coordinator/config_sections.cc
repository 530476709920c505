// [federation], [deployment] and [drift] of the coordinator config
// (docs/operations.md "Configuration").

#include "coordinator/config_sections.h"

#include <charconv>
#include <cmath>
#include <string>

namespace cls::coordinator {

Result<WebhookUrl> ParseWebhookUrl(const std::string& url) {
  const std::string kScheme = "http://";
  const std::string kForm = " (expected http://host[:port][/path])";
  if (url.rfind(kScheme, 0) != 0) {
    return InvalidArgument("webhook URL must start with http://" + kForm);
  }
  std::string rest = url.substr(kScheme.size());
  WebhookUrl out;
  const size_t slash = rest.find('/');
  out.target = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string authority = rest.substr(0, slash);
  if (authority.find('@') != std::string::npos ||
      out.target.find('#') != std::string::npos) {
    return InvalidArgument(
        "webhook URL must not carry user info or a "
        "fragment" +
        kForm);
  }
  for (char c : out.target) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument(
          "webhook URL path has a space or control "
          "character" +
          kForm);
    }
  }
  out.port = "80";
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) {
      return InvalidArgument("webhook URL has an unclosed [IPv6]" + kForm);
    }
    out.host = authority.substr(1, close - 1);
    const std::string tail = authority.substr(close + 1);
    if (!tail.empty()) {
      if (tail[0] != ':') return InvalidArgument("webhook URL host" + kForm);
      out.port = tail.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':');
             colon != std::string::npos) {
    out.host = authority.substr(0, colon);
    out.port = authority.substr(colon + 1);
  } else {
    out.host = authority;
  }
  int port = 0;
  const auto [end, ec] =
      std::from_chars(out.port.data(), out.port.data() + out.port.size(), port);
  if (out.host.empty() || ec != std::errc() ||
      end != out.port.data() + out.port.size() || port < 1 || port > 65535) {
    return InvalidArgument("webhook URL needs a host and a port 1..65535" +
                           kForm);
  }
  return out;
}

namespace internal {

Result<TomlTable> Section(const TomlTable& parent, std::string_view key,
                          std::vector<std::string_view> keys) {
  static const toml::table kEmpty;
  auto table = parent.Table(key);
  if (!table) return std::unexpected(table.error());
  TomlTable section(*table ? **table : kEmpty, std::string(key),
                    std::move(keys), kStyle);
  if (auto s = section.CheckKeys(); !s) return std::unexpected(s.error());
  return section;
}

Status ReadFederation(const TomlTable& top, CoordinatorConfig& c) {
  auto f_or = Section(top, "federation", {"federated"});
  if (!f_or) return std::unexpected(f_or.error());
  CLS_RETURN_IF_ERROR(f_or->Read("federated", c.federated));
  if (c.federated) return {};
  // One hospital alone: a round of one site unless min_sites says more
  // (which CheckMinSites refuses).
  if (top.Node("min_sites") == nullptr) c.min_sites = 1;
  if (c.privacy.enabled()) {
    return InvalidArgument(
        "config: 'federation.federated' = false with privacy.mode = \"" +
        c.privacy.mode +
        "\": cross-site differential privacy needs a federation; set "
        "privacy.mode = \"off\" (a single site protects its own data)");
  }
  if (c.robust.enabled) {
    return InvalidArgument(
        "config: 'federation.federated' = false with [robust] enabled: there "
        "are no other sites to be robust against; set robust.enabled = false");
  }
  return {};
}

Status CheckMinSites(const CoordinatorConfig& c) {
  if (!c.federated) {
    if (c.min_sites != 1) {
      return InvalidArgument(
          "config: 'min_sites' must be 1 with federation.federated = false "
          "(one hospital trains alone)");
    }
    return {};
  }
  if (c.min_sites < 2) {
    return InvalidArgument(
        "config: 'min_sites' must be at least 2 (secure aggregation needs "
        "two); min_sites = 1 needs [federation] federated = false");
  }
  return {};
}

Status ReadDeployment(const TomlTable& top, CoordinatorConfig& c) {
  auto d_or = Section(top, "deployment",
                      {"rollback_max_severity", "rollback_when_worse", "alpha",
                       "tau", "min_outcomes_per_arm"});
  if (!d_or) return std::unexpected(d_or.error());
  const TomlTable& d = *d_or;
  DeploymentConfig& dc = c.deployment;
  CLS_RETURN_IF_ERROR(
      d.Read("rollback_max_severity", dc.rollback.max_severity));
  CLS_RETURN_IF_ERROR(
      d.Read("rollback_when_worse", dc.rollback.rollback_when_worse));
  CLS_RETURN_IF_ERROR(d.Read("alpha", dc.test.alpha));
  CLS_RETURN_IF_ERROR(d.Read("tau", dc.test.tau));
  CLS_RETURN_IF_ERROR(
      d.Read("min_outcomes_per_arm", dc.test.min_samples_per_arm));
  // Severity is in [0, 1]: 1 would never roll back on an alert.
  if (!(dc.rollback.max_severity > 0 && dc.rollback.max_severity < 1)) {
    return InvalidArgument(
        "config: 'deployment.rollback_max_severity' must be in (0, 1)");
  }
  if (!(dc.test.alpha > 0 && dc.test.alpha < 0.5)) {
    return InvalidArgument("config: 'deployment.alpha' must be in (0, 0.5)");
  }
  if (!(dc.test.tau > 0 && dc.test.tau <= 1)) {
    return InvalidArgument("config: 'deployment.tau' must be in (0, 1]");
  }
  if (dc.test.min_samples_per_arm < 1 ||
      dc.test.min_samples_per_arm > 10000000) {
    return InvalidArgument(
        "config: 'deployment.min_outcomes_per_arm' must be 1..10000000");
  }
  return {};
}

Status ReadDrift(const TomlTable& top, CoordinatorConfig& c) {
  auto d_or = Section(
      top, "drift",
      {"performance_threshold", "window_size", "baseline", "notify_webhook",
       "notify_severity", "retrain_on_drift", "webhook_timeout_ms"});
  if (!d_or) return std::unexpected(d_or.error());
  const TomlTable& d = *d_or;
  DriftConfig& dc = c.drift;
  // The sites' monitors.
  CLS_RETURN_IF_ERROR(
      d.Read("performance_threshold", dc.performance_threshold));
  if (!(dc.performance_threshold > 0 && dc.performance_threshold < 1)) {
    return InvalidArgument(
        "config: 'drift.performance_threshold' must be in (0, 1), e.g. 0.05 "
        "(alert when accuracy drops more than 5 points)");
  }
  CLS_ASSIGN_OR_RETURN(const auto window, d.Integer("window_size"));
  if (window && (*window < 10 || *window > 1'000'000)) {
    return InvalidArgument(
        "config: 'drift.window_size' must be in [10, 1000000] (predictions "
        "in the monitored window)");
  }
  if (window) dc.window_size = static_cast<int>(*window);
  if (const toml::node* b = d.Node("baseline")) {
    if (const auto* text = b->as_string()) {
      dc.baseline = text->get();
      if (dc.baseline != "validation") {
        return InvalidArgument(
            "config: 'drift.baseline' must be a number in [0, 1] or "
            "\"validation\" (the version's validation accuracy)");
      }
    } else if (auto v = b->value<double>(); v && b->is_number()) {
      if (!(*v >= 0 && *v <= 1)) {
        return InvalidArgument(
            "config: 'drift.baseline' must be a number in [0, 1] or "
            "\"validation\"");
      }
      dc.baseline = "fixed";
      dc.baseline_value = *v;
    } else {
      return InvalidArgument(
          "config: 'drift.baseline' must be a number in [0, 1] or "
          "\"validation\"");
    }
  }
  // The coordinator's responses to their alerts.
  CLS_RETURN_IF_ERROR(d.Read("notify_webhook", dc.notify_webhook));
  CLS_RETURN_IF_ERROR(d.Read("notify_severity", dc.notify_severity));
  CLS_RETURN_IF_ERROR(d.Read("retrain_on_drift", dc.retrain_on_drift));
  CLS_RETURN_IF_ERROR(d.Read("webhook_timeout_ms", dc.webhook_timeout_ms));
  if (!dc.notify_webhook.empty()) {
    if (auto url = ParseWebhookUrl(dc.notify_webhook); !url) {
      return InvalidArgument("config: 'drift.notify_webhook': " +
                             url.error().message);
    }
  }
  if (!(dc.notify_severity > 0 &&
        dc.notify_severity <= c.deployment.rollback.max_severity)) {
    return InvalidArgument(
        "config: 'drift.notify_severity' must be in (0, "
        "deployment.rollback_max_severity]");
  }
  if (dc.webhook_timeout_ms < 100 || dc.webhook_timeout_ms > 60000) {
    return InvalidArgument(
        "config: 'drift.webhook_timeout_ms' must be 100..60000");
  }
  return {};
}

}  // namespace internal
}  // namespace cls::coordinator
