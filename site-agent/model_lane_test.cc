#include "site-agent/model_lane.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "common/log_completion.h"

namespace cls::site {
namespace {

namespace asio = boost::asio;

// A job blocks the model worker (a stand-in for a long training run); the
// io thread meanwhile keeps running its timers, a second job is refused,
// and the result comes back on the io thread once the job is released.
TEST(ModelLaneTest, AJobRunsOffTheIoThreadAndItsResultComesBackThere) {
  asio::io_context io;
  ModelLane lane(io.get_executor());
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::thread::id io_thread, job_thread, result_thread;
  int result = 0;
  int ticks_while_busy = 0;
  bool second_refused = false;

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        io_thread = std::this_thread::get_id();
        Result<int> r = co_await lane.Run("test job", [&]() -> Result<int> {
          job_thread = std::this_thread::get_id();
          released.wait_for(std::chrono::seconds(30));
          return 42;
        });
        result_thread = std::this_thread::get_id();
        result = r ? *r : -1;
      },
      LogCompletion("test coroutine"));
  // The io thread is free while the job runs: a timer ticks every 5 ms.
  asio::steady_timer tick(io);
  std::function<void()> arm = [&] {
    tick.expires_after(std::chrono::milliseconds(5));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      if (!lane.busy()) return;  // done: stop ticking
      second_refused = !lane.TryRun(
          "second job", [] { return Status{}; }, [](Status) {});
      if (++ticks_while_busy == 20) release.set_value();
      arm();
    });
  };
  arm();
  std::thread runner([&] { io.run(); });
  runner.join();

  EXPECT_EQ(result, 42);
  EXPECT_GE(ticks_while_busy, 20);
  EXPECT_TRUE(second_refused);
  EXPECT_NE(job_thread, io_thread);
  EXPECT_EQ(result_thread, io_thread);
  EXPECT_FALSE(lane.busy());
}

// Idle() waits for the running job; TryRun's completion runs on the io
// thread; a job that throws becomes a named Internal error.
TEST(ModelLaneTest, IdleWaitsForTheJobAndAThrowBecomesAnError) {
  asio::io_context io;
  ModelLane lane(io.get_executor());
  std::string error;
  bool idle_after_job = false;
  ASSERT_TRUE(lane.TryRun(
      "inbox learning",
      []() -> Status { throw std::runtime_error("disk on fire"); },
      [&](Status s) { error = s ? "" : s.error().message; }));
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await lane.Idle();
        idle_after_job = !error.empty();
      },
      LogCompletion("test coroutine"));
  io.run();
  EXPECT_TRUE(idle_after_job);
  EXPECT_EQ(error, "inbox learning failed: disk on fire");
}

}  // namespace
}  // namespace cls::site
