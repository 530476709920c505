#ifndef CLS_SECAGG_SERVER_ROUND_R1_SHARE_KEYS_STATE_H_
#define CLS_SECAGG_SERVER_ROUND_R1_SHARE_KEYS_STATE_H_

#include "secagg/server/round_state.h"

namespace cls::coordinator {

// Stage 2: each site sends one encrypted share pair for every neighbour that
// advertised keys; the coordinator forwards them, unread (it cannot decrypt
// them), to their receivers. Next: MaskedInput, or Aborted.
class RoundShareKeysState final : public RoundState {
 public:
  using RoundState::RoundState;
  RoundStage stage() const override { return RoundStage::kShareKeys; }

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return !site.shared;
  }
  std::unique_ptr<RoundState> Finish() override;
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_R1_SHARE_KEYS_STATE_H_
