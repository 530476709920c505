#ifndef CLS_SITE_AGENT_SITE_SERVING_H_
#define CLS_SITE_AGENT_SITE_SERVING_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>

#include "common/error.h"
#include "protocol/messages.h"
#include "site-agent/config.h"
#include "site-agent/prediction_server.h"
#include "site-agent/prediction_service.h"

namespace cls::site {

// Everything the agent needs to serve predictions, behind four calls, so
// wiring it into the daemon is a few lines:
//
//   auto serving = SiteServing::Create(config, schema,
//       [&](const core::RawTable& t) { return local_model.Features(t); },
//       LoadGlobalModel(...));                       // at start-up
//   serving->Start(io);                               // on the agent's
//   io_context if (auto reply = serving->OnMessage(message))     // every
//   coordinator message
//     send(*reply);                                   //   (DeploymentAck)
//   serving->OnGlobalModel(model);                    // after each RoundResult
//   if (auto report = serving->DueReport(now_s))      // from
//   AgentOptions::periodic
//     send(*report);                                  //   (DriftReport)
//
// Owns the PredictionService and, once started, the PredictionServer. Not
// thread-safe beyond what PredictionService guarantees: call from the
// agent's io_context thread.
class SiteServing {
 public:
  // Requires config.serve and config.data. Restores deployment.json from
  // data_dir, or serves `latest` by default. A corrupt deployment file is
  // logged and `latest` served instead (the coordinator re-sends the
  // deployment when the site reconnects).
  static Result<std::unique_ptr<SiteServing>> Create(
      const AgentConfig& config, PredictionService::Standardiser standardise,
      const std::optional<GlobalModel>& latest);

  // Listens on [serve] listen with the [serve] certificate.
  Result<uint16_t> Start(boost::asio::io_context& io);
  // Stops accepting and destroys the server. Call it before the io_context
  // given to Start is destroyed: the server's acceptor belongs to that
  // io_context (RunAgent does, through AgentOptions::on_stop).
  void Stop();

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
  std::unique_ptr<PredictionServer> server_;
  int64_t last_report_s_ = 0;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_SITE_SERVING_H_
