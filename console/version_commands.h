#ifndef CLS_CONSOLE_VERSION_COMMANDS_H_
#define CLS_CONSOLE_VERSION_COMMANDS_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "console/commands.h"

namespace cls::console {

// `clsctl versions list`: GET /v1/versions as a table, newest first
// (VERSION, CREATED, ROUND, PARENT, ACC, PREC, RECALL, F1, MACRO_F1, AUC,
// SAMPLES; "*" marks the federation's current model; "-" where no site
// reported yet; MACRO_F1 only for multi-class models).
// limit 0 = the coordinator's default.
CommandResult RunVersionsList(CommandContext& ctx, std::int64_t limit);

// `clsctl versions show V`: GET /v1/versions/V: metadata, metrics, lineage
// (parent, rounds, contributing sites, privacy spend) and the KEK id.
CommandResult RunVersionsShow(CommandContext& ctx, const std::string& version);

// The "validation" object of GET /v1/versions/compare for `clsctl versions
// compare`: both multi-class over the same classes, a CLASS | F1 A | F1 B |
// DELTA table and the macro F1 and accuracy lines; otherwise accuracy,
// precision, recall, F1 and AUC side by side with their deltas (b - a).
std::string RenderValidationComparison(const nlohmann::json& validation);

// `clsctl keys rotate [--new-key-file PATH]`: POST /v1/keys/rotate. PATH is
// on the coordinator's host (an absolute path); required when the
// coordinator's key comes from CLS_MODEL_KEK.
CommandResult RunKeysRotate(CommandContext& ctx,
                            const std::string& new_key_file);

}  // namespace cls::console

#endif  // CLS_CONSOLE_VERSION_COMMANDS_H_
