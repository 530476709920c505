#include "protocol/channel.h"
#include "common/log_completion.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include "protocol/frame.h"

namespace cls::protocol {
namespace asio = boost::asio;
using asio::use_awaitable;

namespace {

constexpr auto kWatchdogTick = std::chrono::milliseconds(250);
// The payload buffer starts at this size and doubles as bytes arrive.
constexpr size_t kFirstChunkBytes = 64 * 1024;

std::string Describe(const boost::system::error_code& ec) {
  return ec == asio::error::operation_aborted ? "timed out or closed"
                                              : ec.message();
}

}  // namespace

std::shared_ptr<Channel> Channel::Create(TlsStream stream, Direction inbound) {
  std::shared_ptr<Channel> channel(new Channel(std::move(stream), inbound));
  channel->StartWatchdog();
  return channel;
}

Channel::Channel(TlsStream stream, Direction inbound)
    : stream_(std::move(stream)),
      inbound_(inbound),
      watchdog_(stream_.get_executor()) {
  boost::system::error_code ec;
  auto endpoint = stream_.lowest_layer().remote_endpoint(ec);
  if (!ec)
    peer_address_ =
        endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
}

Channel::~Channel() { CloseNow(); }

void Channel::StartWatchdog() {
  std::weak_ptr<Channel> weak = shared_from_this();
  asio::co_spawn(
      watchdog_.get_executor(),
      [weak]() -> asio::awaitable<void> {
        while (true) {
          std::shared_ptr<Channel> self = weak.lock();
          if (!self || !self->open_) co_return;
          auto now = Clock::now();
          if (now > self->read_deadline_ || now > self->write_deadline_) {
            self->CloseNow();
            co_return;
          }
          self->watchdog_.expires_after(kWatchdogTick);
          auto& timer = self->watchdog_;
          self.reset();  // do not keep the channel alive while waiting
          boost::system::error_code ec;
          co_await timer.async_wait(asio::redirect_error(use_awaitable, ec));
          if (ec == asio::error::operation_aborted) co_return;
        }
      },
      LogCompletion("channel watchdog"));
}

void Channel::CloseNow() {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ec;
  stream_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream_.lowest_layer().close(ec);
  watchdog_.cancel();
}

asio::awaitable<Status> Channel::Handshake(
    asio::ssl::stream_base::handshake_type type, Clock::duration timeout) {
  auto self = shared_from_this();
  read_deadline_ = Clock::now() + timeout;
  boost::system::error_code ec;
  co_await stream_.async_handshake(type,
                                   asio::redirect_error(use_awaitable, ec));
  read_deadline_ = Clock::time_point::max();
  if (ec) {
    // Name the certificate problem (revoked, expired, unknown CA) when there
    // is one: "certificate verify failed" alone does not help an operator.
    std::string why = Describe(ec);
    long verify = SSL_get_verify_result(stream_.native_handle());
    if (verify != X509_V_OK) {
      why += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    CloseNow();
    co_return Unavailable("tls handshake: " + why);
  }
  co_return Status{};
}

asio::awaitable<Result<Message>> Channel::Read(Clock::duration idle,
                                               Clock::duration transfer) {
  return ReadFiltered(idle, transfer, FrameFilter{inbound_, 0, 0});
}

asio::awaitable<Result<Message>> Channel::Read(Clock::duration idle,
                                               Clock::duration transfer,
                                               uint32_t only_kind,
                                               uint32_t max_length) {
  return ReadFiltered(idle, transfer,
                      FrameFilter{inbound_, only_kind, max_length});
}

asio::awaitable<Result<Message>> Channel::ReadFiltered(Clock::duration idle,
                                                       Clock::duration transfer,
                                                       FrameFilter filter) {
  auto self = shared_from_this();
  std::array<uint8_t, kFrameHeaderBytes> header_bytes;
  boost::system::error_code ec;
  read_deadline_ = idle == Clock::duration::max() ? Clock::time_point::max()
                                                  : Clock::now() + idle;
  co_await asio::async_read(stream_, asio::buffer(header_bytes),
                            asio::redirect_error(use_awaitable, ec));
  read_deadline_ = Clock::time_point::max();
  if (ec) co_return Unavailable("read: " + Describe(ec));
  auto header = DecodeFrameHeader(header_bytes);
  if (!header) co_return std::unexpected(header.error());
  if (auto s = CheckFrameFilter(*header, filter); !s) {
    co_return std::unexpected(s.error());
  }

  // 8-byte aligned storage for Cap'n Proto, sized only after the header
  // checks, and grown (doubling) as the payload arrives: a peer announcing
  // the largest frame of its kind and sending little costs little.
  std::vector<uint64_t> words;
  size_t received = 0;
  read_deadline_ = Clock::now() + transfer;
  while (received < header->length) {
    const size_t target = std::min<size_t>(
        header->length, std::max(kFirstChunkBytes, received * 2));
    words.resize(target / 8);
    co_await asio::async_read(
        stream_,
        asio::buffer(reinterpret_cast<uint8_t*>(words.data()) + received,
                     target - received),
        asio::redirect_error(use_awaitable, ec));
    if (ec) break;
    received = target;
  }
  read_deadline_ = Clock::time_point::max();
  if (ec) co_return Unavailable("read: " + Describe(ec));
  bytes_read_ += kFrameHeaderBytes + header->length;
  co_return DecodeFramePayload(*header, words);
}

asio::awaitable<Status> Channel::Write(std::shared_ptr<const Bytes> frame,
                                       Clock::duration timeout) {
  auto self = shared_from_this();
  boost::system::error_code ec;
  write_deadline_ = Clock::now() + timeout;
  co_await asio::async_write(stream_, asio::buffer(*frame),
                             asio::redirect_error(use_awaitable, ec));
  write_deadline_ = Clock::time_point::max();
  if (ec) co_return Unavailable("write: " + Describe(ec));
  co_return Status{};
}

asio::awaitable<void> Channel::Close() {
  auto self = shared_from_this();
  if (!open_) co_return;
  write_deadline_ = Clock::now() + std::chrono::seconds(1);
  boost::system::error_code ec;
  co_await stream_.async_shutdown(asio::redirect_error(use_awaitable, ec));
  CloseNow();
}

}  // namespace cls::protocol
