#include "site-agent/connection_loop.h"

// GCC 12 pairs Asio's awaitable frame operator delete with the wrong
// allocation function once the coroutines of this file are inlined into
// each other (a false positive of -Wmismatched-new-delete, GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "common/log_completion.h"
#include "common/version.h"

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>

#include "audit/audit_chain.h"
#include "crypto/tls_context.h"
#include "protocol/channel.h"
#include "protocol/frame.h"
#include "site-agent/audit_checkpoint_store.h"

namespace cls::site {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using protocol::Channel;
using protocol::Clock;
using tcp = asio::ip::tcp;

constexpr auto kConnectTimeout = std::chrono::seconds(10);
constexpr auto kHandshakeTimeout = std::chrono::seconds(15);
constexpr auto kWelcomeTimeout = std::chrono::seconds(30);
constexpr auto kTransferTimeout = std::chrono::seconds(60);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr auto kFirstBackoff = std::chrono::seconds(1);
constexpr auto kMaxBackoff = std::chrono::seconds(10);
// Replies are produced one per received message, so a backlog means the
// coordinator is not reading: drop the connection rather than buffer.
constexpr size_t kMaxQueuedFrames = 64;

// A frame waiting for the writer, with what the test switch needs to know.
struct Outgoing {
  std::shared_ptr<const Bytes> frame;
  std::string_view name;
  uint64_t round_id = 0;
};

// The per-connection write queue. Channel writes must not overlap, so one
// writer coroutine drains it; `wake` is a timer used as a signal.
struct Outbox {
  explicit Outbox(const asio::any_io_executor& executor)
      : wake(executor, Clock::time_point::max()) {}
  std::deque<Outgoing> frames;
  asio::steady_timer wake;
  bool closed = false;
};

uint64_t RoundIdOf(const protocol::Message& message) {
  return std::visit(
      [](const auto& m) -> uint64_t {
        if constexpr (requires { m.round_id; }) {
          return m.round_id;
        } else {
          return 0;
        }
      },
      message);
}

// The verified peer certificate of `ssl` as PEM; empty if there is none.
std::string PeerCertificatePem(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string pem;
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio != nullptr && PEM_write_bio_X509(bio, cert) == 1) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    if (size > 0) pem.assign(data, static_cast<size_t>(size));
  }
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

// How one connection attempt ended.
struct SessionEnd {
  enum class Kind { kRejected, kFailed, kLost } kind;
  std::string reason;
};

}  // namespace

class ConnectionLoop::Impl {
 public:
  Impl(asio::io_context& io, const AgentConfig& config,
       RoundParticipant& participant, const AgentOptions& options,
       std::shared_ptr<asio::ssl::context> tls, ModelLane& lane)
      : io_(io),
        config_(config),
        participant_(participant),
        options_(options),
        tls_(std::move(tls)),
        lane_(lane),
        backoff_timer_(io) {}

  awaitable<void> Run() {
    auto backoff = std::chrono::duration_cast<Clock::duration>(kFirstBackoff);
    while (!stopping_) {
      SessionEnd end = co_await Session();
      if (stopping_) break;
      if (end.kind == SessionEnd::Kind::kLost) {
        // The site had been welcomed: start the backoff afresh.
        spdlog::warn("connection to the coordinator lost: {}", end.reason);
        backoff = kFirstBackoff;
        last_notice_.clear();
      } else {
        Notice(end);
      }
      backoff_timer_.expires_after(backoff);
      boost::system::error_code ec;
      co_await backoff_timer_.async_wait(
          asio::redirect_error(use_awaitable, ec));
      backoff = std::min<Clock::duration>(backoff * 2, kMaxBackoff);
    }
  }

  void Stop() {
    stopping_ = true;
    if (auto channel = channel_.lock()) channel->CloseNow();
    backoff_timer_.cancel();
  }

 private:
  // Logs a refusal or failure at warn once per distinct reason; retries with
  // the same reason go to debug, so a site awaiting approval does not flood
  // the log.
  void Notice(const SessionEnd& end) {
    const bool rejected = end.kind == SessionEnd::Kind::kRejected;
    const std::string key = (rejected ? "R:" : "F:") + end.reason;
    if (key == last_notice_) {
      spdlog::debug("still {}: {}", rejected ? "refused" : "unreachable",
                    end.reason);
      return;
    }
    last_notice_ = key;
    if (rejected) {
      spdlog::warn(
          "the coordinator refused this site: {} (retrying; an "
          "operator approves a new site with 'clsctl sites approve {}')",
          end.reason, config_.site_id);
    } else {
      spdlog::warn("cannot reach the coordinator at {}:{}: {} (retrying)",
                   config_.coordinator_host, config_.coordinator_port,
                   end.reason);
    }
  }

