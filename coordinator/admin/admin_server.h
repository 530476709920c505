#ifndef CLS_COORDINATOR_ADMIN_ADMIN_SERVER_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_SERVER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <thread>

#include "common/error.h"
#include "common/listener.h"
#include "coordinator/admin/admin_api.h"

namespace cls::coordinator {

struct AdminApiGate;

// The admin API over HTTPS with mutual TLS (Boost.Beast): operator
// certificates only (role admin, operator, auditor, viewer or break_glass in
// the OU); site and coordinator certificates get one 403 and are closed.
// Each request is read with the idle timeout ([admin] idle_timeout_s) and a
// 1 MiB body limit and answered by AdminApi; a connection is closed after
// [admin] session_max_s.
//
// Threads: the connections (TLS handshakes, record encryption, HTTP parsing,
// the JSON text of a response) run on the server's own thread, so an
// operator is answered while the io thread is busy with the sites (a round's
// result to 100 sites is 400 MB of TLS records). Only AdminApi::HandleAsync
// runs on `api_executor` (the federation's io thread), one request at a time.
class AdminServer {
 public:
  AdminServer(boost::asio::any_io_executor api_executor,
              std::shared_ptr<boost::asio::ssl::context> tls, AdminApi& api);
  // Stop().
  ~AdminServer();

  // Binds, then starts the server's thread; returns the bound port.
  Result<uint16_t> Listen(const std::string& host, uint16_t port);
  // Stops the thread, then closes the listener and every open connection (a
  // request whose answer is still being computed on `api_executor` gets
  // none). Idempotent.
  void Stop();

 private:
  boost::asio::any_io_executor api_executor_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  AdminApi& api_;
  std::shared_ptr<AdminApiGate> gate_;
  // The connections' thread; Stop destroys the acceptor and the
  // connections with no thread running them.
  ListenerThread listener_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_SERVER_H_
