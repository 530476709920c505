#ifndef CLS_COMMON_TESTING_HTTP_GET_H_
#define CLS_COMMON_TESTING_HTTP_GET_H_

// For tests only: one blocking plain-HTTP/1.1 request to 127.0.0.1, as
// Prometheus or a kubelet probe sends it to the monitoring port. Throws
// boost::system::system_error when the server closes without answering.

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <string>

namespace cls::testing {

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

inline HttpReply HttpCall(uint16_t port, boost::beast::http::verb verb,
                          const std::string& target) {
  namespace asio = boost::asio;
  namespace http = boost::beast::http;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1");
  req.keep_alive(false);
  if (verb == http::verb::post) req.body() = "x";
  req.prepare_payload();
  http::write(socket, req);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return {static_cast<int>(res.result_int()),
          std::string(res[http::field::content_type]), res.body()};
}

inline HttpReply HttpGet(uint16_t port, const std::string& target) {
  return HttpCall(port, boost::beast::http::verb::get, target);
}

}  // namespace cls::testing

#endif  // CLS_COMMON_TESTING_HTTP_GET_H_
