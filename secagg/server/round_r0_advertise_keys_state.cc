#include "secagg/server/round_r0_advertise_keys_state.h"

#include "secagg/common/secagg.h"
#include "secagg/server/round_r1_share_keys_state.h"

namespace cls::coordinator {

void RoundAdvertiseKeysState::Handle(uint32_t index,
                                     const protocol::Message& message) {
  const auto* keys = std::get_if<protocol::AdvertiseKeys>(&message);
  if (keys == nullptr) {
    return Reject(index, "expected advertise_keys, got " +
                             std::string(protocol::MessageName(message)));
  }
  if (keys->round_id != round_id()) {
    return Reject(index,
                  "advertise_keys for round " + std::to_string(keys->round_id));
  }
  if (keys->cipher_public_key == keys->mask_public_key) {
    return Reject(index, "advertise_keys: the two public keys are equal");
  }
  // Two sites with the same key would share masks with everyone; refuse both
  // the copy and the original cannot be told apart, so refuse the newcomer.
  for (const auto& other : context_.participants) {
    if (other.advertised &&
        (other.keys.mask_public_key == keys->mask_public_key ||
         other.keys.cipher_public_key == keys->cipher_public_key)) {
      return Reject(index, "advertise_keys: public key reused by another site");
    }
  }
  ParticipantState& site = context_.at(index);
  // Its neighbours will refuse keys it did not sign; dropping it here keeps a
  // site with a bad signature from knocking them all out of the round.
  if (!site.certificate ||
      !site.certificate->Verify(
          protocol::AdvertisePayload(context_.settings.coordinator_id,
                                     round_id(), index, keys->cipher_public_key,
                                     keys->mask_public_key,
                                     keys->self_mask_commitment),
          keys->signature)) {
    return Reject(index, "advertise_keys: signature does not verify");
  }
  site.keys = *keys;
  site.advertised = true;
}

std::unique_ptr<RoundState> RoundAdvertiseKeysState::Finish() {
  std::set<uint32_t> u1 =
      Active([](const ParticipantState& s) { return s.advertised; });
  std::string why = CheckNeighbourhoods(u1, u1);
  if (why.empty()) why = CheckLiveSites(u1.size());
  if (!why.empty()) return Abort("advertise_keys: " + why);
  context_.key_directory = u1;
  for (uint32_t index : u1) {
    protocol::KeyDirectory directory{.round_id = round_id(), .keys = {}};
    for (uint32_t n : context_.at(index).neighbours) {
      if (!u1.count(n)) continue;
      const ParticipantState& peer = context_.at(n);
      directory.keys.push_back({n, peer.keys.cipher_public_key,
                                peer.keys.mask_public_key,
                                peer.keys.self_mask_commitment,
                                peer.certificate->der(), peer.keys.signature});
    }
    context_.Send(index, std::move(directory));
  }
  return std::make_unique<RoundShareKeysState>(context_);
}

}  // namespace cls::coordinator
