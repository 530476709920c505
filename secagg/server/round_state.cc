#include "secagg/server/round_state.h"

#include <algorithm>
#include <variant>

namespace cls::coordinator {

std::string_view RoundStageName(RoundStage stage) {
  switch (stage) {
    case RoundStage::kAdvertiseKeys:
      return "advertise_keys";
    case RoundStage::kShareKeys:
      return "share_keys";
    case RoundStage::kMaskedInput:
      return "masked_input";
    case RoundStage::kConsistencyCheck:
      return "consistency_check";
    case RoundStage::kUnmask:
      return "unmask";
    case RoundStage::kCompleted:
      return "completed";
    case RoundStage::kAborted:
      return "aborted";
  }
  return "unknown";
}

uint32_t RoundContext::Modulus() const {
  int bits = settings.quantization.ring_bits;
  return bits >= 32 ? 0xffffffffu : ((1u << bits) - 1);
}

size_t RoundContext::MinSites() const {
  const size_t floor = settings.allow_single_site ? 1 : 2;
  return std::max(floor, settings.min_sites);
}

void RoundContext::Blame(uint32_t index, std::string what) {
  misbehaviours.push_back({at(index).site_id, std::move(what)});
}

void RoundContext::Drop(uint32_t index, std::string reason, bool disconnect) {
  ParticipantState& site = at(index);
  if (site.dropped) return;
  site.dropped = true;
  site.drop_reason = reason;
  if (disconnect && sender) sender->Disconnect(site.site_id, reason);
}

void RoundContext::Send(uint32_t index, protocol::Message message) {
  const ParticipantState& site = at(index);
  if (!site.dropped && sender) sender->Send(site.site_id, std::move(message));
}

std::unique_ptr<RoundState> RoundState::OnMessage(
    uint32_t index, const protocol::Message& message) {
  if (stage() == RoundStage::kCompleted || stage() == RoundStage::kAborted ||
      busy()) {
    return nullptr;
  }
  ParticipantState& site = context_.at(index);
  // A dropped site's late messages are stale, not an offence.
  if (site.dropped) return nullptr;
  if (!Pending(site)) {
    Reject(index, std::string(protocol::MessageName(message)) +
                      " not expected in stage " +
                      std::string(RoundStageName(stage())));
    return MaybeFinish();
  }
  Handle(index, message);
  return MaybeFinish();
}

std::unique_ptr<RoundState> RoundState::OnSiteLost(uint32_t index) {
  if (stage() == RoundStage::kCompleted || stage() == RoundStage::kAborted ||
      busy()) {
    return nullptr;
  }
  context_.Drop(index, "connection lost", /*disconnect=*/false);
  return MaybeFinish();
}

std::unique_ptr<RoundState> RoundState::OnDeadline() {
  if (stage() == RoundStage::kCompleted || stage() == RoundStage::kAborted ||
      busy()) {
    return nullptr;
  }
  for (auto& site : context_.participants) {
    if (!site.dropped && Pending(site)) {
      context_.Drop(
          site.index,
          "missed the " + std::string(RoundStageName(stage())) + " deadline",
          /*disconnect=*/false);
    }
  }
  return MaybeFinish();
}

std::unique_ptr<RoundState> RoundState::OnAbort(std::string reason) {
  if (stage() == RoundStage::kCompleted || stage() == RoundStage::kAborted ||
      busy()) {
    return nullptr;
  }
  return Abort(std::move(reason));
}

std::unique_ptr<RoundState> RoundState::MaybeFinish() {
  for (const auto& site : context_.participants) {
    if (!site.dropped && Pending(site)) return nullptr;
  }
  return Finish();
}

void RoundState::Reject(uint32_t index, std::string reason) {
  context_.Drop(index, std::move(reason), /*disconnect=*/true);
}

std::unique_ptr<RoundState> RoundState::Abort(std::string reason) {
  context_.abort_reason = std::move(reason);
  for (const auto& site : context_.participants) {
    context_.Send(site.index,
                  protocol::RoundAborted{round_id(), context_.abort_reason});
  }
  return std::make_unique<RoundAbortedState>(context_);
}

std::string RoundState::CheckLiveSites(size_t live) const {
  if (live < context_.MinSites()) {
    return std::to_string(live) + " live sites, at least " +
           std::to_string(context_.MinSites()) + " needed";
  }
  return "";
}

std::string RoundState::CheckNeighbourhoods(
    const std::set<uint32_t>& members, const std::set<uint32_t>& alive) const {
  for (uint32_t index : members) {
    const ParticipantState& site = context_.at(index);
    uint32_t count = 0;
    for (uint32_t n : site.neighbours) count += alive.count(n);
    if (count < site.threshold) {
      return "too few sites left: " + site.site_id + " has " +
             std::to_string(count) + " live neighbours, threshold " +
             std::to_string(site.threshold);
    }
  }
  return "";
}

std::set<uint32_t> RoundState::Active(
    bool (*pred)(const ParticipantState&)) const {
  std::set<uint32_t> out;
  for (const auto& site : context_.participants) {
    if (!site.dropped && pred(site)) out.insert(site.index);
  }
  return out;
}

}  // namespace cls::coordinator
