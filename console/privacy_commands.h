#ifndef CLS_CONSOLE_PRIVACY_COMMANDS_H_
#define CLS_CONSOLE_PRIVACY_COMMANDS_H_

#include <cstdint>

#include "console/commands.h"

namespace cls::console {

// `clsctl privacy epsilon`: the offline calculator (no coordinator needed):
// epsilon after `rounds` rounds of the Poisson-subsampled Gaussian mechanism
// with the given noise multiplier and sampling rate, at `delta`, and the RDP
// order that gives it (core/privacy, the accountant the coordinator uses).
struct PrivacyEpsilonOptions {
  double noise_multiplier = 0;
  std::int64_t rounds = 1;
  double sampling_rate = 1.0;
  double delta = 1e-5;
};
// Prints "epsilon E at delta D (optimal RDP order A)" or, with ctx.json,
// {"epsilon", "order", "noise_multiplier", "rounds", "sampling_rate",
// "delta"}. kUsage for impossible parameters, with the reason.
CommandResult RunPrivacyEpsilon(CommandContext& ctx,
                                const PrivacyEpsilonOptions& options);

// `clsctl privacy status`: GET /v1/privacy, as a summary and a per-round
// table (or the coordinator's JSON with --json).
CommandResult RunPrivacyStatus(CommandContext& ctx, std::int64_t limit);

}  // namespace cls::console

#endif  // CLS_CONSOLE_PRIVACY_COMMANDS_H_
