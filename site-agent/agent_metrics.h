#ifndef CLS_SITE_AGENT_AGENT_METRICS_H_
#define CLS_SITE_AGENT_AGENT_METRICS_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/metrics.h"
#include "site-agent/record_privacy.h"

namespace cls::site {

// The agent's own metrics on its monitoring port (metrics_listen), served
// whether or not it serves predictions; serving adds its families
// (cls_predictions_total, cls_outcomes_total, cls_accuracy,
// cls_drift_alerts_total, by version) beside them. Updated on the agent's
// io thread, read on the monitoring port's thread: atomics only.
class AgentMetrics {
 public:
  explicit AgentMetrics(metrics::Registry& registry);

  // Welcomed (and approved) by the coordinator, or the connection ended.
  void SetConnected(bool connected) { connected_.Set(connected ? 1 : 0); }
  // The coordinator's RoundResult ("completed") or RoundAborted
  // ("aborted").
  void RoundEnded(std::string_view outcome);
  // Inbox files learned by online learning.
  void OnlineUpdates(int files) { online_updates_.Increment(files); }
  // [privacy] dp_sgd: the site's record-level epsilon beside its budget.
  void SetRecordPrivacy(const RecordPrivacyStatus& s);

 private:
  metrics::Gauge& connected_;
  metrics::Counter& completed_;
  metrics::Counter& aborted_;
  metrics::Counter& online_updates_;
  metrics::Registry& registry_;
  metrics::Gauge* record_epsilon_ = nullptr;  // added with dp_sgd only
  metrics::Gauge* record_target_ = nullptr;
  metrics::Gauge* record_delta_ = nullptr;
  metrics::Gauge* record_refusals_ = nullptr;
  std::atomic<bool> record_added_{false};
};

// What the agent's /readyz checks: its configuration and data are loaded
// and the connection loop runs (connected or retrying), and its CRL has not
// expired.
class AgentReadiness {
 public:
  void SetRunning(bool running) { running_ = running; }
  // The CRL's nextUpdate (Unix seconds); 0 = no CRL or none given.
  void SetCrlNextUpdate(int64_t unix_s) { crl_next_update_s_ = unix_s; }
  std::string Reason(int64_t now_unix_s) const;

 private:
  std::atomic<bool> running_{false};
  std::atomic<int64_t> crl_next_update_s_{0};
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_AGENT_METRICS_H_
