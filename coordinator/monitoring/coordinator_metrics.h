#ifndef CLS_COORDINATOR_MONITORING_COORDINATOR_METRICS_H_
#define CLS_COORDINATOR_MONITORING_COORDINATOR_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/metrics.h"

namespace cls::coordinator {

// The federation's state as the monitoring port shows it, read on the io
// thread (coordinator/metrics_refresh.h) every few seconds.
struct FederationGauges {
  int sites_connected = 0;
  int sites_approved = 0;
  bool round_running = false;
  int queue_length = 0;
  double epsilon_spent = 0;
  double epsilon_budget = 0;
  double epsilon_remaining = 0;
  double trust_min = 1;  // 1 with no approved site
  int model_versions = 0;
  double rollout_percentage = 0;
};

// The coordinator's metrics (docs/deployment.md "Metrics" lists them), in
// `registry`, which must outlive this. The event methods are called on the
// io thread; every update is an atomic, read by the monitoring port's
// thread.
class CoordinatorMetrics {
 public:
  explicit CoordinatorMetrics(metrics::Registry& registry);

  // A secure-aggregation stage ended after `seconds` (advertise_keys ...
  // unmask; other names are ignored).
  void StageEnded(std::string_view stage, double seconds);
  // A round ended: "completed" or "aborted".
  void RoundEnded(std::string_view status);
  // One drift alert from a site's report (performance_drift, data_drift,
  // concept_drift; anything else counts as "other").
  void DriftAlert(std::string_view drift_type);
  // The coordinator's response to a drift report (record, notify,
  // rollback; docs/drift.md "Severity responses").
  void DriftResponseTaken(std::string_view response);
  // A [drift] notify_webhook POST delivered (2xx) or not.
  void DriftNotification(bool sent);
  void BytesReceived(uint64_t bytes) { bytes_received_.Increment(bytes); }
  void BytesSent(uint64_t bytes) { bytes_sent_.Increment(bytes); }
  void SetGauges(const FederationGauges& gauges);

 private:
  metrics::Registry& registry_;
  std::map<std::string, metrics::Histogram*, std::less<>> stage_seconds_;
  std::map<std::string, metrics::Counter*, std::less<>> rounds_;
  std::map<std::string, metrics::Counter*, std::less<>> drift_alerts_;
  std::map<std::string, metrics::Counter*, std::less<>> drift_responses_;
  metrics::Counter* notifications_sent_ = nullptr;
  metrics::Counter* notifications_failed_ = nullptr;
  metrics::Counter& bytes_received_;
  metrics::Counter& bytes_sent_;
  metrics::Gauge& sites_connected_;
  metrics::Gauge& sites_approved_;
  metrics::Gauge& round_running_;
  metrics::Gauge& queue_length_;
  metrics::Gauge& epsilon_spent_;
  metrics::Gauge& epsilon_budget_;
  metrics::Gauge& epsilon_remaining_;
  metrics::Gauge& trust_min_;
  metrics::Gauge& model_versions_;
  metrics::Gauge& rollout_percentage_;
};

// What /readyz checks: the database is open, TLS is loaded and the CRL has
// not expired. Set on the io thread, read on the monitoring port's thread.
class CoordinatorReadiness {
 public:
  void SetDatabaseOpen(bool open) { database_open_ = open; }
  void SetTlsLoaded(bool loaded) { tls_loaded_ = loaded; }
  // The CRL's nextUpdate (Unix seconds); 0 = the CRL has none.
  void SetCrlNextUpdate(int64_t unix_s) { crl_next_update_s_ = unix_s; }
  // "" when ready, else why not.
  std::string Reason(int64_t now_unix_s) const;

 private:
  std::atomic<bool> database_open_{false};
  std::atomic<bool> tls_loaded_{false};
  std::atomic<int64_t> crl_next_update_s_{0};
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_MONITORING_COORDINATOR_METRICS_H_
