#ifndef CLS_COORDINATOR_STOP_H_
#define CLS_COORDINATOR_STOP_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>

#include "coordinator/federation.h"

namespace cls::coordinator {

// What SIGTERM and SIGINT (systemctl stop) do, on the io thread, and what
// the log says about it:
//  - no round: "stopping: no round running".
//  - queued rounds are dropped (audited training_rounds_cleared).
//  - a round in a stage is aborted cleanly, as an operator's abort: the
//    sites are told, nothing is committed or charged, and the round is
//    recorded "aborted" with reason "coordinator stopping (signal N)"
//    instead of being found "running" at the next start.
//  - a round finalizing (its result being committed) is let finish: its
//    model version and privacy charge are committed before the stop.
// `stopped` runs once no round is left, or after `patience` (the round is
// then recorded aborted at the next start, as after a crash). A second
// signal stops at once (StopNow).
class GracefulStop {
 public:
  GracefulStop(boost::asio::io_context& io, Federation& federation,
               std::function<void()> stopped,
               std::chrono::milliseconds patience = std::chrono::seconds(30));

  void Begin(int signal);
  void StopNow(int signal);

 private:
  void WaitForRound(int64_t round_id);

  Federation& federation_;
  std::function<void()> stopped_;
  std::chrono::milliseconds patience_;
  boost::asio::steady_timer poll_;
  std::chrono::steady_clock::time_point deadline_;
  bool done_ = false;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_STOP_H_
