#ifndef CLS_PROTOCOL_CHANNEL_H_
#define CLS_PROTOCOL_CHANNEL_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>

#include "common/error.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace cls::protocol {

using TlsStream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;
using Clock = std::chrono::steady_clock;

// A mutually authenticated TLS 1.3 connection carrying frames
// (protocol/frame.h). Every handshake, read and write has a deadline, enforced
// by a watchdog that closes the socket when one passes. A frame is checked
// from its header (kind, direction, size) before any payload buffer exists,
// and the buffer then grows with the bytes that actually arrive, so a peer
// announcing a large frame costs memory only as it sends it.
// One reader and one writer may run at once. Owned through shared_ptr (the
// watchdog holds a weak reference); all calls on one io_context thread.
class Channel : public std::enable_shared_from_this<Channel> {
 public:
  // `inbound`: the direction of the frames this end reads; kinds flowing the
  // other way are refused at the header.
  static std::shared_ptr<Channel> Create(TlsStream stream, Direction inbound);
  ~Channel();

  // TLS handshake as server or client within `timeout`. The caller checks the
  // peer's identity afterwards (crypto::GetPeerIdentity).
  boost::asio::awaitable<Status> Handshake(
      boost::asio::ssl::stream_base::handshake_type type,
      Clock::duration timeout);

  // Waits up to `idle` for the next frame header (a long wait between rounds
  // is normal), then up to `transfer` for its payload.
  boost::asio::awaitable<Result<Message>> Read(Clock::duration idle,
                                               Clock::duration transfer);
  // The same, accepting only `only_kind` of at most `max_length` bytes (e.g.
  // a Hello as the first frame).
  boost::asio::awaitable<Result<Message>> Read(Clock::duration idle,
                                               Clock::duration transfer,
                                               uint32_t only_kind,
                                               uint32_t max_length);

  // Writes one encoded frame (EncodeFrame) within `timeout`.
  boost::asio::awaitable<Status> Write(std::shared_ptr<const Bytes> frame,
                                       Clock::duration timeout);

  // TLS close_notify (bounded to a second), then TCP close.
  boost::asio::awaitable<void> Close();
  void CloseNow();
  bool is_open() const { return open_; }
  // Header and payload bytes of every whole frame read so far (the site
  // port's bytes-in metric).
  uint64_t bytes_read() const { return bytes_read_; }

  TlsStream& stream() { return stream_; }
  std::string peer_address() const { return peer_address_; }

 private:
  Channel(TlsStream stream, Direction inbound);
  void StartWatchdog();
  boost::asio::awaitable<Result<Message>> ReadFiltered(Clock::duration idle,
                                                       Clock::duration transfer,
                                                       FrameFilter filter);

  TlsStream stream_;
  Direction inbound_;
  boost::asio::steady_timer watchdog_;
  Clock::time_point read_deadline_ = Clock::time_point::max();
  Clock::time_point write_deadline_ = Clock::time_point::max();
  bool open_ = true;
  uint64_t bytes_read_ = 0;
  std::string peer_address_;
};

}  // namespace cls::protocol

#endif  // CLS_PROTOCOL_CHANNEL_H_
