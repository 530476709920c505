#ifndef CLS_COORDINATOR_SITE_SERVER_H_
#define CLS_COORDINATOR_SITE_SERVER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "common/error.h"
#include "coordinator/federation.h"
#include "coordinator/sites/connection_limiter.h"

namespace cls::coordinator {

// Accepts site agents on the site port: mutual TLS 1.3 (the context refuses
// anything else), then a Hello whose site id must match the certificate, then
// a read loop that hands decoded messages to the Federation. A malformed
// frame, a wrong role or an unexpected message closes that one connection;
// everyone else is unaffected. Connections are capped in total (closed at
// accept) and per site certificate (refused after the handshake). Runs on
// the io_context thread.
struct SiteConnectionLimits {
  int max_total = 256;   // config max_site_connections
  int max_per_site = 4;  // config max_connections_per_site
};

class SiteServer {
 public:
  SiteServer(boost::asio::io_context& io,
             std::shared_ptr<boost::asio::ssl::context> tls,
             Federation& federation, SiteConnectionLimits limits = {});
  // Binds and starts accepting; the bound port is returned (useful with 0).
  Result<uint16_t> Listen(const std::string& host, uint16_t port);

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  Federation& federation_;
  ConnectionLimiter limiter_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_SITE_SERVER_H_