  awaitable<Result<std::shared_ptr<Channel>>> Connect() {
    auto executor = co_await asio::this_coro::executor;
    boost::system::error_code ec;
    tcp::resolver resolver(executor);
    auto endpoints = co_await resolver.async_resolve(
        config_.coordinator_host, std::to_string(config_.coordinator_port),
        asio::redirect_error(use_awaitable, ec));
    if (ec)
      co_return Unavailable("resolve " + config_.coordinator_host + ": " +
                            ec.message());

    // The connect deadline closes the socket; the timer's handler holds only
    // a weak reference, so it is harmless once the socket has moved on.
    auto socket = std::make_shared<tcp::socket>(executor);
    asio::steady_timer deadline(executor, kConnectTimeout);
    deadline.async_wait([weak = std::weak_ptr<tcp::socket>(socket)](
                            const boost::system::error_code& wait_ec) {
      if (wait_ec) return;
      if (auto s = weak.lock()) {
        boost::system::error_code ignored;
        s->close(ignored);
      }
    });
    co_await asio::async_connect(*socket, endpoints,
                                 asio::redirect_error(use_awaitable, ec));
    deadline.cancel();
    if (ec) {
      co_return Unavailable("connect: " + (ec == asio::error::operation_aborted
                                               ? std::string("timed out")
                                               : ec.message()));
    }

    // The message loop waits without limit for the next round, so a
    // coordinator that vanished without a FIN is detected by TCP keepalive.
    socket->set_option(tcp::socket::keep_alive(true), ec);
    const int idle_s = 60, interval_s = 10, probes = 6;
    ::setsockopt(socket->native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle_s,
                 sizeof(idle_s));
    ::setsockopt(socket->native_handle(), IPPROTO_TCP, TCP_KEEPINTVL,
                 &interval_s, sizeof(interval_s));
    ::setsockopt(socket->native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &probes,
                 sizeof(probes));

    protocol::TlsStream stream(std::move(*socket), *tls_);
    if (auto s = crypto::SetServerHostName(stream.native_handle(),
                                           config_.coordinator_host);
        !s) {
      co_return std::unexpected(s.error());
    }
    auto channel = Channel::Create(std::move(stream),
                                   protocol::Direction::kCoordinatorToSite);
    channel_ = channel;
    if (auto s = co_await channel->Handshake(asio::ssl::stream_base::client,
                                             kHandshakeTimeout);
        !s) {
      co_return std::unexpected(s.error());
    }
    // The host name check proves the server holds a certificate for that
    // name; the role check makes sure it is the coordinator's and not, say,
    // another site's certificate presented by a machine at that address.
    auto peer = crypto::GetPeerIdentity(channel->stream().native_handle());
    if (!peer) co_return std::unexpected(peer.error());
    if (peer->role != "coordinator") {
      channel->CloseNow();
      co_return PermissionDenied("peer '" + peer->common_name + "' has role '" +
                                 peer->role + "', expected 'coordinator'");
    }
    participant_.SetCoordinatorId(peer->common_name);
    // Audit checkpoints on this connection are checked against the
    // certificate the coordinator just proved it holds the key of (chained
    // to the CA once more, and its role checked, by the verifier).
    auto verifier = audit::CheckpointVerifier::FromCertificatePem(
        PeerCertificatePem(channel->stream().native_handle()), config_.tls.ca);
    if (verifier) {
      checkpoint_verifier_ = std::move(*verifier);
    } else {
      checkpoint_verifier_.reset();
      spdlog::error(
          "audit checkpoints from this coordinator cannot be checked "
          "and will be refused: {}",
          verifier.error().message);
    }
    co_return channel;
  }

