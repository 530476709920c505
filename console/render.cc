#include "console/render.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace cls::console {
namespace {

using nlohmann::json;

// How many site ids a block line lists before "...".
constexpr std::size_t kMaxListedIds = 8;

std::unexpected<Error> Malformed(const std::string& what) {
  return DataLoss("malformed response from coordinator: " + what);
}

// The value at `key`, or nullptr when missing, null, or `object` is not one.
const json* Find(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string ScalarText(const json* value) {
  if (value == nullptr) return "-";
  switch (value->type()) {
    case json::value_t::string: {
      const auto& text = value->get_ref<const std::string&>();
      return text.empty() ? "-" : SanitizeText(text);
    }
    case json::value_t::boolean:
      return value->get<bool>() ? "yes" : "no";
    case json::value_t::number_integer:
      return std::to_string(value->get<std::int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(value->get<std::uint64_t>());
    case json::value_t::number_float:
      return value->dump();
    default:
      return "-";
  }
}

// The list at `key`, or nullptr.
const json* FindList(const json& object, const char* key) {
  const json* value = Find(object, key);
  return value != nullptr && value->is_array() ? value : nullptr;
}

std::string CountText(const json& object, const char* key) {
  const json* list = FindList(object, key);
  return list == nullptr ? "-" : std::to_string(list->size());
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += ", ";
    out += part;
  }
  return out;
}

// "site-c (timeout), site-d (bad_input)"; "-" when nobody dropped.
std::string DroppedText(const json& round) {
  const json* dropped = FindList(round, "dropped");
  if (dropped == nullptr || dropped->empty()) return "-";
  std::vector<std::string> parts;
  for (const auto& entry : *dropped) {
    if (entry.is_object()) {
      std::string part = FormatValue(entry, "site_id");
      if (const json* reason = Find(entry, "reason")) {
        part += " (" + ScalarText(reason) + ")";
      }
      parts.push_back(std::move(part));
    } else {
      parts.push_back(ScalarText(&entry));
    }
  }
  return Join(parts);
}

// "4 (site-a, site-b, site-c, site-d)", "-" when absent.
std::string IdListText(const json& round, const char* key) {
  const json* list = FindList(round, key);
  if (list == nullptr) return "-";
  if (list->empty()) return "0";
  std::vector<std::string> ids;
  for (const auto& id : *list) {
    if (ids.size() == kMaxListedIds) {
      ids.push_back("...");
      break;
    }
    ids.push_back(ScalarText(&id));
  }
  return std::to_string(list->size()) + " (" + Join(ids) + ")";
}

std::string Plural(std::size_t n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

// "masked_input (4 sites)" while running, else "completed",
// "aborted (too few sites)".
std::string RoundState(const json& round) {
  const std::string status = FormatValue(round, "status");
  if (status == "running" || status == "-") {
    std::string text = FormatValue(round, "stage");
    if (text == "-") text = status == "-" ? "running" : status;
    if (const json* participants = FindList(round, "participants")) {
      text += " (" + Plural(participants->size(), "site", "sites") + ")";
    }
    return text;
  }
  if (status == "aborted") {
    if (const json* reason = Find(round, "abort_reason")) {
      return status + " (" + ScalarText(reason) + ")";
    }
  }
  return status;
}

bool IsInteger(const json* value) {
  return value != nullptr && value->is_number_integer();
}

}  // namespace

Table::Table(std::vector<std::string> headers)
    : headers_(std::move(headers)), align_(headers_.size(), Align::kLeft) {}

void Table::SetAlign(std::size_t column, Align align) {
  if (column < align_.size()) align_[column] = align;
}

void Table::AddRow(std::vector<std::string> cells) {
  cells.resize(headers_.size(), "-");
  rows_.push_back(std::move(cells));
}

std::string Table::Render() const {
  std::vector<std::size_t> widths(headers_.size(), 0);
  const auto measure = [&widths](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  };
  measure(headers_);
  for (const auto& row : rows_) measure(row);

  std::string out;
  const auto emit = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i > 0) line += "  ";
      const std::string padding(widths[i] - DisplayWidth(row[i]), ' ');
      if (align_[i] == Align::kRight) {
        line += padding + row[i];
      } else {
        line += row[i];
        if (i + 1 < row.size()) line += padding;
      }
    }
    out += line + "\n";
  };
  emit(headers_);
  for (const auto& row : rows_) emit(row);
  return out;
}

