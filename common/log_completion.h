#ifndef CLS_COMMON_LOG_COMPLETION_H_
#define CLS_COMMON_LOG_COMPLETION_H_

#include <exception>
#include <string>

#include <spdlog/spdlog.h>

namespace cls {

// The completion handler of a spawned coroutine (in place of
// asio::detached, which drops what the coroutine threw): logs the exception
// with what the coroutine was doing.
//   asio::co_spawn(io, Session(...), LogCompletion("site session"));
inline auto LogCompletion(std::string what) {
  return [what = std::move(what)](std::exception_ptr error, auto&&...) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      spdlog::error("{} ended by an exception: {}", what, e.what());
    } catch (...) {
      spdlog::error("{} ended by an unknown exception", what);
    }
  };
}

}  // namespace cls

#endif  // CLS_COMMON_LOG_COMPLETION_H_
