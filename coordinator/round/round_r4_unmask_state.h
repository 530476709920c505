#ifndef CLS_COORDINATOR_ROUND_ROUND_R3_UNMASK_STATE_H_
#define CLS_COORDINATOR_ROUND_ROUND_R3_UNMASK_STATE_H_

#include <set>

#include "coordinator/round/round_state.h"

namespace cls::coordinator {

// Stage 4: survivors send their shares of survivors' self-mask seeds and of
// dropped sites' mask keys. The coordinator reconstructs each secret from a
// threshold of shares, checks it against what its owner committed to, removes
// the masks and decodes the weighted mean delta. Next: Completed, or Aborted
// when a secret cannot be reconstructed.
class RoundUnmaskState final : public RoundState {
 public:
  RoundUnmaskState(RoundContext& context, std::set<uint32_t> dropped)
      : RoundState(context), dropped_(std::move(dropped)) {}
  RoundStage stage() const override { return RoundStage::kUnmask; }

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return site.masked && !site.unmasked;
  }
  std::unique_ptr<RoundState> Finish() override;

 private:
  // Removes the masks from context_.masked_sum; the abort reason on failure.
  std::string RemoveMasks(const std::set<uint32_t>& survivors);
  void DecodeOutcome(const std::set<uint32_t>& survivors);

  std::set<uint32_t> dropped_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_R3_UNMASK_STATE_H_
