#ifndef CLS_COMMON_LISTENER_H_
#define CLS_COMMON_LISTENER_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>

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

}  // namespace cls

#endif  // CLS_COMMON_LISTENER_H_
