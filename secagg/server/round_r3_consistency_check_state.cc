#include "secagg/server/round_r3_consistency_check_state.h"

#include "secagg/common/secagg.h"
#include "secagg/server/round_r4_unmask_state.h"

namespace cls::coordinator {

void RoundConsistencyCheckState::Handle(uint32_t index,
                                        const protocol::Message& message) {
  const auto* signed_set =
      std::get_if<protocol::SurvivorSetSignature>(&message);
  if (signed_set == nullptr) {
    return Reject(index, "expected survivor_set_signature, got " +
                             std::string(protocol::MessageName(message)));
  }
  if (signed_set->round_id != round_id()) {
    return Reject(index, "survivor_set_signature for round " +
                             std::to_string(signed_set->round_id));
  }
  ParticipantState& site = context_.at(index);
  // Its neighbours would refuse to unmask on a bad signature; leave it out
  // here instead, so one site cannot stall its whole neighbourhood.
  if (!site.certificate->Verify(
          protocol::SurvivorSetPayload(context_.settings.coordinator_id,
                                       round_id(), context_.survivor_set),
          signed_set->signature)) {
    return Reject(index, "survivor_set_signature: signature does not verify");
  }
  site.survivor_signature = signed_set->signature;
  site.signed_survivors = true;
}

std::unique_ptr<RoundState> RoundConsistencyCheckState::Finish() {
  std::set<uint32_t> u3(context_.survivor_set.begin(),
                        context_.survivor_set.end());
  std::set<uint32_t> signers =
      Active([](const ParticipantState& s) { return s.signed_survivors; });
  // Only signers are asked to unmask, and each checks that a threshold of
  // its neighbours signed: every secret still needed must be recoverable
  // from them.
  std::string why = CheckNeighbourhoods(signers, signers);
  if (why.empty()) why = CheckNeighbourhoods(u3, signers);
  if (why.empty()) why = CheckNeighbourhoods(dropped_, signers);
  if (!why.empty()) return Abort("consistency_check: " + why);

  for (uint32_t index : signers) {
    protocol::UnmaskRequest request{.round_id = round_id(),
                                    .survivors = {},
                                    .dropped = {},
                                    .signatures = {}};
    for (uint32_t n : context_.at(index).neighbours) {
      if (u3.count(n)) request.survivors.push_back(n);
      if (dropped_.count(n)) request.dropped.push_back(n);
      if (signers.count(n)) {
        request.signatures.push_back({n, context_.at(n).survivor_signature});
      }
    }
    context_.Send(index, std::move(request));
  }
  return std::make_unique<RoundUnmaskState>(context_, std::move(dropped_));
}

}  // namespace cls::coordinator
