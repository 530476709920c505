#ifndef CLS_COMMON_WORKER_POOL_H_
#define CLS_COMMON_WORKER_POOL_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <memory>
#include <string>
#include <type_traits>

#include "common/error.h"

namespace cls {

// Threads for CPU-heavy work (mask expansion and unmasking, robust
// aggregation, training, inbox learning), so that network I/O, protocol
// state and serving stay responsive on their own threads.
//
// The rule that keeps this simple: work never touches protocol state. It
// takes its inputs by value (or by shared_ptr to something immutable) and
// returns a Result; the result is delivered on the caller's executor
// ("home"), which owns the state. A work item that throws becomes an
// Internal error there, logged with what it was, so no failure is lost.
//
// Destroy the pool on its home thread. Completions that have not run yet
// are then dropped, never called into a destroyed owner.
class WorkerPool {
 public:
  // `threads` = 0: one per core.
  explicit WorkerPool(unsigned threads = 0);
  ~WorkerPool();

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `work()` on a worker thread, then `done(result)` on `home`.
  // `work` returns Result<T> or Status. `what` names the work in logs
  // ("round 12: unmask").
  template <typename Work, typename Done>
  void Run(boost::asio::any_io_executor home, std::string what, Work work,
           Done done);

  unsigned thread_count() const { return threads_; }

 private:
  template <typename R, typename Work>
  static R RunCatching(const std::string& what, Work& work);

  unsigned threads_;
  boost::asio::thread_pool pool_;
  // Cleared by the destructor (on the home thread): late completions see it
  // and are dropped.
  std::shared_ptr<std::atomic<bool>> alive_;
};

template <typename R, typename Work>
R WorkerPool::RunCatching(const std::string& what, Work& work) {
  try {
    return work();
  } catch (const std::exception& e) {
    return R(Internal(what + " failed: " + e.what()));
  } catch (...) {
    return R(Internal(what + " failed: unknown exception"));
  }
}

template <typename Work, typename Done>
void WorkerPool::Run(boost::asio::any_io_executor home, std::string what,
                     Work work, Done done) {
  using R = std::invoke_result_t<Work&>;
  boost::asio::post(pool_, [home = std::move(home), what = std::move(what),
                            work = std::move(work), done = std::move(done),
                            alive = alive_]() mutable {
    R result = RunCatching<R>(what, work);
    boost::asio::post(home, [done = std::move(done), result = std::move(result),
                             alive = std::move(alive)]() mutable {
      if (alive->load()) done(std::move(result));
    });
  });
}

}  // namespace cls

#endif  // CLS_COMMON_WORKER_POOL_H_