  awaitable<SessionEnd> Session() {
    auto connected = co_await Connect();
    if (!connected) {
      co_return SessionEnd{SessionEnd::Kind::kFailed,
                           connected.error().message};
    }
    std::shared_ptr<Channel> channel = std::move(*connected);

    // The sample count comes from the LocalModel, which inbox learning may
    // be growing on the model worker.
    co_await lane_.Idle();
    protocol::Hello hello{config_.site_id,
                          config_.site_name,
                          config_.location,
                          participant_.num_samples(),
                          cls::VersionString(),
                          participant_.model_version(),
                          participant_.record_privacy()};
    auto sent = co_await channel->Write(
        std::make_shared<const Bytes>(protocol::EncodeFrame(hello)),
        kWriteTimeout);
    if (!sent) {
      channel->CloseNow();
      co_return SessionEnd{SessionEnd::Kind::kFailed, sent.error().message};
    }
    auto reply = co_await channel->Read(kWelcomeTimeout, kTransferTimeout);
    if (!reply) {
      channel->CloseNow();
      co_return SessionEnd{SessionEnd::Kind::kFailed, reply.error().message};
    }
    if (const auto* rejected = std::get_if<protocol::Rejected>(&*reply)) {
      co_await channel->Close();
      co_return SessionEnd{SessionEnd::Kind::kRejected, rejected->reason};
    }
    const auto* welcome = std::get_if<protocol::Welcome>(&*reply);
    if (!welcome) {
      channel->CloseNow();
      co_return SessionEnd{SessionEnd::Kind::kFailed,
                           "expected welcome, got " +
                               std::string(protocol::MessageName(*reply))};
    }
    if (welcome->approved) {
      if (options_.metrics != nullptr) options_.metrics->SetConnected(true);
      spdlog::info(
          "connected to the coordinator at {}:{} as {} (model {})",
          config_.coordinator_host, config_.coordinator_port, config_.site_id,
          participant_.model_version().empty() ? "none yet"
                                               : participant_.model_version());
    } else {
      spdlog::warn(
          "connected, awaiting approval: an operator runs 'clsctl "
          "sites approve {}'",
          config_.site_id);
    }
    last_notice_.clear();

    auto outbox = std::make_shared<Outbox>(channel->stream().get_executor());
    outbox_ = outbox;
    asio::co_spawn(io_, Writer(channel, outbox),
                   LogCompletion("coordinator channel writer"));
    std::string reason;
    while (true) {
      auto message =
          co_await channel->Read(Clock::duration::max(), kTransferTimeout);
      if (!message) {
        reason = message.error().message;
        break;
      }
      spdlog::debug("received {}", protocol::MessageName(*message));
      if (options_.metrics != nullptr) {
        if (std::holds_alternative<protocol::RoundResult>(*message)) {
          options_.metrics->RoundEnded("completed");
        } else if (std::holds_alternative<protocol::RoundAborted>(*message)) {
          options_.metrics->RoundEnded("aborted");
        }
      }
      // Audit checkpoints are kept here, with the connection's verifier;
      // deployments belong to serving; everything else to the rounds.
      if (const auto* checkpoint =
              std::get_if<protocol::AuditCheckpoint>(&*message)) {
        KeepCheckpoint(*checkpoint);
        continue;
      }
      // No co_await inside ?: (GCC 12 destroys its temporaries twice).
      Result<std::optional<protocol::Message>> answer = std::nullopt;
      if (std::holds_alternative<protocol::DeploymentUpdate>(*message)) {
        answer = AnswerDeployment(*message);
      } else {
        answer = co_await ToParticipant(*message);
      }
      if (!answer) {
        reason = answer.error().message;
        break;
      }
      if (!*answer) continue;
      if (outbox->closed) {
        reason = "write failed";
        break;
      }
      if (outbox->frames.size() >= kMaxQueuedFrames) {
        reason = "write queue full: the coordinator is not reading";
        break;
      }
      Enqueue(*outbox, **answer);
    }
    outbox->closed = true;
    outbox->wake.cancel();
    channel->CloseNow();
    participant_.OnDisconnected();
    if (options_.metrics != nullptr) options_.metrics->SetConnected(false);
    co_return SessionEnd{SessionEnd::Kind::kLost, reason};
  }

 public:
  bool SendNow(const protocol::Message& message) {
    auto outbox = outbox_.lock();
    if (!outbox || outbox->closed ||
        outbox->frames.size() >= kMaxQueuedFrames) {
      return false;
    }
    Enqueue(*outbox, message);
    return true;
  }

 private:
  // The round logic's answer. It touches the LocalModel, so it waits until
  // no model job runs; a round's training goes to the model worker while
  // this read loop waits (later messages stay unread, in order, as when
  // training ran on this thread), and the io thread stays free for the
  // writer, timers and signals.
  awaitable<Result<std::optional<protocol::Message>>> ToParticipant(
      const protocol::Message& message) {
    co_await lane_.Idle();
    auto begun = participant_.Begin(message);
    auto* job = std::get_if<RoundParticipant::TrainingJob>(&begun);
    if (job == nullptr) {
      co_return std::get<Result<std::optional<protocol::Message>>>(
          std::move(begun));
    }
    const uint64_t round_id = job->round_id;
    Result<RoundInput> trained = co_await lane_.Run(
        "round " + std::to_string(round_id) + ": local training",
        std::move(job->work));
    co_return participant_.FinishTraining(round_id, std::move(trained));
  }

  // A site without [serve] refuses deployments (the coordinator shows the
  // reason to operators) rather than treating them as a protocol error:
  // the coordinator sends the latest deployment to every site on connect.
  std::optional<protocol::Message> AnswerDeployment(
      const protocol::Message& message) {
    if (options_.serving_message) return options_.serving_message(message);
    const auto& update = std::get<protocol::DeploymentUpdate>(message);
    protocol::DeploymentAck ack;
    ack.deployment_id = update.deployment_id;
    ack.accepted = false;
    ack.reason = "this site does not serve predictions ([serve] is not set)";
    return protocol::Message(std::move(ack));
  }

