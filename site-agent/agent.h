#ifndef CLS_SITE_AGENT_AGENT_H_
#define CLS_SITE_AGENT_AGENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.h"
#include "site-agent/agent_metrics.h"
#include "site-agent/config.h"
#include "site-agent/round_participant.h"

namespace boost::asio {
class io_context;
}

namespace cls::site {

// TESTING ONLY: end the process with std::_Exit(3) right after this site has
// sent `stage` ("advertise_keys", "share_keys" or "masked_input") in round
// `round_id`, to simulate a crash mid-round.
struct ExitAfter {
  std::string stage;
  uint64_t round_id = 0;
};

// Parses "STAGE:ROUND".
Result<ExitAfter> ParseExitAfter(std::string_view text);

struct AgentOptions {
  std::optional<ExitAfter> test_exit_after;
  // Called every `periodic_interval` (the online inbox poll) on the model
  // worker thread, never while a round's training or the round logic uses
  // the LocalModel (site-agent/model_lane.h); a poll that finds the worker
  // busy is skipped. None if empty.
  std::function<void()> periodic;
  std::chrono::seconds periodic_interval{10};
  // Serving (docs/serving.md): a DeploymentUpdate from the coordinator goes
  // here, and the reply (DeploymentAck) is sent back.
  std::function<std::optional<protocol::Message>(const protocol::Message&)>
      serving_message;
  // Offered every second; a message it returns (a DriftReport) is sent on
  // the current connection, if any.
  std::function<std::optional<protocol::Message>()> outgoing;
  // Runs once on the agent's thread before its io_context runs (serving
  // starts its own threads here); an error stops the agent.
  std::function<Status(boost::asio::io_context&)> on_start;
  // Runs once when the agent stops (or on_start failed), while the
  // io_context still exists: whatever on_start started is stopped here
  // (serving joins its threads), before the io_context goes.
  std::function<void()> on_stop;
  // The monitoring port's view (site-agent/agent_metrics.h); null: none.
  // Both must outlive RunAgent.
  AgentMetrics* metrics = nullptr;
  AgentReadiness* readiness = nullptr;
};

// The connection loop: connects to the coordinator over mutual TLS, says
// Hello, and feeds every message to `participant`, sending its replies
// through a single writer. Rejections (a site awaiting approval) and
// connection failures are retried with backoff (1 s doubling to 10 s). Blocks
// until SIGINT or SIGTERM; returns the process exit code (0 on a signal, 1 if
// the TLS files cannot be used). SIGHUP reopens the log file and reloads the
// CRL (a revoked coordinator or neighbour is refused from then on); it never
// interrupts a round. All Asio code of the agent lives behind this
// call.
int RunAgent(const AgentConfig& config, RoundParticipant& participant,
             const AgentOptions& options);

// Builds the client TLS context from [tls] and checks that the certificate's
// CN is the configured site_id (the coordinator identifies sites by it).
Status CheckTlsIdentity(const AgentConfig& config);

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_AGENT_H_
