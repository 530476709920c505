#ifndef CLS_SECAGG_SERVER_SECURE_ROUND_H_
#define CLS_SECAGG_SERVER_SECURE_ROUND_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "secagg/server/round_context.h"
#include "secagg/server/round_state.h"

namespace cls::coordinator {

// One secure aggregation round, server side: the facade that owns the round's
// data and swaps its stage states. Feed it decoded messages, lost connections
// and deadline ticks; read the stage and, once completed, the outcome.
// Knows nothing of sockets or timers. Not thread-safe: one thread drives it.
// Given a WorkerPool, the unmask arithmetic runs there (the round reads as
// Unmask and computing() meanwhile) and its result is applied on the
// sender's executor, which must be the driving thread; then `on_progress`
// is called there, since the round moved without a site message. A round
// destroyed while that work runs drops the result.
class SecureRound {
 public:
  // Validates the settings (at least 2 participants, or 1 with
  // settings.allow_single_site, and at least settings.min_sites; each with
  // its certificate; weights positive and
  // summing to 1, a valid quantization whose ring holds the sum) and sends
  // each participant its RoundAnnounce.
  static Result<std::unique_ptr<SecureRound>> Start(
      RoundSettings settings, const std::vector<RoundParticipant>& participants,
      RoundSender* sender, WorkerPool* workers = nullptr,
      std::function<void()> on_progress = {});

  void OnMessage(const std::string& site_id, const protocol::Message& message);
  void OnSiteLost(const std::string& site_id);
  void OnDeadline();
  // Ends the round as aborted with `reason` (the operator's), the sites told
  // as in any other abort. While the unmask runs on the worker pool the
  // round ends so when that result comes back, the result dropped: nothing
  // half-done is ever reported as completed. No-op once finished.
  void Abort(std::string reason);

  RoundStage stage() const { return state_->stage(); }
  bool finished() const {
    return stage() == RoundStage::kCompleted || stage() == RoundStage::kAborted;
  }
  // Background work of the stage is running (see the class comment).
  bool computing() const { return state_->busy(); }
  bool IsParticipant(const std::string& site_id) const {
    return context_.index_of.count(site_id) > 0;
  }
  uint64_t round_id() const { return context_.settings.round_id; }
  const RoundSettings& settings() const { return context_.settings; }
  const RoundOutcome& outcome() const { return context_.outcome; }
  // Once completed: moves the mean delta out, for a caller that is done
  // with the round (outcome().mean_delta is empty afterwards).
  std::vector<float> TakeMeanDelta() {
    return std::move(context_.outcome.mean_delta);
  }
  const std::string& abort_reason() const { return context_.abort_reason; }
  // Sites whose own signatures prove they broke the protocol (so far).
  const std::vector<Misbehaviour>& misbehaviours() const {
    return context_.misbehaviours;
  }
  const std::vector<ParticipantState>& participants() const {
    return context_.participants;
  }
  // Number of stage changes so far; lets the driver re-arm its deadline.
  int transitions() const { return transitions_; }

 private:
  explicit SecureRound(RoundSender* sender);
  void Apply(std::unique_ptr<RoundState> next);

  RoundContext context_;
  std::unique_ptr<RoundState> state_;
  int transitions_ = 0;
  std::function<void()> on_progress_;
  // Set by Abort() while the unmask computes; applied when it returns.
  std::string pending_abort_;
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_SECURE_ROUND_H_
