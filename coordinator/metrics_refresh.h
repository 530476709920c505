#ifndef CLS_COORDINATOR_METRICS_REFRESH_H_
#define CLS_COORDINATOR_METRICS_REFRESH_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>

#include "coordinator/federation.h"
#include "coordinator/monitoring/coordinator_metrics.h"

namespace cls::coordinator {

// The federation's gauges now (sites, round, queue, privacy, trust,
// versions, rollout). On the io thread: it reads the services.
FederationGauges ReadFederationGauges(Federation& federation);

// Copies ReadFederationGauges into the metrics every `interval`, on the io
// thread, so a scrape on the monitoring thread never touches the services.
// Prometheus scrapes every 15-60 s; 2 s keeps the gauges fresher than any
// scrape for a few cheap queries.
class MetricsRefresh {
 public:
  MetricsRefresh(boost::asio::io_context& io, Federation& federation,
                 CoordinatorMetrics& metrics,
                 std::chrono::milliseconds interval = std::chrono::seconds(2));
  // Refreshes now, then every interval until destroyed or the io_context
  // stops.
  void Start();

 private:
  void Tick();

  Federation& federation_;
  CoordinatorMetrics& metrics_;
  std::chrono::milliseconds interval_;
  boost::asio::steady_timer timer_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_METRICS_REFRESH_H_
