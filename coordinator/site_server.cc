#include "coordinator/site_server.h"
#include "common/log_completion.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <deque>
#include <optional>

#include "common/listener.h"
#include "protocol/channel.h"
#include "protocol/frame.h"

namespace cls::coordinator {
namespace asio = boost::asio;
using asio::use_awaitable;

namespace {

constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
constexpr auto kHelloTimeout = std::chrono::seconds(10);
constexpr auto kTransferTimeout = std::chrono::seconds(120);
constexpr auto kWriteTimeout = std::chrono::seconds(120);
// A site that does not drain its socket must not make the coordinator buffer
// without bound: past this many queued bytes it is disconnected.
constexpr size_t kMaxQueuedBytes = size_t{512} << 20;

// One site agent's connection. Owns itself through shared_ptr while its read
// loop runs; a single writer coroutine drains the queue in order.
class SiteSession final : public SiteConnection,
                          public std::enable_shared_from_this<SiteSession> {
 public:
  SiteSession(std::shared_ptr<protocol::Channel> channel,
              Federation& federation, ConnectionLimiter& limiter,
              ConnectionLimiter::Slot slot)
      : channel_(std::move(channel)),
        federation_(federation),
        limiter_(limiter),
        slot_(std::move(slot)),
        wake_writer_(channel_->stream().get_executor()) {}

  // The coroutines take `self` so the frame keeps the session alive: an
  // awaitable starts lazily, after the caller's shared_ptr may be gone.
  asio::awaitable<void> Run(std::shared_ptr<SiteSession> self);

  void Send(std::shared_ptr<const Bytes> frame) override {
    if (closing_) return;
    queued_bytes_ += frame->size();
    if (queued_bytes_ > kMaxQueuedBytes) {
      Close("write queue over its limit");
      return;
    }
    queue_.push_back(std::move(frame));
    wake_writer_.cancel();
  }

  void Close(std::string_view reason) override {
    if (closing_) return;
    spdlog::info("closing connection of {}: {}",
                 site_id_.empty() ? channel_->peer_address() : site_id_,
                 reason);
    closing_ = true;
    // Let the writer flush what is queued (e.g. a Rejected), then close.
    wake_writer_.cancel();
  }

 private:
  asio::awaitable<void> WriteLoop(std::shared_ptr<SiteSession> self);
  asio::awaitable<void> Refuse(const std::string& reason);

  std::shared_ptr<protocol::Channel> channel_;
  Federation& federation_;
  ConnectionLimiter& limiter_;
  std::optional<ConnectionLimiter::Slot> slot_;  // released when Run ends
  std::string site_id_;
  std::deque<std::shared_ptr<const Bytes>> queue_;
  size_t queued_bytes_ = 0;
  uint64_t bytes_counted_ = 0;  // of channel_->bytes_read()
  bool closing_ = false;
  asio::steady_timer wake_writer_;
};

asio::awaitable<void> SiteSession::Refuse(const std::string& reason) {
  spdlog::warn("refusing {} ({}): {}",
               site_id_.empty() ? "connection" : site_id_,
               channel_->peer_address(), reason);
  auto frame = std::make_shared<const Bytes>(
      protocol::EncodeFrame(protocol::Rejected{reason}));
  (void)co_await channel_->Write(frame, std::chrono::seconds(5));
  co_await channel_->Close();
}

asio::awaitable<void> SiteSession::Run(std::shared_ptr<SiteSession> self) {
  auto handshake = co_await channel_->Handshake(asio::ssl::stream_base::server,
                                                kHandshakeTimeout);
  if (!handshake) {
    spdlog::warn("TLS handshake with {} refused: {}", channel_->peer_address(),
                 handshake.error().message);
    co_return;
  }
  auto peer = crypto::GetPeerIdentity(channel_->stream().native_handle());
  if (!peer) {
    co_await Refuse("no verified client certificate");
    co_return;
  }
  if (peer->role != "site") {
    co_await Refuse("certificate role '" + peer->role +
                    "' may not use the site protocol");
    co_return;
  }
  if (!limiter_.ClaimSite(*slot_, peer->common_name)) {
    co_await Refuse("too many connections for site " + peer->common_name +
                    ": " + std::to_string(limiter_.of_site(peer->common_name)) +
                    " open (max_connections_per_site)");
    co_return;
  }
  // Nothing but a small Hello is read before the site is known: a
  // certificate alone must not buy large buffers (frame.h FrameFilter).
  auto first = co_await channel_->Read(kHelloTimeout, kHelloTimeout,
                                       protocol::FrameKind<protocol::Hello>(),
                                       protocol::kMaxHelloPayloadBytes);
  if (!first) {
    if (first.error().code == ErrorCode::kInvalidArgument) {
      spdlog::warn("{} ({}): bad first frame", peer->common_name,
                   channel_->peer_address());
      co_await Refuse(first.error().message);
    } else {
      spdlog::warn("{} ({}): no hello: {}", peer->common_name,
                   channel_->peer_address(), first.error().message);
    }
    co_return;
  }
  const auto* hello = std::get_if<protocol::Hello>(&*first);
  if (hello == nullptr) {
    co_await Refuse("expected hello, got " +
                    std::string(protocol::MessageName(*first)));
    co_return;
  }
  site_id_ = peer->common_name;
  auto welcome = federation_.OnHello(self, *peer, *hello);
  if (!welcome) {
    co_await Refuse(welcome.error().message);
    co_return;
  }
  Send(std::make_shared<const Bytes>(protocol::EncodeFrame(*welcome)));
  federation_.SendLatestAuditCheckpoint(site_id_);
  federation_.SendLatestDeployment(site_id_);
  asio::co_spawn(channel_->stream().get_executor(), WriteLoop(self),
                 LogCompletion("site session writer"));

  while (!closing_) {
    auto message = co_await channel_->Read(protocol::Clock::duration::max(),
                                           kTransferTimeout);
    if (closing_) break;
    if (!message) {
      if (message.error().code == ErrorCode::kInvalidArgument) {
        // Logged without payload: the frame may hold anything.
        spdlog::warn("site {}: malformed frame: {}", site_id_,
                     message.error().message);
      } else {
        spdlog::info("site {}: connection ended: {}", site_id_,
                     message.error().message);
      }
      break;
    }
    if (CoordinatorMetrics* metrics = federation_.metrics()) {
      metrics->BytesReceived(channel_->bytes_read() - bytes_counted_);
      bytes_counted_ = channel_->bytes_read();
    }
    federation_.OnSiteMessage(site_id_, *message);
  }
  closing_ = true;
  wake_writer_.cancel();
  federation_.OnSiteDisconnected(site_id_, this);
  slot_.reset();
}

asio::awaitable<void> SiteSession::WriteLoop(
    std::shared_ptr<SiteSession> self) {
  (void)self;  // held only to keep the session alive while the loop runs
  while (true) {
    while (!queue_.empty()) {
      auto frame = std::move(queue_.front());
      queue_.pop_front();
      queued_bytes_ -= frame->size();
      auto written = co_await channel_->Write(frame, kWriteTimeout);
      if (CoordinatorMetrics* metrics = federation_.metrics();
          written && metrics) {
        metrics->BytesSent(frame->size());
      }
      if (!written) {
        spdlog::info("site {}: write failed: {}", site_id_,
                     written.error().message);
        closing_ = true;
        channel_->CloseNow();
        co_return;
      }
    }
    if (closing_) {
      // A TCP close, not a TLS shutdown: the read loop may still be reading,
      // and a shutdown would be a second concurrent operation on the stream.
      channel_->CloseNow();
      co_return;
    }
    wake_writer_.expires_at(asio::steady_timer::time_point::max());
    boost::system::error_code ec;
    co_await wake_writer_.async_wait(asio::redirect_error(use_awaitable, ec));
  }
}

}  // namespace

SiteServer::SiteServer(asio::io_context& io,
                       std::shared_ptr<asio::ssl::context> tls,
                       Federation& federation, SiteConnectionLimits limits)
    : io_(io),
      tls_(std::move(tls)),
      federation_(federation),
      limiter_(limits.max_total, limits.max_per_site),
      acceptor_(io) {}

Result<uint16_t> SiteServer::Listen(const std::string& host, uint16_t port) {
  return cls::ListenAndAccept(
      acceptor_, host, port, "listen", [this](asio::ip::tcp::socket socket) {
        boost::system::error_code ec;
        // Counted from accept, before TLS: handshakes cost memory too.
        auto slot = limiter_.Admit();
        if (!slot) {
          auto peer = socket.remote_endpoint(ec);
          spdlog::warn(
              "refusing connection from {}: {} site connections open "
              "(max_site_connections)",
              ec ? std::string("?")
                 : peer.address().to_string() + ":" +
                       std::to_string(peer.port()),
              limiter_.total());
          socket.close(ec);
          return;
        }
        socket.set_option(asio::socket_base::keep_alive(true), ec);
        socket.set_option(asio::ip::tcp::no_delay(true), ec);
        auto channel = protocol::Channel::Create(
            protocol::TlsStream(std::move(socket), *tls_),
            protocol::Direction::kSiteToCoordinator);
        auto session = std::make_shared<SiteSession>(
            std::move(channel), federation_, limiter_, std::move(*slot));
        asio::co_spawn(io_, session->Run(session),
                       LogCompletion("site session"));
      });
}

}  // namespace cls::coordinator
