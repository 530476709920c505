#ifndef CLS_SITE_AGENT_SITE_SERVING_H_
#define CLS_SITE_AGENT_SITE_SERVING_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/error.h"
#include "protocol/messages.h"
#include "site-agent/config.h"
#include "site-agent/prediction_server.h"
#include "site-agent/prediction_service.h"

namespace cls::site {

// The site's standardisation as the serving threads read it: an immutable
// Preprocessor, replaced whole when the round logic switches to
// federation-wide statistics, so a request standardises with the old or the
// new statistics, never a mix. Set from the agent's thread; standardiser()
// may be called from any thread.
class Standardisation {
 public:
  explicit Standardisation(core::Preprocessor initial);
  void Set(core::Preprocessor preprocessor);
  std::shared_ptr<const core::Preprocessor> current() const;
  // For PredictionService: holds this object by shared_ptr.
  static PredictionService::Standardiser Standardiser(
      std::shared_ptr<const Standardisation> standardisation);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const core::Preprocessor> current_;
};

// Everything the agent needs to serve predictions, behind a few calls:
//
//   auto serving = SiteServing::Create(config, standardiser,
//                                      LoadGlobalModel(...));  // start-up
//   serving->Start();                         // own io_context and threads
//   if (auto reply = serving->OnMessage(m))   // each coordinator message
//     send(*reply);                           //   (DeploymentAck)
//   serving->OnGlobalModel(model);            // after each RoundResult
//   if (auto report = serving->DueReport(now_s))  // offered every second
//     send(*report);                          //   (DriftReport)
//   serving->Stop();                          // before it is destroyed
//
// Threads: the HTTPS server runs on serving's own io_context with
// [serve] threads threads, never on the agent's protocol thread, so a
// request never waits for a training run. Each request reads the model
// through PredictionService, which swaps whole immutable ServingStates (a
// request sees the old or the new deployment, never a mix); the
// standardiser it is given must be safe to call from those threads (see
// Standardisation). OnMessage, OnGlobalModel and DueReport are called from
// the agent's thread; Start and Stop from the thread that owns this object.
class SiteServing {
 public:
  // Requires config.serve and config.data. Restores deployment.json from
  // data_dir, or serves `latest` by default. A corrupt deployment file is
  // logged and `latest` served instead (the coordinator re-sends the
  // deployment when the site reconnects).
  static Result<std::unique_ptr<SiteServing>> Create(
      const AgentConfig& config, PredictionService::Standardiser standardise,
      const std::optional<GlobalModel>& latest,
      std::shared_ptr<const drift::DataDriftDetector> input_reference =
          nullptr);

  // Listens on [serve] listen with the [serve] certificate and starts
  // [serve] threads threads that serve on it; returns the bound port.
  Result<uint16_t> Start();
  // Stops the threads, then destroys the server and its io_context, in that
  // order (the server's sockets belong to the io_context). Open connections
  // are closed. Idempotent; the destructor calls it.
  void Stop();
  ~SiteServing();

  // A DeploymentUpdate is installed and answered with a DeploymentAck;
  // every other message is not serving's business (nullopt).
  std::optional<protocol::Message> OnMessage(const protocol::Message& message);
  Status OnGlobalModel(const GlobalModel& model);
  // A DriftReport every report_interval_s (none while nothing was recorded
  // since the last one).
  std::optional<protocol::DriftReport> DueReport(int64_t now_s);

  PredictionService& service() { return *service_; }

 private:
  SiteServing(ServeConfig config, std::unique_ptr<PredictionService> service,
              TlsConfig tls, std::string site_id);

  ServeConfig config_;
  TlsConfig tls_;
  std::string site_id_;  // for [serve] allow_own_site_cert
  std::unique_ptr<PredictionService> service_;
  // Declared in destruction order's reverse: the server goes before its
  // io_context (Stop does this explicitly).
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<PredictionServer> server_;
  std::vector<std::thread> threads_;
  int64_t last_report_s_ = 0;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_SITE_SERVING_H_
