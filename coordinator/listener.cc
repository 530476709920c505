#include "coordinator/listener.h"

namespace cls::coordinator {
namespace asio = boost::asio;

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

}  // namespace cls::coordinator
