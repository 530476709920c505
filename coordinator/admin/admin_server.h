#ifndef CLS_COORDINATOR_ADMIN_ADMIN_SERVER_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_SERVER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "common/error.h"
#include "coordinator/admin/admin_api.h"

namespace cls::coordinator {

// The admin API over HTTPS with mutual TLS (Boost.Beast): operator
// certificates only (role admin, operator, auditor, viewer or break_glass in
// the OU); site and coordinator certificates get one 403 and are closed.
// Each request is read with the idle timeout ([admin] idle_timeout_s) and a
// 1 MiB body limit and answered by AdminApi; a connection is closed after
// [admin] session_max_s. Runs on the io_context thread.
class AdminServer {
 public:
  AdminServer(boost::asio::io_context& io,
              std::shared_ptr<boost::asio::ssl::context> tls, AdminApi& api);
  Result<uint16_t> Listen(const std::string& host, uint16_t port);

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  AdminApi& api_;
  boost::asio::ip::tcp::acceptor acceptor_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_SERVER_H_
