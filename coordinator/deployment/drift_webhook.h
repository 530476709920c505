#ifndef CLS_COORDINATOR_DEPLOYMENT_DRIFT_WEBHOOK_H_
#define CLS_COORDINATOR_DEPLOYMENT_DRIFT_WEBHOOK_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "coordinator/config.h"

namespace cls::coordinator {

// POSTs JSON to the [drift] notify_webhook (docs/drift.md "Severity
// responses"): asynchronous on the io thread, each request bounded by
// `timeout` from resolve to response, so a slow or dead receiver never
// holds a round or a drift report. `done` runs on the io thread: OK for a
// 2xx answer, else why not. At most kMaxInFlight requests at once; more
// fail at once ("busy").
class DriftWebhook {
 public:
  using Done = std::function<void(Status)>;
  static constexpr int kMaxInFlight = 4;

  DriftWebhook(boost::asio::io_context& io, WebhookUrl url,
               std::chrono::milliseconds timeout)
      : io_(io),
        url_(std::move(url)),
        timeout_(timeout),
        in_flight_(std::make_shared<int>(0)) {}

  void Post(std::string json_body, Done done);

 private:
  boost::asio::io_context& io_;
  WebhookUrl url_;
  std::chrono::milliseconds timeout_;
  std::shared_ptr<int> in_flight_;  // shared with the requests
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_DEPLOYMENT_DRIFT_WEBHOOK_H_
