#include "secagg/server/round_r4_unmask_state.h"

#include <memory>
#include <string>

#include "common/worker_pool.h"
#include "crypto/shamir.h"
#include "secagg/common/secagg.h"

namespace cls::coordinator {
namespace {

constexpr size_t kSecretBytes = 32;

}  // namespace

void RoundUnmaskState::Handle(uint32_t index,
                              const protocol::Message& message) {
  const auto* response = std::get_if<protocol::UnmaskResponse>(&message);
  if (response == nullptr) {
    return Reject(index, "expected unmask_response, got " +
                             std::string(protocol::MessageName(message)));
  }
  if (response->round_id != round_id()) {
    return Reject(index, "unmask_response for round " +
                             std::to_string(response->round_id));
  }
  ParticipantState& site = context_.at(index);
  const size_t chunks = crypto::ShamirChunkCount(kSecretBytes);
  std::set<uint32_t> neighbours(site.neighbours.begin(), site.neighbours.end());
  // A site may omit a share it could not decrypt, but may not add any. The
  // owners' signatures are checked only when a secret does not come out
  // (Recover): then they tell who lied.
  auto check = [&](const std::vector<protocol::SecretShare>& shares,
                   bool survivors) -> std::string {
    std::set<uint32_t> owners;
    for (const auto& share : shares) {
      bool owner_ok = neighbours.count(share.owner_index) &&
                      (survivors ? context_.at(share.owner_index).masked
                                 : dropped_.count(share.owner_index) > 0);
      if (!owner_ok || !owners.insert(share.owner_index).second) {
        return "unexpected or repeated share owner " +
               std::to_string(share.owner_index);
      }
      if (share.x != index || share.y.size() != chunks) {
        return "malformed share of owner " + std::to_string(share.owner_index);
      }
    }
    return "";
  };
  std::string why = check(response->self_mask_shares, true);
  if (why.empty()) why = check(response->mask_key_shares, false);
  if (!why.empty()) return Reject(index, "unmask_response: " + why);

  for (const auto& s : response->self_mask_shares) {
    context_.self_mask_shares[s.owner_index].push_back(
        {{s.x, s.y}, s.signature, index});
  }
  for (const auto& s : response->mask_key_shares) {
    context_.mask_key_shares[s.owner_index].push_back(
        {{s.x, s.y}, s.signature, index});
  }
  site.unmasked = true;
}

UnmaskInputs RoundUnmaskState::TakeInputs() {
  UnmaskInputs in;
  in.round_id = round_id();
  in.coordinator_id = context_.settings.coordinator_id;
  in.quantization = context_.settings.quantization;
  in.participants = context_.participants;
  in.dropped = dropped_;
  // The round needs neither again: the result carries the unmasked sum.
  in.masked_sum = std::move(context_.masked_sum);
  in.self_mask_shares = std::move(context_.self_mask_shares);
  in.mask_key_shares = std::move(context_.mask_key_shares);
  context_.masked_sum.clear();
  context_.self_mask_shares.clear();
  context_.mask_key_shares.clear();
  return in;
}

std::unique_ptr<RoundState> RoundUnmaskState::Finish() {
  if (computing_) return nullptr;
  if (context_.workers == nullptr) {
    return Conclude(ComputeUnmask(TakeInputs()));
  }
  computing_ = true;
  // The job owns its inputs; `this` is used only on the round's thread, and
  // only while the round lives (it cannot change state while busy).
  context_.workers->Run(
      context_.sender->executor(),
      "round " + std::to_string(round_id()) + ": unmask",
      [inputs = TakeInputs()]() mutable -> Result<UnmaskResult> {
        return ComputeUnmask(std::move(inputs));
      },
      [this, alive = std::weak_ptr<const bool>(context_.lifetime)](
          Result<UnmaskResult> result) {
        if (alive.expired()) return;
        computing_ = false;
        // Advancing may end in the driver destroying the round (and this
        // state): a copy of the function, and nothing touched after.
        auto advance = context_.advance;
        advance(Conclude(std::move(result)));
      });
  return nullptr;
}

std::unique_ptr<RoundState> RoundUnmaskState::Conclude(
    Result<UnmaskResult> result) {
  if (!result) return Abort("unmask: " + result.error().message);
  for (auto& finding : result->findings) {
    if (!finding.blame.empty()) {
      context_.Blame(finding.site, std::move(finding.blame));
    }
    if (!finding.drop_reason.empty()) {
      context_.Drop(finding.site, std::move(finding.drop_reason),
                    /*disconnect=*/true);
    }
  }
  if (!result->abort_reason.empty()) {
    return Abort("unmask: " + result->abort_reason);
  }
  context_.outcome = std::move(result->outcome);
  return std::make_unique<RoundCompletedState>(context_);
}

}  // namespace cls::coordinator
