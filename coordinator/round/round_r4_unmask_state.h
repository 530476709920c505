#ifndef CLS_COORDINATOR_ROUND_ROUND_R4_UNMASK_STATE_H_
#define CLS_COORDINATOR_ROUND_ROUND_R4_UNMASK_STATE_H_

#include <functional>
#include <optional>
#include <set>
#include <string_view>

#include "coordinator/round/round_state.h"
#include "protocol/secagg.h"

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

 protected:
  void Handle(uint32_t index, const protocol::Message& message) override;
  bool Pending(const ParticipantState& site) const override {
    return site.signed_survivors && !site.unmasked;
  }
  std::unique_ptr<RoundState> Finish() override;

 private:
  // Removes the masks from context_.masked_sum; the abort reason on failure.
  std::string RemoveMasks(const std::set<uint32_t>& survivors);
  // The owner's secret from its revealed shares, or nullopt with why not in
  // `why`; names the holders that made up shares and the owner if it dealt
  // shares that do not fit.
  std::optional<Key32> Recover(uint32_t owner, protocol::SecretKind kind,
                               const std::vector<RevealedShare>& shares,
                               const std::function<bool(const Key32&)>& fits,
                               std::string& why);
  bool SignedByOwner(uint32_t owner, protocol::SecretKind kind,
                     const RevealedShare& revealed) const;
  // Blames the holder of a share its owner never signed and drops it; its
  // other shares are no longer used.
  void RejectForger(uint32_t holder, uint32_t owner);
  void DecodeOutcome(const std::set<uint32_t>& survivors);

  std::set<uint32_t> dropped_;
  std::set<uint32_t> forgers_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ROUND_ROUND_R4_UNMASK_STATE_H_
