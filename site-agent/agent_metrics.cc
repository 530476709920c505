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
          "Inbox files of new cases learned by online learning")),
      registry_(registry) {
  metrics::AddBuildInfo(registry);
}

void AgentMetrics::SetRecordPrivacy(const RecordPrivacyStatus& s) {
  // Registered on first use (main thread, before the monitoring port
  // starts), so sites without DP-SGD show no record-level family.
  if (!record_added_.exchange(true)) {
    record_epsilon_ = &registry_.AddGauge(
        "cls_site_record_epsilon",
        "Record-level (patient-level) epsilon this site's DP-SGD training has "
        "spent, at cls_site_record_delta, over rounds and online updates");
    record_target_ = &registry_.AddGauge(
        "cls_site_record_target_epsilon",
        "The site's record-level budget ([privacy] target_epsilon)");
    record_delta_ = &registry_.AddGauge("cls_site_record_delta",
                                        "The delta of cls_site_record_epsilon");
    record_refusals_ = &registry_.AddGauge(
        "cls_site_record_refusals",
        "Trainings this site refused because they would exceed its budget");
  }
  record_epsilon_->Set(s.epsilon);
  record_target_->Set(s.target_epsilon);
  record_delta_->Set(s.delta);
  record_refusals_->Set(static_cast<double>(s.refusals));
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