  // Keeps a checkpoint whose signature verifies under the coordinator's
  // certificate (docs/audit.md); everything else is refused and logged.
  void KeepCheckpoint(const protocol::AuditCheckpoint& c) {
    if (!checkpoint_verifier_) {
      spdlog::error(
          "audit checkpoint refused: no verified coordinator "
          "certificate on this connection");
      return;
    }
    auto verdict = KeepLatestCheckpoint(config_.data_dir, c.checkpoint_json,
                                        *checkpoint_verifier_);
    if (!verdict) {
      if (verdict.error().code == ErrorCode::kPermissionDenied) {
        spdlog::error(
            "audit checkpoint refused: {}; tell the consortium's "
            "security officer",
            verdict.error().message);
      } else {
        spdlog::warn("audit checkpoint ignored: {}", verdict.error().message);
      }
      return;
    }
    switch (*verdict) {
      case CheckpointVerdict::kWentBack:
        spdlog::error(
            "the coordinator presented an audit checkpoint older than the "
            "one this site keeps ({}): its audit log may have been "
            "rewritten; tell the consortium's security officer",
            kAuditCheckpointFile);
        break;
      case CheckpointVerdict::kReplacedUnverified:
        spdlog::warn(
            "the kept audit checkpoint does not verify under the "
            "coordinator's certificate; moved to {} and replaced by the new "
            "one",
            kUnverifiedCheckpointFile);
        break;
      case CheckpointVerdict::kStored:
        spdlog::debug("audit checkpoint kept");
        break;
      case CheckpointVerdict::kSame:
        break;
    }
  }

  static void Enqueue(Outbox& outbox, const protocol::Message& message) {
    outbox.frames.push_back(
        {std::make_shared<const Bytes>(protocol::EncodeFrame(message)),
         protocol::MessageName(message), RoundIdOf(message)});
    outbox.wake.cancel();
  }

  awaitable<void> Writer(std::shared_ptr<Channel> channel,
                         std::shared_ptr<Outbox> outbox) {
    while (!outbox->closed) {
      if (outbox->frames.empty()) {
        outbox->wake.expires_at(Clock::time_point::max());
        boost::system::error_code ec;
        co_await outbox->wake.async_wait(
            asio::redirect_error(use_awaitable, ec));
        continue;
      }
      Outgoing next = std::move(outbox->frames.front());
      outbox->frames.pop_front();
      auto written = co_await channel->Write(next.frame, kWriteTimeout);
      if (!written) {
        spdlog::warn("sending {} failed: {}", next.name,
                     written.error().message);
        outbox->closed = true;
        channel->CloseNow();  // the reader sees the close and reconnects
        co_return;
      }
      spdlog::debug("sent {}", next.name);
#if CLS_TEST_HOOKS
      MaybeExitForTest(next);
#endif
    }
  }

#if CLS_TEST_HOOKS
  void MaybeExitForTest(const Outgoing& sent) const {
    const auto& exit_after = options_.test_exit_after;
    if (!exit_after || sent.name != exit_after->stage ||
        sent.round_id != exit_after->round_id) {
      return;
    }
    spdlog::warn("test: exiting (code 3) after sending {} in round {}",
                 sent.name, sent.round_id);
    spdlog::default_logger()->flush();
    std::fflush(nullptr);
    std::_Exit(3);
  }
#endif  // CLS_TEST_HOOKS

  asio::io_context& io_;
  const AgentConfig& config_;
  RoundParticipant& participant_;
  const AgentOptions& options_;
  std::shared_ptr<asio::ssl::context> tls_;
  ModelLane& lane_;
  asio::steady_timer backoff_timer_;
  std::weak_ptr<Channel> channel_;
  std::weak_ptr<Outbox> outbox_;
  // The current connection's coordinator certificate, for audit
  // checkpoints; null when it could not be read.
  std::unique_ptr<audit::CheckpointVerifier> checkpoint_verifier_;
  bool stopping_ = false;
  std::string last_notice_;
};

ConnectionLoop::ConnectionLoop(asio::io_context& io, const AgentConfig& config,
                               RoundParticipant& participant,
                               const AgentOptions& options,
                               std::shared_ptr<asio::ssl::context> tls,
                               ModelLane& lane)
    : impl_(std::make_unique<Impl>(io, config, participant, options,
                                   std::move(tls), lane)) {}

ConnectionLoop::~ConnectionLoop() = default;

asio::awaitable<void> ConnectionLoop::Run() { return impl_->Run(); }

void ConnectionLoop::Stop() { impl_->Stop(); }

bool ConnectionLoop::SendNow(const protocol::Message& message) {
  return impl_->SendNow(message);
}

}  // namespace cls::site
