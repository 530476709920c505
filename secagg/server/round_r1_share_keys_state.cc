#include "secagg/server/round_r1_share_keys_state.h"

#include <map>

#include "secagg/server/round_r2_masked_input_state.h"

namespace cls::coordinator {

void RoundShareKeysState::Handle(uint32_t index,
                                 const protocol::Message& message) {
  const auto* share_keys = std::get_if<protocol::ShareKeys>(&message);
  if (share_keys == nullptr) {
    return Reject(index, "expected share_keys, got " +
                             std::string(protocol::MessageName(message)));
  }
  if (share_keys->round_id != round_id()) {
    return Reject(
        index, "share_keys for round " + std::to_string(share_keys->round_id));
  }
  ParticipantState& site = context_.at(index);
  // Exactly one share for every other neighbour in its KeyDirectory (U1: a
  // site that advertised but was lost before the directory closed is not in
  // it); it keeps its own share.
  std::set<uint32_t> expected;
  for (uint32_t n : site.neighbours) {
    if (n != index && context_.key_directory.count(n)) expected.insert(n);
  }
  std::set<uint32_t> seen;
  for (const auto& share : share_keys->shares) {
    if (share.from_index != index) {
      return Reject(index, "share_keys: share claims sender " +
                               std::to_string(share.from_index));
    }
    if (!expected.count(share.to_index) ||
        !seen.insert(share.to_index).second) {
      return Reject(index, "share_keys: unexpected or repeated receiver " +
                               std::to_string(share.to_index));
    }
  }
  if (seen.size() != expected.size()) {
    return Reject(index, "share_keys: " + std::to_string(seen.size()) +
                             " shares, expected " +
                             std::to_string(expected.size()));
  }
  site.shares_out = share_keys->shares;
  site.shared = true;
}

std::unique_ptr<RoundState> RoundShareKeysState::Finish() {
  std::set<uint32_t> u2 =
      Active([](const ParticipantState& s) { return s.shared; });
  std::string why = CheckNeighbourhoods(u2, u2);
  if (why.empty()) why = CheckLiveSites(u2.size());
  if (!why.empty()) return Abort("share_keys: " + why);
  std::map<uint32_t, protocol::ShareDelivery> deliveries;
  for (uint32_t index : u2) {
    deliveries[index].round_id = round_id();
    context_.at(index).in_masking_set = true;
  }
  for (uint32_t from : u2) {
    for (auto& share : context_.at(from).shares_out) {
      if (u2.count(share.to_index)) {
        deliveries[share.to_index].shares.push_back(std::move(share));
      }
    }
    context_.at(from).shares_out.clear();
  }
  for (auto& [index, delivery] : deliveries) {
    context_.Send(index, std::move(delivery));
  }
  context_.masked_sum.assign(context_.settings.InputLength(), 0);
  return std::make_unique<RoundMaskedInputState>(context_);
}

}  // namespace cls::coordinator
