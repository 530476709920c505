#ifndef CLS_SECAGG_SERVER_ROUND_R4_UNMASK_STATE_H_
#define CLS_SECAGG_SERVER_ROUND_R4_UNMASK_STATE_H_

#include <set>

#include "common/error.h"
#include "secagg/server/round_state.h"
#include "secagg/server/round_unmask_computation.h"

namespace cls::coordinator {

// Stage 4: the sites that signed the survivor set send their shares of
// survivors' self-mask seeds and of dropped sites' mask keys, each with its
// owner's signature. The coordinator reconstructs each secret from a
// threshold of shares and checks it against what its owner committed to, and
// checks every further share against the secret. Only when something does
// not fit are the owners' signatures checked, to tell who lied: a share its
// owner never signed names the site that revealed it (dropped, its shares
// no longer used); a signed share that does not fit names the owner. The
// secret is then recovered from the shares that fit, if a threshold remain.
// Then it removes the masks and decodes the weighted mean delta. Next:
// Completed, or Aborted when a secret cannot be reconstructed.
class RoundUnmaskState final : public RoundState {
 public:
  RoundUnmaskState(RoundContext& context, std::set<uint32_t> dropped)
      : RoundState(context), dropped_(std::move(dropped)) {}
  RoundStage stage() const override { return RoundStage::kUnmask; }
  bool busy() const override { return computing_; }

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return site.signed_survivors && !site.unmasked;
  }
  // Runs the unmask arithmetic (ComputeUnmask) inline, or, with a worker
  // pool, starts it there and stays (busy) until Conclude.
  std::unique_ptr<RoundState> Finish() override;

 private:
  UnmaskInputs TakeInputs();
  // Applies what the computation proved (blames, forgers dropped) and
  // returns Completed with the outcome, or Aborted.
  std::unique_ptr<RoundState> Conclude(Result<UnmaskResult> result);

  std::set<uint32_t> dropped_;
  bool computing_ = false;
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_R4_UNMASK_STATE_H_
