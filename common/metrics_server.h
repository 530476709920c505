#ifndef CLS_COMMON_METRICS_SERVER_H_
#define CLS_COMMON_METRICS_SERVER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <cstdint>
#include <functional>
#include <string>

#include "common/error.h"
#include "common/listener.h"
#include "common/metrics.h"

namespace cls::metrics {

// Why the process is not ready ("" = ready). Called on the server's thread:
// read only atomics or other thread-safe state.
using ReadinessCheck = std::function<std::string()>;
// More families in the text format, appended to the registry's on each
// scrape (a site agent's serving metrics). Called on the server's thread.
using ExtraExposition = std::function<std::string()>;

// The unauthenticated monitoring port (plain HTTP/1.1, GET only):
//   /metrics  the registry in Prometheus' text format 0.0.4
//   /healthz  200 {"status":"ok"}: the process is up and its thread answers
//   /readyz   200 {"status":"ready"}, or 503 {"status":"not_ready","reason"}
// It says nothing a scrape could use against a patient or a site's
// certificate, which is why it needs no TLS; it listens on loopback unless
// configured otherwise (metrics_listen).
// Runs on its own thread, so a scrape or a probe is answered however busy
// the daemon's io thread is.
class MetricsServer {
 public:
  MetricsServer(const Registry& registry, ReadinessCheck ready,
                ExtraExposition extra = nullptr);
  // Stop().
  ~MetricsServer();

  // Binds (`what` names the config key in errors), then starts the thread;
  // returns the bound port.
  Result<uint16_t> Listen(const std::string& host, uint16_t port,
                          const std::string& what);
  // Stops the thread and closes the listener and connections. Idempotent.
  void Stop();

 private:
  const Registry& registry_;
  ReadinessCheck ready_;
  ExtraExposition extra_;
  ListenerThread listener_;
};

}  // namespace cls::metrics

#endif  // CLS_COMMON_METRICS_SERVER_H_
