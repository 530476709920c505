#ifndef CLS_SECAGG_SERVER_ROUND_R0_ADVERTISE_KEYS_STATE_H_
#define CLS_SECAGG_SERVER_ROUND_R0_ADVERTISE_KEYS_STATE_H_

#include "secagg/server/round_state.h"

namespace cls::coordinator {

// Stage 1: every participant sends two X25519 public keys. Then each site
// gets its neighbours' keys (KeyDirectory). Next: ShareKeys, or Aborted when
// a neighbourhood falls below its threshold.
class RoundAdvertiseKeysState final : public RoundState {
 public:
  using RoundState::RoundState;
  RoundStage stage() const override { return RoundStage::kAdvertiseKeys; }

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return !site.advertised;
  }
  std::unique_ptr<RoundState> Finish() override;
};

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_R0_ADVERTISE_KEYS_STATE_H_
