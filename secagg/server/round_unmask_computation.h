#ifndef CLS_SECAGG_SERVER_ROUND_UNMASK_COMPUTATION_H_
#define CLS_SECAGG_SERVER_ROUND_UNMASK_COMPUTATION_H_

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "secagg/server/round_context.h"

namespace cls::coordinator {

// What the unmask arithmetic reads: copies of the round's data as the unmask
// stage closed (the running sum and the revealed shares moved in). A job owns
// its inputs, so it may run on any thread while the round's thread goes on.
struct UnmaskInputs {
  uint64_t round_id = 0;
  std::string coordinator_id;
  core::QuantizationSpec quantization;
  std::vector<ParticipantState> participants;  // participants[index - 1]
  std::set<uint32_t> dropped;                  // whose mask keys to recover
  std::vector<uint32_t> masked_sum;
  std::map<uint32_t, std::vector<RevealedShare>> self_mask_shares;
  std::map<uint32_t, std::vector<RevealedShare>> mask_key_shares;
};

// Something the computation proved about a site, applied on the round's
// thread in this order: the site is blamed (if `blame` is set), then dropped
// and disconnected (if `drop_reason` is set).
struct UnmaskFinding {
  uint32_t site = 0;
  std::string blame;
  std::string drop_reason;
};

struct UnmaskResult {
  std::string abort_reason;  // empty: the outcome is valid
  RoundOutcome outcome;
  std::vector<UnmaskFinding> findings;
};

// The unmask stage's arithmetic: reconstructs each survivor's self-mask seed
// and each dropped site's mask key from the revealed shares (telling forged
// shares from badly dealt ones by the owners' signatures), removes every
// self and pairwise mask from the sum (one PRG pass over the input per mask)
// and decodes the weighted mean. Pure: touches nothing but its inputs.
UnmaskResult ComputeUnmask(UnmaskInputs inputs);

}  // namespace cls::coordinator

#endif  // CLS_SECAGG_SERVER_ROUND_UNMASK_COMPUTATION_H_
