#include "secagg/server/round_r2_masked_input_state.h"

#include "secagg/server/round_r3_consistency_check_state.h"

namespace cls::coordinator {

void RoundMaskedInputState::Handle(uint32_t index,
                                   const protocol::Message& message) {
  const auto* input = std::get_if<protocol::MaskedInput>(&message);
  if (input == nullptr) {
    return Reject(index, "expected masked_input, got " +
                             std::string(protocol::MessageName(message)));
  }
  if (input->round_id != round_id()) {
    return Reject(index,
                  "masked_input for round " + std::to_string(input->round_id));
  }
  // Packed on the wire at its own width: it must be the round's.
  const int ring_bits = context_.settings.quantization.ring_bits;
  if (input->ring_bits != ring_bits) {
    return Reject(
        index, "masked_input: packed at " + std::to_string(input->ring_bits) +
                   " bits, the round's ring has " + std::to_string(ring_bits));
  }
  auto& sum = context_.masked_sum;
  if (input->masked.size() != sum.size()) {
    return Reject(index,
                  "masked_input: " + std::to_string(input->masked.size()) +
                      " elements, expected " + std::to_string(sum.size()));
  }
  const uint32_t modulus = context_.Modulus();
  uint32_t out_of_ring = 0;
  for (uint32_t v : input->masked) out_of_ring |= v & ~modulus;
  if (out_of_ring != 0) {
    return Reject(index,
                  "masked_input: element outside Z_(2^" +
                      std::to_string(context_.settings.quantization.ring_bits) +
                      ")");
  }
  const auto& m = input->metrics;
  if (m.correct > m.count) {
    return Reject(index,
                  "masked_input: metrics report more correct than counted");
  }
  for (size_t i = 0; i < sum.size(); ++i) sum[i] += input->masked[i];
  ParticipantState& site = context_.at(index);
  site.metrics = m;
  site.masked = true;
}

std::unique_ptr<RoundState> RoundMaskedInputState::Finish() {
  const uint32_t modulus = context_.Modulus();
  for (auto& v : context_.masked_sum) v &= modulus;

  // U3: every site whose input is in the sum, including one lost after its
  // input was accepted (its self mask must come out, not its pairwise
  // masks). Only the live ones can answer the next stages.
  std::set<uint32_t> u3, live;
  for (const auto& site : context_.participants) {
    if (!site.masked) continue;
    u3.insert(site.index);
    if (!site.dropped) live.insert(site.index);
  }
  // In U2 (its neighbours masked with it), then no input: its pairwise masks
  // must be removed. A site that sent shares but vanished before U2 was fixed
  // is not here: nobody masked with it.
  std::set<uint32_t> dropped;
  for (const auto& site : context_.participants) {
    if (site.in_masking_set && !site.masked) dropped.insert(site.index);
  }
  // Survivors' self masks and dropped sites' pairwise masks must both be
  // reconstructible from the live survivors' shares.
  std::string why = CheckNeighbourhoods(u3, live);
  if (why.empty()) why = CheckNeighbourhoods(dropped, live);
  if (why.empty()) why = CheckLiveSites(u3.size());
  if (!why.empty()) return Abort("masked_input: " + why);

  context_.survivor_set.assign(u3.begin(), u3.end());
  for (uint32_t index : live) {
    context_.Send(index,
                  protocol::SurvivorSet{round_id(), context_.survivor_set});
  }
  return std::make_unique<RoundConsistencyCheckState>(context_,
                                                      std::move(dropped));
}

}  // namespace cls::coordinator
