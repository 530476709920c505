#ifndef CLS_SITE_AGENT_MODEL_LANE_H_
#define CLS_SITE_AGENT_MODEL_LANE_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>
#include <type_traits>

#include "common/worker_pool.h"

namespace cls::site {

// The site's heavy model work (a round's local training, inbox learning) on
// one worker thread (cls::WorkerPool), one job at a time, with results
// delivered back on the agent's io thread.
//
// Ownership rule: the LocalModel and the online learner are touched either
// by the one running job or, on the io thread, only while no job runs. The
// io thread keeps it by awaiting Idle() before it touches them, then
// starting a job with Run() with no co_await in between (io-thread code
// between two co_awaits runs without interruption). Jobs take everything
// else by value.
//
// Lives on, and is used from, the io thread only. Destroy it before the
// io_context: its destructor waits for a running job to end and drops its
// completion.
class ModelLane {
 public:
  explicit ModelLane(boost::asio::any_io_executor io)
      : io_(io),
        idle_(io, std::chrono::steady_clock::time_point::max()),
        pool_(1) {}

  bool busy() const { return busy_; }

  // Resumes once no job runs.
  boost::asio::awaitable<void> Idle() {
    while (busy_) {
      boost::system::error_code ignored;
      co_await idle_.async_wait(
          boost::asio::redirect_error(boost::asio::use_awaitable, ignored));
    }
  }

  // Starts `work` (returning Result<T> or Status) on the worker and resumes
  // with its result on the io thread. Precondition: !busy() (await Idle()
  // first); the lane is busy from this call on, so no other io-thread code
  // can touch the model before the job has ended.
  template <typename Work>
  boost::asio::awaitable<std::invoke_result_t<Work&>> Run(std::string what,
                                                          Work work) {
    using R = std::invoke_result_t<Work&>;
    busy_ = true;
    return Await<R>(std::move(what), std::move(work));
  }

  // For callers outside a coroutine: starts `work` unless a job runs (then
  // false, nothing started); `done(result)` runs on the io thread.
  template <typename Work, typename Done>
  bool TryRun(std::string what, Work work, Done done) {
    if (busy_) return false;
    busy_ = true;
    pool_.Run(io_, std::move(what), std::move(work),
              [this, done = std::move(done)](auto result) mutable {
                Finished();
                done(std::move(result));
              });
    return true;
  }

 private:
  template <typename R, typename Work>
  boost::asio::awaitable<R> Await(std::string what, Work work) {
    R result = co_await boost::asio::async_initiate<
        const boost::asio::use_awaitable_t<>, void(R)>(
        [this, &what, &work](auto handler) {
          pool_.Run(io_, std::move(what), std::move(work),
                    [handler = std::move(handler)](R r) mutable {
                      std::move(handler)(std::move(r));
                    });
        },
        boost::asio::use_awaitable);
    Finished();
    co_return result;
  }

  void Finished() {
    busy_ = false;
    idle_.cancel();  // wakes every Idle()
  }

  boost::asio::any_io_executor io_;
  boost::asio::steady_timer idle_;
  bool busy_ = false;
  // Last member: destroyed first, so a job still running ends (and its
  // completion is dropped) before the timer goes.
  WorkerPool pool_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_MODEL_LANE_H_
