#include "common/listener.h"
#include "common/log_completion.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cls {
namespace asio = boost::asio;

namespace {

asio::awaitable<void> AcceptLoop(
    asio::ip::tcp::acceptor& acceptor,
    std::function<void(asio::ip::tcp::socket)> serve) {
  while (acceptor.is_open()) {
    boost::system::error_code ec;
    asio::ip::tcp::socket socket(acceptor.get_executor());
    co_await acceptor.async_accept(
        socket, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      spdlog::warn("accept: {}", ec.message());
      continue;
    }
    serve(std::move(socket));
  }
}

}  // namespace

Result<uint16_t> OpenAcceptor(asio::ip::tcp::acceptor& acceptor,
                              const std::string& host, uint16_t port,
                              const std::string& what) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument(what + ": bad address '" + host + "'");
  asio::ip::tcp::endpoint endpoint(address, port);
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable(what + ": cannot listen on " + host + ":" +
                       std::to_string(port) + ": " + ec.message());
  }
  return acceptor.local_endpoint().port();
}

Result<uint16_t> ListenAndAccept(
    asio::ip::tcp::acceptor& acceptor, const std::string& host, uint16_t port,
    const std::string& what, std::function<void(asio::ip::tcp::socket)> serve) {
  auto bound = OpenAcceptor(acceptor, host, port, what);
  if (!bound) return bound;
  asio::co_spawn(acceptor.get_executor(),
                 AcceptLoop(acceptor, std::move(serve)),
                 LogCompletion("accept loop"));
  return bound;
}

ListenerThread::~ListenerThread() { Stop(); }

Result<uint16_t> ListenerThread::Start(
    const std::string& host, uint16_t port, const std::string& what,
    std::function<void(boost::asio::ip::tcp::socket)> serve) {
  if (io_) return FailedPrecondition(what + ": already listening");
  io_ = std::make_unique<boost::asio::io_context>(1);
  acceptor_ = std::make_unique<boost::asio::ip::tcp::acceptor>(*io_);
  auto bound = ListenAndAccept(*acceptor_, host, port, what, std::move(serve));
  if (!bound) {
    acceptor_.reset();
    io_.reset();
    return bound;
  }
  thread_ = std::thread([io = io_.get()] { io->run(); });
  return bound;
}

void ListenerThread::Stop() {
  if (!io_) return;
  io_->stop();
  if (thread_.joinable()) thread_.join();
  acceptor_.reset();
  io_.reset();
}

}  // namespace cls
