#include "coordinator/stop.h"

#include <spdlog/spdlog.h>

namespace cls::coordinator {
namespace {

// How often a stopping coordinator looks whether its round has ended (an
// abort during a background unmask ends when the pool's result returns).
constexpr auto kPollInterval = std::chrono::milliseconds(20);

}  // namespace

GracefulStop::GracefulStop(boost::asio::io_context& io, Federation& federation,
                           std::function<void()> stopped,
                           std::chrono::milliseconds patience)
    : federation_(federation),
      stopped_(std::move(stopped)),
      patience_(patience),
      poll_(io) {}

void GracefulStop::Begin(int signal) {
  RoundScheduler& rounds = federation_.rounds();
  if (rounds.queued_rounds() > 0) {
    const int dropped = rounds.ClearQueue(kSystemActor);
    spdlog::warn("signal {}: {} queued round(s) will not run", signal, dropped);
  }
  auto current = rounds.CurrentRound();
  if (!current) {
    spdlog::info("signal {}: stopping; no round running", signal);
    StopNow(0);
    return;
  }
  const int64_t round_id = current->record.round_id;
  deadline_ = std::chrono::steady_clock::now() + patience_;
  if (rounds.finalizing()) {
    spdlog::info(
        "signal {}: round {} is finalizing; stopping once its result is "
        "committed",
        signal, round_id);
  } else if (auto aborted = rounds.AbortRound(kSystemActor,
                                              "coordinator stopping (signal " +
                                                  std::to_string(signal) + ")");
             aborted) {
    spdlog::warn(
        "signal {}: round {} aborted cleanly in stage {} (nothing committed "
        "or charged); stopping",
        signal, round_id, current->stage);
  } else {
    spdlog::warn("signal {}: round {}: {}", signal, round_id,
                 aborted.error().message);
  }
  WaitForRound(round_id);
}

void GracefulStop::WaitForRound(int64_t round_id) {
  if (done_) return;
  if (!federation_.rounds().CurrentRound()) {
    spdlog::info("round {} ended; stopping", round_id);
    StopNow(0);
    return;
  }
  if (std::chrono::steady_clock::now() >= deadline_) {
    spdlog::error(
        "round {} still running after {} s; stopping anyway (it is recorded "
        "aborted at the next start)",
        round_id, patience_.count() / 1000);
    StopNow(0);
    return;
  }
  poll_.expires_after(kPollInterval);
  poll_.async_wait([this, round_id](const boost::system::error_code& ec) {
    if (!ec) WaitForRound(round_id);
  });
}

void GracefulStop::StopNow(int signal) {
  if (done_) return;
  done_ = true;
  if (signal != 0) spdlog::info("signal {}: stopping now", signal);
  poll_.cancel();
  stopped_();
}

}  // namespace cls::coordinator
