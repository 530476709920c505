#include "site-agent/agent.h"
#include "common/log_completion.h"

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
#include "common/logging.h"
#include "crypto/tls_context.h"
#include "protocol/channel.h"
#include "protocol/frame.h"
#include "site-agent/audit_checkpoint_store.h"

#include "site-agent/connection_loop.h"
#include "site-agent/model_lane.h"

namespace cls::site {
namespace {

namespace asio = boost::asio;

crypto::TlsFiles FilesOf(const TlsConfig& tls) {
  return {tls.ca, tls.cert, tls.key, tls.crl};
}

}  // namespace

Result<ExitAfter> ParseExitAfter(std::string_view text) {
  const std::string bad =
      "--test-exit-after must be STAGE:ROUND with STAGE one of advertise_keys, "
      "share_keys, masked_input and ROUND a round number, got '" +
      std::string(text) + "'";
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos) return InvalidArgument(bad);
  ExitAfter out;
  out.stage = std::string(text.substr(0, colon));
  if (out.stage != "advertise_keys" && out.stage != "share_keys" &&
      out.stage != "masked_input") {
    return InvalidArgument(bad);
  }
  const std::string_view round = text.substr(colon + 1);
  auto [end, ec] =
      std::from_chars(round.data(), round.data() + round.size(), out.round_id);
  if (round.empty() || ec != std::errc() ||
      end != round.data() + round.size()) {
    return InvalidArgument(bad);
  }
  return out;
}

Status CheckTlsIdentity(const AgentConfig& config) {
  auto context = crypto::MakeClientTlsContext(FilesOf(config.tls));
  if (!context) return std::unexpected(context.error());

  FILE* file = std::fopen(config.tls.cert.c_str(), "rb");
  if (!file)
    return NotFound("certificate " + config.tls.cert + " cannot be read");
  X509* cert = PEM_read_X509(file, nullptr, nullptr, nullptr);
  std::fclose(file);
  if (!cert)
    return InvalidArgument("certificate " + config.tls.cert + " is not PEM");
  char cn[256] = {0};
  const int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
                                          NID_commonName, cn, sizeof(cn));
  X509_free(cert);
  if (n < 0)
    return InvalidArgument("certificate " + config.tls.cert + " has no CN");
  if (config.site_id != cn) {
    return InvalidArgument("site_id '" + config.site_id +
                           "' does not match the certificate's CN '" +
                           std::string(cn) + "'");
  }
  return {};
}

namespace {

// SIGHUP, on the io thread between two events: the log file reopened
// (logrotate), the CRL read again into the TLS context the next handshake
// uses. A CRL that cannot be used leaves the old one in force.
void ReloadOnHangup(const AgentConfig& config, asio::ssl::context& tls,
                    AgentReadiness* readiness) {
  if (auto s = ReopenLogs(); !s) spdlog::error("SIGHUP: {}", s.error().message);
  if (config.tls.crl.empty()) {
    spdlog::info("SIGHUP: log reopened; no CRL configured");
    return;
  }
  if (auto s = crypto::ReloadCrl(tls, FilesOf(config.tls)); !s) {
    spdlog::error("SIGHUP: CRL not reloaded, the previous one stays: {}",
                  s.error().message);
    return;
  }
  if (auto next = crypto::CrlNextUpdate(config.tls.crl);
      next && readiness != nullptr) {
    readiness->SetCrlNextUpdate(*next);
  }
  spdlog::info("SIGHUP: log reopened, CRL {} reloaded", config.tls.crl);
}

}  // namespace

int RunAgent(const AgentConfig& config, RoundParticipant& participant,
             const AgentOptions& options) {
  auto tls = crypto::MakeClientTlsContext(FilesOf(config.tls));
  if (!tls) {
    spdlog::error("TLS: {}", tls.error().message);
    return 1;
  }
  asio::io_context io;
  // Declared after `io`, so destroyed before it: its destructor waits for a
  // running model job and drops that job's completion.
  ModelLane lane(io.get_executor());
  ConnectionLoop loop(io, config, participant, options, *tls, lane);
  // The periodic task (inbox learning) runs on the model worker when no
  // round's training runs there, so it never races the round logic; while
  // the worker is busy a poll is skipped.
  asio::steady_timer periodic_timer(io);
  std::function<void()> arm_periodic;
  const auto run_periodic = [&] {
    const bool started = lane.TryRun(
        "inbox learning",
        [&]() -> Status {
          options.periodic();
          return {};
        },
        [](Status s) {
          if (!s) spdlog::error("{}", s.error().message);
        });
    if (!started) spdlog::debug("inbox poll skipped: the model worker is busy");
  };
  arm_periodic = [&] {
    periodic_timer.expires_after(options.periodic_interval);
    periodic_timer.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      run_periodic();
      arm_periodic();
    });
  };
  if (options.periodic) {
    asio::post(io, [&] {
      run_periodic();
      arm_periodic();
    });
  }
  // Destroyed before `io` on every return below: what on_start created on
  // the io_context must go before it does.
  struct OnStop {
    const std::function<void()>& stop;
    ~OnStop() {
      if (stop) stop();
    }
  } on_stop{options.on_stop};
  if (options.on_start) {
    if (auto s = options.on_start(io); !s) {
      spdlog::error("{}", s.error().message);
      return 1;
    }
  }
  // Reports are offered every second; the callback decides when one is due.
  asio::steady_timer report_timer(io);
  std::function<void()> offer_report = [&] {
    if (auto message = options.outgoing()) (void)loop.SendNow(*message);
    report_timer.expires_after(std::chrono::seconds(1));
    report_timer.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) offer_report();
    });
  };
  if (options.outgoing) asio::post(io, offer_report);
  asio::signal_set hangup(io, SIGHUP);
  std::function<void()> wait_for_hangup = [&] {
    hangup.async_wait([&](const boost::system::error_code& ec, int) {
      if (ec) return;
      ReloadOnHangup(config, **tls, options.readiness);
      wait_for_hangup();
    });
  };
  wait_for_hangup();
  if (options.readiness != nullptr) options.readiness->SetRunning(true);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", signal);
    loop.Stop();
    periodic_timer.cancel();
    report_timer.cancel();
    hangup.cancel();
    io.stop();
  });
  bool failed = false;
  asio::co_spawn(io, loop.Run(), [&](std::exception_ptr e) {
    if (!e) return;
    failed = true;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::critical("connection loop failed: {}", ex.what());
    }
    io.stop();
  });
  io.run();
  return failed ? 1 : 0;
}

}  // namespace cls::site
