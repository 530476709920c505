#ifndef CLS_SECAGG_SERVER_ROUND_R3_CONSISTENCY_CHECK_STATE_H_
#define CLS_SECAGG_SERVER_ROUND_R3_CONSISTENCY_CHECK_STATE_H_

#include <set>

#include "secagg/server/round_state.h"

namespace cls::coordinator {

// Stage 3b (Bonawitz et al. 2017, active adversary): each live survivor signs
// the survivor set it was sent. The coordinator checks each signature, then
// sends every signer its neighbourhood's survivors and dropped sites with its
// neighbours' signatures, which the site checks before revealing any share.
// A coordinator that showed different sites different sets could not gather
// a threshold of signatures for each. Next: Unmask, or Aborted when too few
// signed.
class RoundConsistencyCheckState final : public RoundState {
 public:
  RoundConsistencyCheckState(RoundContext& context, std::set<uint32_t> dropped)
      : RoundState(context), dropped_(std::move(dropped)) {}
  RoundStage stage() const override { return RoundStage::kConsistencyCheck; }

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return site.masked && !site.signed_survivors;
  }
  std::unique_ptr<RoundState> Finish() override;

 private:
  std::set<uint32_t> dropped_;
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_R3_CONSISTENCY_CHECK_STATE_H_
