#ifndef CLS_SECAGG_SERVER_ROUND_R2_MASKED_INPUT_STATE_H_
#define CLS_SECAGG_SERVER_ROUND_R2_MASKED_INPUT_STATE_H_

#include "secagg/server/round_state.h"

namespace cls::coordinator {

// Stage 3: each site sends its masked, quantized, weighted delta; the
// coordinator adds them modulo 2^ring_bits as they arrive (it never holds an
// unmasked input). Then it sends the survivor set to the live survivors for
// signing. Next: ConsistencyCheck, or Aborted when too few survived.
class RoundMaskedInputState final : public RoundState {
 public:
  using RoundState::RoundState;
  RoundStage stage() const override { return RoundStage::kMaskedInput; }

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return !site.masked;
  }
  std::unique_ptr<RoundState> Finish() override;
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_R2_MASKED_INPUT_STATE_H_
