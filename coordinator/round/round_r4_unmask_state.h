#ifndef CLS_COORDINATOR_ROUND_ROUND_R4_UNMASK_STATE_H_
#define CLS_COORDINATOR_ROUND_ROUND_R4_UNMASK_STATE_H_

#include <functional>
#include <optional>
#include <set>
#include <string_view>

#include "coordinator/round/round_state.h"

namespace cls::coordinator {

// Stage 4: the sites that signed the survivor set send their shares of
// survivors' self-mask seeds and of dropped sites' mask keys, each signed by
// its owner. A share its owner did not sign was made up by the site that
// revealed it: that site is named and its response discarded. The
// coordinator reconstructs each secret from a threshold of shares and checks
// it against what its owner committed to; when the owner dealt shares that do
// not fit (its signatures prove it), the owner is named and the secret is
// recovered from the shares that do, if a threshold remain. Then it removes
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
    return site.signed_survivors && !site.unmasked;
  }
  std::unique_ptr<RoundState> Finish() override;

 private:
  // Removes the masks from context_.masked_sum; the abort reason on failure.
  std::string RemoveMasks(const std::set<uint32_t>& survivors);
  // The owner's secret from its revealed shares, or "" with why not in
  // `why`; blames the owner for shares that do not fit it.
  std::optional<Key32> Recover(uint32_t owner, std::string_view what,
                               const std::vector<RevealedShare>& shares,
                               const std::function<bool(const Key32&)>& fits,
                               std::string& why);
  void DecodeOutcome(const std::set<uint32_t>& survivors);

  std::set<uint32_t> dropped_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_R4_UNMASK_STATE_H_
