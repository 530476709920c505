#include "coordinator/monitoring/coordinator_metrics.h"

#include <ctime>

namespace cls::coordinator {
namespace {

// Stage durations: a stage takes milliseconds with fast sites and up to
// [round] stage_timeout_s (30 s by default; local training is in the
// first stage).
const std::vector<double> kStageBuckets = {
    0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600};
constexpr std::array<std::string_view, 5> kStages = {
    "advertise_keys", "share_keys", "masked_input", "consistency_check",
    "unmask"};
constexpr std::array<std::string_view, 2> kOutcomes = {"completed", "aborted"};
constexpr std::array<std::string_view, 4> kDriftTypes = {
    "performance_drift", "data_drift", "concept_drift", "other"};

std::string Iso8601(int64_t unix_s) {
  std::time_t t = unix_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

}  // namespace

CoordinatorMetrics::CoordinatorMetrics(metrics::Registry& registry)
    : registry_(registry),
      bytes_received_(registry.AddCounter(
          "cls_site_bytes_received_total",
          "Bytes of site-protocol frames received from the sites")),
      bytes_sent_(registry.AddCounter(
          "cls_site_bytes_sent_total",
          "Bytes of site-protocol frames sent to the sites")),
      sites_connected_(registry.AddGauge("cls_sites_connected",
                                         "Sites with a live connection")),
      sites_approved_(
          registry.AddGauge("cls_sites_approved",
                            "Sites approved by an operator (connected "
                            "or not; not revoked or quarantined)")),
      round_running_(registry.AddGauge("cls_round_running",
                                       "1 while a round runs or finalizes")),
      queue_length_(registry.AddGauge(
          "cls_round_queue_length",
          "Rounds queued by `round start --rounds N` still to start")),
      epsilon_spent_(registry.AddGauge(
          "cls_privacy_epsilon_spent",
          "Epsilon spent in the current privacy budget period")),
      epsilon_budget_(registry.AddGauge(
          "cls_privacy_epsilon_budget",
          "Epsilon budget of the current privacy budget period")),
      epsilon_remaining_(registry.AddGauge(
          "cls_privacy_epsilon_remaining",
          "Epsilon left in the current privacy budget period")),
      trust_min_(registry.AddGauge(
          "cls_site_trust_min",
          "Lowest trust score among approved and quarantined sites")),
      model_versions_(
          registry.AddGauge("cls_model_versions", "Stored model versions")),
      rollout_percentage_(registry.AddGauge(
          "cls_rollout_percentage",
          "Percentage of traffic on the candidate of a gradual rollout or "
          "A/B test (0 without one)")) {
  metrics::AddBuildInfo(registry);
  for (auto stage : kStages) {
    stage_seconds_[std::string(stage)] =
        &registry.AddHistogram("cls_round_stage_duration_seconds",
                               "Duration of each secure-aggregation stage",
                               kStageBuckets, {{"stage", std::string(stage)}});
  }
  for (auto outcome : kOutcomes) {
    rounds_[std::string(outcome)] =
        &registry.AddCounter("cls_rounds_total", "Rounds ended, by outcome",
                             {{"outcome", std::string(outcome)}});
  }
  for (auto type : kDriftTypes) {
    drift_alerts_[std::string(type)] = &registry.AddCounter(
        "cls_drift_alerts_total", "Drift alerts reported by the sites, by type",
        {{"type", std::string(type)}});
  }
  for (const char* response : {"record", "notify", "rollback"}) {
    drift_responses_[response] = &registry.AddCounter(
        "cls_drift_responses_total",
        "The coordinator's responses to drift reports, by response",
        {{"response", response}});
  }
  notifications_sent_ = &registry.AddCounter(
      "cls_drift_notifications_total",
      "Drift notifications POSTed to [drift] notify_webhook, by result",
      {{"result", "sent"}});
  notifications_failed_ = &registry.AddCounter(
      "cls_drift_notifications_total",
      "Drift notifications POSTed to [drift] notify_webhook, by result",
      {{"result", "failed"}});
}

void CoordinatorMetrics::DriftResponseTaken(std::string_view response) {
  if (auto it = drift_responses_.find(response); it != drift_responses_.end()) {
    it->second->Increment();
  }
}

void CoordinatorMetrics::DriftNotification(bool sent) {
  (sent ? notifications_sent_ : notifications_failed_)->Increment();
}

void CoordinatorMetrics::StageEnded(std::string_view stage, double seconds) {
  if (auto it = stage_seconds_.find(stage); it != stage_seconds_.end()) {
    it->second->Observe(seconds);
  }
}

void CoordinatorMetrics::RoundEnded(std::string_view status) {
  if (auto it = rounds_.find(status); it != rounds_.end()) {
    it->second->Increment();
  }
}

void CoordinatorMetrics::DriftAlert(std::string_view drift_type) {
  auto it = drift_alerts_.find(drift_type);
  if (it == drift_alerts_.end()) it = drift_alerts_.find("other");
  it->second->Increment();
}

void CoordinatorMetrics::SetGauges(const FederationGauges& g) {
  sites_connected_.Set(g.sites_connected);
  sites_approved_.Set(g.sites_approved);
  round_running_.Set(g.round_running ? 1 : 0);
  queue_length_.Set(g.queue_length);
  epsilon_spent_.Set(g.epsilon_spent);
  epsilon_budget_.Set(g.epsilon_budget);
  epsilon_remaining_.Set(g.epsilon_remaining);
  trust_min_.Set(g.trust_min);
  model_versions_.Set(g.model_versions);
  rollout_percentage_.Set(g.rollout_percentage);
}

std::string CoordinatorReadiness::Reason(int64_t now_unix_s) const {
  if (!database_open_) return "database not open";
  if (!tls_loaded_) return "TLS not loaded";
  const int64_t next = crl_next_update_s_;
  if (next != 0 && now_unix_s > next) {
    return "CRL expired at " + Iso8601(next) +
           ": regenerate it with 'cls-pki crl' and reload (SIGHUP)";
  }
  return "";
}

}  // namespace cls::coordinator
