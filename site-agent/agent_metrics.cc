#include "site-agent/agent_metrics.h"

namespace cls::site {

AgentMetrics::AgentMetrics(metrics::Registry& registry)
    : connected_(registry.AddGauge(
          "cls_agent_connected",
          "1 while the agent is connected to the coordinator and approved")),
      completed_(registry.AddCounter(
          "cls_agent_rounds_total",
          "Rounds the coordinator reported to this site as ended, by outcome",
          {{"outcome", "completed"}})),
      aborted_(registry.AddCounter(
          "cls_agent_rounds_total",
          "Rounds the coordinator reported to this site as ended, by outcome",
          {{"outcome", "aborted"}})),
      online_updates_(registry.AddCounter(
          "cls_agent_online_updates_total",
          "Inbox files of new cases learned by online learning")) {
  metrics::AddBuildInfo(registry);
}

void AgentMetrics::RoundEnded(std::string_view outcome) {
  (outcome == "completed" ? completed_ : aborted_).Increment();
}

std::string AgentReadiness::Reason(int64_t now_unix_s) const {
  if (!running_) return "starting: configuration and data not loaded yet";
  const int64_t next = crl_next_update_s_;
  if (next != 0 && now_unix_s > next) {
    return "the CRL has expired: ask the consortium for a new ca-crl.pem, "
           "then reload (SIGHUP)";
  }
  return "";
}

}  // namespace cls::site