std::string SanitizeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c == 0x7f) {
      out += '?';
    } else if (c == 0xc2 && i + 1 < text.size() &&
               static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
      out += '?';  // C1 control (U+0080..U+009F), e.g. CSI
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::size_t DisplayWidth(std::string_view text) {
  return static_cast<std::size_t>(std::count_if(
      text.begin(), text.end(),
      [](char c) { return (static_cast<unsigned char>(c) & 0xc0) != 0x80; }));
}

std::string RenderBlock(
    const std::vector<std::pair<std::string, std::string>>& lines) {
  std::size_t width = 0;
  for (const auto& [key, value] : lines) {
    width = std::max(width, DisplayWidth(key) + 1);
  }
  std::string out;
  for (const auto& [key, value] : lines) {
    out += key + ":" + std::string(width - DisplayWidth(key) - 1 + 2, ' ') +
           value + "\n";
  }
  return out;
}

std::string FormatValue(const json& object, const char* key) {
  return ScalarText(Find(object, key));
}

std::string FormatAccuracy(const json& object, const char* key) {
  const json* value = Find(object, key);
  if (value == nullptr || !value->is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", value->get<double>());
  return buf;
}

std::string FormatTimestamp(const json& object, const char* key) {
  const json* value = Find(object, key);
  if (value == nullptr || !value->is_number()) return ScalarText(value);
  const double seconds = value->get<double>();
  // Outside years 1970..9999 it is not a timestamp we can show as a date.
  if (!(seconds >= 0 && seconds < 253402300800.0)) return ScalarText(value);
  const auto t = static_cast<std::time_t>(seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return ScalarText(value);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%SZ", &tm);
  return buf;
}

std::string RenderJson(const json& body) {
  return body.dump(2, ' ', /*ensure_ascii=*/false,
                   json::error_handler_t::replace) +
         "\n";
}

Result<std::string> RenderStatus(const json& body) {
  if (!body.is_object()) return Malformed("status is not an object");
  const json empty = json::object();
  const json* sites = Find(body, "sites");
  const json& counts = sites != nullptr ? *sites : empty;
  const json* round = Find(body, "round");
  std::string round_text = "none";
  if (round != nullptr) {
    round_text = FormatValue(*round, "round_id") + " " + RoundState(*round);
  }
  std::string aggregation_text;  // older coordinators do not report it
  if (const json* agg = Find(body, "aggregation"); agg != nullptr) {
    const json* secure = Find(*agg, "secure_aggregation");
    const json* robust = Find(*agg, "robust");
    const bool is_robust =
        robust != nullptr && robust->is_boolean() && robust->get<bool>();
    if (secure != nullptr && secure->is_boolean() && !secure->get<bool>()) {
      aggregation_text = "SECURE AGGREGATION OFF: robust " +
                         FormatValue(*agg, "rule") + " per site";
    } else if (is_robust) {
      aggregation_text = "secure, robust " + FormatValue(*agg, "rule") +
                         " across groups of " + FormatValue(*agg, "group_size");
    } else {
      aggregation_text = "secure";
    }
  }
  const std::string quarantined = FormatValue(counts, "quarantined");
  std::vector<std::pair<std::string, std::string>> lines = {
      {"coordinator", FormatValue(body, "coordinator_id")},
      {"model version", FormatValue(body, "model_version")},
      {"sites", FormatValue(counts, "approved") + " approved, " +
                    FormatValue(counts, "pending") + " pending, " +
                    (quarantined == "-" || quarantined == "0"
                         ? std::string()
                         : quarantined + " quarantined, ") +
                    FormatValue(counts, "connected") + " connected"},
      {"min sites", FormatValue(body, "min_sites")},
      {"round", round_text},
      {"queued rounds", FormatValue(body, "queued_rounds")},
  };
  if (!aggregation_text.empty()) {
    lines.insert(lines.begin() + 4, {"aggregation", aggregation_text});
  }
  return RenderBlock(lines);
}

Result<std::string> RenderSites(const json& body) {
  const json* sites = FindList(body, "sites");
  if (sites == nullptr) return Malformed("'sites' is missing or not a list");
  if (sites->empty()) return std::string("no sites registered\n");
  Table table({"SITE_ID", "NAME", "LOCATION", "SAMPLES", "TRUST", "STATUS",
               "CONNECTED", "AGENT", "LAST SEEN"});
  table.SetAlign(3, Table::Align::kRight);
  table.SetAlign(4, Table::Align::kRight);
  for (const auto& site : *sites) {
    table.AddRow(
        {FormatValue(site, "site_id"), FormatValue(site, "site_name"),
         FormatValue(site, "location"), FormatValue(site, "num_samples"),
         FormatValue(site, "trust_score"), FormatValue(site, "status"),
         FormatValue(site, "connected"), FormatValue(site, "agent_version"),
         FormatTimestamp(site, "last_seen")});
  }
  return table.Render();
}

Result<std::string> RenderSiteApproved(const json& body) {
  if (!body.is_object()) return Malformed("answer is not an object");
  return "site " + FormatValue(body, "site_id") + ": " +
         FormatValue(body, "status") + "\n";
}

Result<std::string> RenderRoundsStarted(const json& body) {
  const json* first = Find(body, "first_round");
  const json* queued = Find(body, "queued");
  if (!IsInteger(first) || !IsInteger(queued)) {
    return Malformed("'first_round' or 'queued' is missing or not a number");
  }
  const auto first_id = first->get<std::int64_t>();
  const auto count = queued->get<std::int64_t>();
  if (count == 1) return "queued round " + std::to_string(first_id) + "\n";
  return "queued rounds " + std::to_string(first_id) + "-" +
         std::to_string(first_id + count - 1) + " (" + std::to_string(count) +
         " rounds)\n";
}

Result<std::string> RenderCurrentRound(const json& body) {
  if (!body.is_object()) return Malformed("answer is not an object");
  const std::string queued = FormatValue(body, "queued_rounds");
  const json* round = Find(body, "round");
  if (round == nullptr) {
    return RenderBlock({{"round", "none running"}, {"queued rounds", queued}});
  }
  if (!round->is_object()) return Malformed("'round' is not an object");
  std::vector<std::pair<std::string, std::string>> lines = {
      {"round", FormatValue(*round, "round_id")},
      {"status", FormatValue(*round, "status")},
      {"stage", FormatValue(*round, "stage")},
      {"participants", IdListText(*round, "participants")},
      {"contributors", IdListText(*round, "contributors")},
      {"dropped", DroppedText(*round)},
      {"started", FormatTimestamp(*round, "started_at")},
  };
  if (Find(*round, "finished_at") != nullptr) {
    lines.emplace_back("finished", FormatTimestamp(*round, "finished_at"));
  }
  if (Find(*round, "abort_reason") != nullptr) {
    lines.emplace_back("abort reason", FormatValue(*round, "abort_reason"));
  }
  lines.emplace_back("queued rounds", queued);
  return RenderBlock(lines);
}

Result<std::string> RenderRoundHistory(const json& body) {
  const json* rounds = FindList(body, "rounds");
  if (rounds == nullptr) return Malformed("'rounds' is missing or not a list");
  if (rounds->empty()) return std::string("no rounds yet\n");
  Table table(
      {"ROUND", "STATUS", "SITES", "DROPPED", "VAL ACC", "EVAL ACC", "MODEL"});
  table.SetAlign(0, Table::Align::kRight);
  table.SetAlign(2, Table::Align::kRight);
  table.SetAlign(4, Table::Align::kRight);
  table.SetAlign(5, Table::Align::kRight);
  std::string notes;
  for (const auto& round : *rounds) {
    const std::string contributors = CountText(round, "contributors");
    const std::string participants = CountText(round, "participants");
    const std::string sites = contributors == "-" && participants == "-"
                                  ? "-"
                                  : contributors + "/" + participants;
    const json empty = json::object();
    const json* validation = Find(round, "validation");
    const json* evaluation = Find(round, "evaluation");
    table.AddRow({FormatValue(round, "round_id"), FormatValue(round, "status"),
                  sites, DroppedText(round),
                  FormatAccuracy(validation ? *validation : empty, "accuracy"),
                  FormatAccuracy(evaluation ? *evaluation : empty, "accuracy"),
                  FormatValue(round, "model_version")});
    if (Find(round, "abort_reason") != nullptr) {
      notes += "round " + FormatValue(round, "round_id") + " " +
               FormatValue(round, "status") + ": " +
               FormatValue(round, "abort_reason") + "\n";
    }
  }
  return table.Render() + (notes.empty() ? "" : "\n" + notes);
}

std::string RenderRoundProgress(const json& round) {
  return "round " + FormatValue(round, "round_id") + ": " + RoundState(round);
}

Result<std::string> RenderObject(const json& body) {
  if (!body.is_object()) {
    return DataLoss("malformed response from coordinator: not an object");
  }
  std::vector<std::pair<std::string, std::string>> lines;
  for (const auto& [key, value] : body.items()) {
    std::string text;
    if (value.is_string()) {
      text = SanitizeText(value.get_ref<const std::string&>());
    } else if (value.is_null()) {
      text = "-";
    } else if (value.is_boolean()) {
      text = value.get<bool>() ? "yes" : "no";
    } else {
      text = SanitizeText(
          value.dump(-1, ' ', false, json::error_handler_t::replace));
    }
    lines.emplace_back(SanitizeText(key), std::move(text));
  }
  return RenderBlock(lines);
}

}  // namespace cls::console
