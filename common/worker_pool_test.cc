#include "common/worker_pool.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "common/log_completion.h"

namespace cls {
namespace {

namespace asio = boost::asio;

// Runs `io` until `done` or a generous deadline.
void RunUntil(asio::io_context& io, const bool& done) {
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(10));
    io.restart();
  }
}

TEST(WorkerPoolTest, WorkRunsOffTheHomeThreadAndItsResultComesBackOnIt) {
  asio::io_context io;
  WorkerPool pool(2);
  const auto home = std::this_thread::get_id();
  std::thread::id worker;
  std::thread::id completion;
  std::optional<Result<int>> result;
  bool done = false;
  pool.Run(
      io.get_executor(), "sum",
      [&worker]() -> Result<int> {
        worker = std::this_thread::get_id();
        return 41 + 1;
      },
      [&](Result<int> r) {
        completion = std::this_thread::get_id();
        result = std::move(r);
        done = true;
      });
  RunUntil(io, done);
  ASSERT_TRUE(done);
  EXPECT_NE(worker, home);
  EXPECT_EQ(completion, home);
  ASSERT_TRUE(result->has_value());
  EXPECT_EQ(**result, 42);
}

TEST(WorkerPoolTest, AThrowingWorkItemBecomesAnInternalErrorNamingIt) {
  asio::io_context io;
  WorkerPool pool(1);
  std::optional<Status> status;
  bool done = false;
  pool.Run(
      io.get_executor(), "round 7: unmask",
      []() -> Status { throw std::runtime_error("out of shares"); },
      [&](Status s) {
        status = std::move(s);
        done = true;
      });
  RunUntil(io, done);
  ASSERT_TRUE(done);
  ASSERT_FALSE(status->has_value());
  EXPECT_EQ(status->error().code, ErrorCode::kInternal);
  EXPECT_EQ(status->error().message, "round 7: unmask failed: out of shares");
}

TEST(WorkerPoolTest, CompletionsAfterThePoolIsDestroyedAreDropped) {
  asio::io_context io;
  bool called = false;
  {
    WorkerPool pool(1);
    pool.Run(
        io.get_executor(), "late", []() -> Status { return {}; },
        [&called](Status) { called = true; });
    // The destructor joins the worker; its completion is queued on `io`.
  }
  io.run();
  EXPECT_FALSE(called);
}

TEST(WorkerPoolTest, HomeStaysResponsiveWhileWorkRuns) {
  asio::io_context io;
  WorkerPool pool(1);
  std::atomic<bool> release{false};
  bool done = false;
  pool.Run(
      io.get_executor(), "slow",
      [&release]() -> Status {
        while (!release.load()) std::this_thread::yield();
        return {};
      },
      [&done](Status) { done = true; });
  // A timer on the home thread fires while the work is still blocked.
  bool ticked = false;
  asio::steady_timer timer(io, std::chrono::milliseconds(1));
  timer.async_wait([&](boost::system::error_code) {
    ticked = true;
    release = true;
  });
  RunUntil(io, done);
  EXPECT_TRUE(ticked);
  EXPECT_TRUE(done);
}

TEST(LogCompletionTest, LogsWhatTheCoroutineThrewWithWhatItWasDoing) {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_st>(captured)));
  auto handler = LogCompletion("site session");
  handler(nullptr);
  const std::string after_success = captured.str();
  handler(std::make_exception_ptr(std::runtime_error("boom")));
  handler(std::make_exception_ptr(42));
  spdlog::set_default_logger(previous);
  EXPECT_EQ(after_success, "");
  EXPECT_NE(captured.str().find("site session ended by an exception: boom"),
            std::string::npos);
  EXPECT_NE(captured.str().find("site session ended by an unknown exception"),
            std::string::npos);
}

}  // namespace
}  // namespace cls
