#ifndef CLS_SITE_AGENT_CONNECTION_LOOP_H_
#define CLS_SITE_AGENT_CONNECTION_LOOP_H_

#include <utility>  // Boost 1.74 Asio needs it first in C++23 mode.

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "protocol/messages.h"
#include "site-agent/agent.h"
#include "site-agent/config.h"
#include "site-agent/model_lane.h"
#include "site-agent/round_participant.h"

namespace cls::site {

// The agent's link to the coordinator: connects over mutual TLS, says
// Hello, and feeds every message to the round participant (a RoundAnnounce's
// training runs on `lane`, the read loop waiting for it, so messages are
// handled in order as before), serving (deployments) or the audit checkpoint
// store; replies go through a single writer. Reconnects with backoff
// (RunAgent's comment). Lives on the io thread: every call there.
class ConnectionLoop {
 public:
  ConnectionLoop(boost::asio::io_context& io, const AgentConfig& config,
                 RoundParticipant& participant, const AgentOptions& options,
                 std::shared_ptr<boost::asio::ssl::context> tls,
                 ModelLane& lane);
  ~ConnectionLoop();

  // Until Stop().
  boost::asio::awaitable<void> Run();
  void Stop();
  // Sends `message` on the current connection; false when there is none or
  // its queue is full (periodic reports are simply sent next time).
  bool SendNow(const protocol::Message& message);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cls::site

#endif  // CLS_SITE_AGENT_CONNECTION_LOOP_H_
