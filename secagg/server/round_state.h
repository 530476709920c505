#ifndef CLS_SECAGG_SERVER_ROUND_STATE_H_
#define CLS_SECAGG_SERVER_ROUND_STATE_H_

#include <memory>
#include <set>
#include <string>

#include "secagg/server/round_context.h"

namespace cls::coordinator {

// One stage of the secure aggregation server. A state receives the messages
// of its stage, drops sites that misbehave or vanish, and, once every
// expected site has answered (or the stage deadline passed), returns the next
// state. Only SecureRound swaps states (a result of background work reaches
// it through RoundContext::advance). Not thread-safe.
class RoundState {
 public:
  explicit RoundState(RoundContext& context) : context_(context) {}
  virtual ~RoundState() = default;
  RoundState(const RoundState&) = delete;
  RoundState& operator=(const RoundState&) = delete;

  virtual RoundStage stage() const = 0;
  // Work of this stage is running on a worker pool: no site owes the stage
  // anything and the stage only waits for that result, so messages, lost
  // sites and deadlines are ignored meanwhile (as they would be in a round
  // that had already finished).
  virtual bool busy() const { return false; }

  // Each returns the next state, or nullptr to stay in this one.
  std::unique_ptr<RoundState> OnMessage(uint32_t index,
                                        const protocol::Message& message);
  std::unique_ptr<RoundState> OnSiteLost(uint32_t index);
  std::unique_ptr<RoundState> OnDeadline();
  // An abort from outside the protocol (an operator's): every site still in
  // the round is told, as for any other abort. nullptr once finished; the
  // caller must not call it while busy() (SecureRound::Abort waits).
  std::unique_ptr<RoundState> OnAbort(std::string reason);

 protected:
  // Handles a message of this stage from an active, expected site. Returns
  // false (after dropping the site) when the message is bad.
  virtual void Handle(uint32_t index, const protocol::Message& message) = 0;
  // Whether the site still owes this stage a message.
  virtual bool Pending(const ParticipantState& site) const = 0;
  // Called when nothing is pending any more; builds the next state.
  virtual std::unique_ptr<RoundState> Finish() = 0;

  // Drops the site and closes its connection: it broke the protocol.
  void Reject(uint32_t index, std::string reason);
  std::unique_ptr<RoundState> Abort(std::string reason);
  // The reason to abort when fewer than the round's minimum of sites are
  // live (issue 11: a stage never closes on an empty or tiny set); "" if ok.
  std::string CheckLiveSites(size_t live) const;
  // Checks that every site in `members` has at least its threshold of
  // neighbours in `alive`; otherwise the reason to abort.
  std::string CheckNeighbourhoods(const std::set<uint32_t>& members,
                                  const std::set<uint32_t>& alive) const;
  std::set<uint32_t> Active(bool (*pred)(const ParticipantState&)) const;
  uint64_t round_id() const { return context_.settings.round_id; }

  RoundContext& context_;

 private:
  std::unique_ptr<RoundState> MaybeFinish();
};

// Terminal states.
class RoundCompletedState final : public RoundState {
 public:
  using RoundState::RoundState;
  RoundStage stage() const override { return RoundStage::kCompleted; }

 protected:
  void Handle(uint32_t, const protocol::Message&) override {}
  bool Pending(const ParticipantState&) const override { return false; }
  std::unique_ptr<RoundState> Finish() override { return nullptr; }
};

class RoundAbortedState final : public RoundState {
 public:
  using RoundState::RoundState;
  RoundStage stage() const override { return RoundStage::kAborted; }

 protected:
  void Handle(uint32_t, const protocol::Message&) override {}
  bool Pending(const ParticipantState&) const override { return false; }
  std::unique_ptr<RoundState> Finish() override { return nullptr; }
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_STATE_H_
