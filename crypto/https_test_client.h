#ifndef CLS_CRYPTO_HTTPS_TEST_CLIENT_H_
#define CLS_CRYPTO_HTTPS_TEST_CLIENT_H_

// For tests only: a blocking HTTPS client for the daemons' HTTPS servers
// (serving, admin), and certs/cls-pki to issue what they need.

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "crypto/tls_context.h"

namespace cls::crypto::testing {

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

// A keep-alive HTTPS client; every call has a 10 s socket timeout so a
// broken server fails the test instead of hanging it.
class Client {
 public:
  Client(std::shared_ptr<boost::asio::ssl::context> tls, uint16_t port)
      : stream_(io_, *tls) {
    boost::beast::get_lowest_layer(stream_).connect(
        {boost::asio::ip::make_address("127.0.0.1"), port});
    timeval tv{10, 0};
    const int fd =
        boost::beast::get_lowest_layer(stream_).socket().native_handle();
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    (void)crypto::SetServerHostName(stream_.native_handle(), "127.0.0.1");
  }

  boost::system::error_code Handshake() {
    boost::system::error_code ec;
    stream_.handshake(boost::asio::ssl::stream_base::client, ec);
    return ec;
  }

  Reply Call(boost::beast::http::verb verb, const std::string& target,
             const std::string& body = "") {
    boost::beast::http::request<boost::beast::http::string_body> req{
        verb, target, 11};
    req.set(boost::beast::http::field::host, "127.0.0.1");
    req.keep_alive(true);
    if (!body.empty()) {
      req.set(boost::beast::http::field::content_type, "application/json");
      req.body() = body;
    }
    req.prepare_payload();
    boost::system::error_code ec;
    boost::beast::http::write(stream_, req, ec);
    if (ec) return {-1, ec.message(), ""};
    boost::beast::http::response<boost::beast::http::string_body> res;
    boost::beast::http::read(stream_, buffer_, res, ec);
    if (ec) return {-1, ec.message(), ""};
    return {static_cast<int>(res.result_int()), res.body(),
            std::string(res[boost::beast::http::field::content_type])};
  }

 private:
  boost::asio::io_context io_;
  boost::beast::ssl_stream<boost::beast::tcp_stream> stream_;
  boost::beast::flat_buffer buffer_;
};

#ifdef CLS_PKI_SCRIPT
// Runs certs/cls-pki on `dir` with `args`; its exit code.
inline int RunPki(const std::filesystem::path& dir, const std::string& args) {
  const std::string cmd = "timeout 60 '" + std::string(CLS_PKI_SCRIPT) +
                          "' --dir '" + dir.string() + "' " + args +
                          " >/dev/null 2>&1";
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
#endif

}  // namespace cls::crypto::testing

#endif  // CLS_CRYPTO_HTTPS_TEST_CLIENT_H_
