#ifndef CLS_COMMON_LISTENER_H_
#define CLS_COMMON_LISTENER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "common/error.h"

namespace cls {

// Opens, binds and listens on host:port (port 0 picks a free one); returns
// the bound port. `what` names the config key in errors.
Result<uint16_t> OpenAcceptor(boost::asio::ip::tcp::acceptor& acceptor,
                              const std::string& host, uint16_t port,
                              const std::string& what);

// OpenAcceptor, then accepts connections until the acceptor closes, handing
// each new socket to `serve` (on the acceptor's executor). The acceptor must
// outlive the loop.
Result<uint16_t> ListenAndAccept(
    boost::asio::ip::tcp::acceptor& acceptor, const std::string& host,
    uint16_t port, const std::string& what,
    std::function<void(boost::asio::ip::tcp::socket)> serve);

// A listener on a thread of its own: an io_context, its acceptor and the
// thread that runs them (the admin API, the monitoring port). Each
// accepted socket goes to `serve`, on that thread.
class ListenerThread {
 public:
  ListenerThread() = default;
  // Stop().
  ~ListenerThread();
  ListenerThread(const ListenerThread&) = delete;
  ListenerThread& operator=(const ListenerThread&) = delete;

  // Binds (FailedPrecondition when already started), then starts the
  // thread; returns the bound port.
  Result<uint16_t> Start(
      const std::string& host, uint16_t port, const std::string& what,
      std::function<void(boost::asio::ip::tcp::socket)> serve);
  // Stops the thread, then closes the acceptor, then destroys the
  // io_context with the connections it still holds (no thread runs them
  // any more). Idempotent.
  void Stop();
  bool started() const { return io_ != nullptr; }
  // Valid between Start and Stop.
  boost::asio::io_context& io() { return *io_; }

 private:
  std::unique_ptr<boost::asio::io_context> io_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::thread thread_;
};

}  // namespace cls

#endif  // CLS_COMMON_LISTENER_H_
