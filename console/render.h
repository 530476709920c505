#ifndef CLS_CONSOLE_RENDER_H_
#define CLS_CONSOLE_RENDER_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

// Human renderings of admin API answers. Pure functions of the JSON: no I/O.
// Fields that are missing, null or of the wrong type render as "-"; only a
// missing top-level structure (no "sites" list, say) is an error, DataLoss
// "malformed response from coordinator: ...".
//
// Every string that came from the coordinator passes through SanitizeText
// before it reaches the terminal.
namespace cls::console {

// A text table: a header row and aligned columns two spaces apart, no
// trailing spaces. Widths count UTF-8 code points.
class Table {
 public:
  enum class Align { kLeft, kRight };

  explicit Table(std::vector<std::string> headers);

  void SetAlign(std::size_t column, Align align);
  // Missing cells render as "-", extra cells are dropped.
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<Align> align_;
  std::vector<std::vector<std::string>> rows_;
};

// Replaces control characters (C0, DEL, C1) with '?', so a coordinator cannot
// move the cursor or rewrite the operator's terminal through a site name.
std::string SanitizeText(std::string_view text);

// Number of UTF-8 code points (display width for the text we print).
std::size_t DisplayWidth(std::string_view text);

// "key:  value" lines, values aligned.
std::string RenderBlock(
    const std::vector<std::pair<std::string, std::string>>& lines);

// Scalars: strings sanitized, integers as is, booleans "yes"/"no", anything
// else (missing, null, objects) "-".
std::string FormatValue(const nlohmann::json& object, const char* key);
// A number with 3 decimals, else "-".
std::string FormatAccuracy(const nlohmann::json& object, const char* key);
// Strings as given; a number is Unix seconds, shown as UTC
// "2024-05-01 12:00:00Z".
std::string FormatTimestamp(const nlohmann::json& object, const char* key);

// `--json`: the server's JSON, pretty-printed, newline-terminated.
std::string RenderJson(const nlohmann::json& body);

// GET /v1/status.
Result<std::string> RenderStatus(const nlohmann::json& body);
// GET /v1/sites: SITE_ID | NAME | SAMPLES | STATUS | CONNECTED | LAST SEEN.
Result<std::string> RenderSites(const nlohmann::json& body);
// POST /v1/sites/{id}/approve.
Result<std::string> RenderSiteApproved(const nlohmann::json& body);
// POST /v1/rounds.
Result<std::string> RenderRoundsStarted(const nlohmann::json& body);
// GET /v1/rounds/current.
Result<std::string> RenderCurrentRound(const nlohmann::json& body);
// GET /v1/rounds: ROUND | STATUS | SITES | DROPPED | VAL ACC | EVAL ACC |
// MODEL, then one line per aborted round with its reason.
Result<std::string> RenderRoundHistory(const nlohmann::json& body);

// Any JSON object as a key/value block; nested values as compact JSON.
// Used for single objects (a site) and the commands of later issues.
Result<std::string> RenderObject(const nlohmann::json& body);

// One line for `round start --wait`: "round 3: masked_input (4 sites)",
// "round 3: completed", "round 3: aborted (too few sites)".
std::string RenderRoundProgress(const nlohmann::json& round);

}  // namespace cls::console

#endif  // CLS_CONSOLE_RENDER_H_
