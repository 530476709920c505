#include "console/version_commands.h"

#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "console/render.h"

namespace cls::console {
namespace {

using nlohmann::json;

// FetchJson; `required` is a key the answer must have.
std::expected<json, CommandError> Fetch(CommandContext& ctx,
                                        const GenericCommand& command,
                                        const char* required) {
  auto j = FetchJson(ctx, command);
  if (!j) return j;
  if (!j->contains(required)) {
    return std::unexpected(CommandError{
        ExitCode::kCoordinatorError,
        "malformed response from coordinator (" + command.target + ")"});
  }
  return j;
}

std::string Number(const json& v, int digits = 3) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
  return buf;
}

std::string Text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return "-";
}

std::string Join(const json& list) {
  if (!list.is_array() || list.empty()) return "-";
  std::string out;
  for (const auto& v : list) {
    if (!out.empty()) out += ", ";
    out += Text(v);
  }
  return out;
}

std::string Pad(std::string s, size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

// b - a with its sign, "-" where the coordinator gave none.
std::string Delta(const json& v) {
  if (!v.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.3f", v.get<double>());
  return buf;
}

// j[key], or null when j is not an object or has no such key.
const json& Field(const json& j, const char* key) {
  static const json kNull;
  return j.is_object() && j.contains(key) ? j[key] : kNull;
}

// list[i], or null.
const json& Element(const json& list, size_t i) {
  static const json kNull;
  return list.is_array() && i < list.size() ? list[i] : kNull;
}

bool MultiClass(const json& metrics) {
  return Field(metrics, "per_class").is_array();
}

}  // namespace

CommandResult RunVersionsList(CommandContext& ctx, std::int64_t limit) {
  GenericCommand command{HttpMethod::kGet, "/v1/versions", {}};
  if (limit > 0) command.target += "?limit=" + std::to_string(limit);
  if (ctx.json) return RunGeneric(ctx, command);
  auto j = Fetch(ctx, command, "versions");
  if (!j) return std::unexpected(j.error());
  const json& versions = (*j)["versions"];
  if (!versions.is_array() || versions.empty()) {
    ctx.out << "no model versions yet\n";
    return {};
  }
  std::vector<std::vector<std::string>> rows = {
      {"VERSION", "CREATED", "ROUND", "PARENT", "ACC", "PREC", "RECALL", "F1",
       "MACRO_F1", "AUC", "SAMPLES"}};
  for (const auto& v : versions) {
    const json& m = v.contains("metrics") ? v["metrics"] : json::object();
    rows.push_back({(v.value("current", false) ? "*" : " ") +
                        SanitizeText(Text(v.value("version_id", json()))),
                    SanitizeText(Text(v.value("created_at", json()))),
                    Text(v.value("round_id", json())),
                    SanitizeText(Text(v.value("parent_version", json()))),
                    Number(m.value("accuracy", json())),
                    Number(m.value("precision", json())),
                    Number(m.value("recall", json())),
                    Number(m.value("f1", json())), Number(Field(m, "macro_f1")),
                    Number(m.value("auc", json())),
                    Text(m.value("training_samples", json()))});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows)
    for (size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? Pad(row[i], width[i] + 2) : row[i];
    }
    ctx.out << line << "\n";
  }
  ctx.out << "* the federation's current model; AUC is binned; MACRO_F1 "
             "only for multi-class models, whose PREC, RECALL and F1 are "
             "macro averages too (docs/versions.md)\n";
  return {};
}

CommandResult RunVersionsShow(CommandContext& ctx, const std::string& version) {
  if (version.empty()) {
    return std::unexpected(CommandError{ExitCode::kUsage, "version is empty"});
  }
  GenericCommand command{
      HttpMethod::kGet, "/v1/versions/" + EscapePathSegment(version), {}};
  if (ctx.json) return RunGeneric(ctx, command);
  auto j = Fetch(ctx, command, "version_id");
  if (!j) return std::unexpected(j.error());
  const json& v = *j;
  const json& m = v.contains("metrics") ? v["metrics"] : json::object();
  const json& l = v.contains("lineage") ? v["lineage"] : json::object();
  auto line = [&](const char* key, const std::string& value) {
    ctx.out << Pad(std::string(key) + ":", 22) << SanitizeText(value) << "\n";
  };
  line("version", Text(v.value("version_id", json())) +
                      (v.value("current", false) ? " (current)" : ""));
  line("model type", Text(v.value("model_type", json())));
  line("created", Text(v.value("created_at", json())));
  line("hash (SHA-256)", Text(v.value("hash", json())));
  line("encrypted",
       v.value("encrypted", false)
           ? "yes, data key wrapped by " + Text(v.value("kek_id", json()))
           : "no");
  line("accuracy", Number(m.value("accuracy", json())));
  line("precision", Number(m.value("precision", json())));
  line("recall", Number(m.value("recall", json())));
  line("F1", Number(m.value("f1", json())));
  line("AUC (binned)", Number(m.value("auc", json())));
  if (m.contains("per_class") && m["per_class"].is_array()) {
    // Multi-class: precision, recall and F1 above are the macro averages.
    line("macro F1", Number(m.value("macro_f1", json())));
    for (const auto& c : m["per_class"]) {
      line(("class " + Text(c.value("class", json()))).c_str(),
           "precision " + Number(c.value("precision", json())) + ", recall " +
               Number(c.value("recall", json())) + ", F1 " +
               Number(c.value("f1", json())) + " (" +
               Text(c.value("support", json())) + " rows)");
    }
  }
  line("training samples", Text(m.value("training_samples", json())));
  line("evaluated rows", Text(m.value("evaluated_rows", json())) + " in " +
                             Text(m.value("reports", json())) +
                             " site reports");
  line("parent version", Text(l.value("parent_version", json())));
  line("round", Text(l.value("round_id", json())));
  line("contributing sites", Join(l.value("contributing_sites", json())));
  const json& privacy = l.value("privacy", json());
  line("privacy (this round)",
       privacy.is_object()
           ? "epsilon " + Number(privacy.value("round_epsilon", json()), 4) +
                 " (" + Text(privacy.value("mode", json())) +
                 "), period total " +
                 Number(privacy.value("epsilon_spent_after", json()), 4)
           : "-");
  std::string rounds;
  for (const auto& r : l.value("rounds", json::array())) {
    if (!rounds.empty()) rounds += " <- ";
    rounds += Text(r.value("round_id", json()));
  }
  line("rounds (lineage)", rounds.empty() ? "-" : rounds);
  line("all sites (lineage)", Join(l.value("all_sites", json())));
  return {};
}

std::string RenderValidationComparison(const json& validation) {
  const json& a = Field(validation, "a");
  const json& b = Field(validation, "b");
  const json& delta = Field(validation, "delta");
  const json& per_class = Field(validation, "per_class_delta");
  std::string out = "held-out validation, summed over the sites (A " +
                    Text(Field(a, "evaluated_rows")) + " rows, B " +
                    Text(Field(b, "evaluated_rows")) + " rows):\n";
  auto side_by_side = [&](const char* label, const char* key) {
    return std::string(label) + ": A " + Number(Field(a, key)) + ", B " +
           Number(Field(b, key)) + ", delta " + Delta(Field(delta, key)) + "\n";
  };
  if (per_class.is_array()) {
    // Both multi-class over the same classes: F1 class by class.
    Table table({"CLASS", "F1 A", "F1 B", "DELTA"});
    for (size_t column = 1; column < 4; ++column) {
      table.SetAlign(column, Table::Align::kRight);
    }
    for (size_t c = 0; c < per_class.size(); ++c) {
      table.AddRow({Text(Field(per_class[c], "class")),
                    Number(Field(Element(Field(a, "per_class"), c), "f1")),
                    Number(Field(Element(Field(b, "per_class"), c), "f1")),
                    Delta(Field(per_class[c], "f1"))});
    }
    return out + table.Render() + side_by_side("macro F1", "macro_f1") +
           side_by_side("accuracy", "accuracy");
  }
  Table table({"METRIC", "A", "B", "DELTA"});
  for (size_t column = 1; column < 4; ++column) {
    table.SetAlign(column, Table::Align::kRight);
  }
  const std::pair<const char*, const char*> rows[] = {
      {"accuracy", "accuracy"},
      {"precision", "precision"},
      {"recall", "recall"},
      {"F1", "f1"},
      {"AUC (binned)", "auc"}};
  for (const auto& [label, key] : rows) {
    table.AddRow({label, Number(Field(a, key)), Number(Field(b, key)),
                  Delta(Field(delta, key))});
  }
  out += table.Render();
  if (MultiClass(a) && MultiClass(b)) {
    out += "A and B have different classes (" +
           std::to_string(Field(a, "per_class").size()) + " vs " +
           std::to_string(Field(b, "per_class").size()) +
           "): their macro averages are shown, not subtracted\n";
  } else if (MultiClass(a) || MultiClass(b)) {
    out +=
        "one of A and B is multi-class (its precision, recall and F1 are "
        "macro averages), the other binary: only accuracy is compared\n";
  }
  return out;
}

CommandResult RunKeysRotate(CommandContext& ctx,
                            const std::string& new_key_file) {
  json body = json::object();
  if (!new_key_file.empty()) {
    if (new_key_file.front() != '/') {
      return std::unexpected(CommandError{
          ExitCode::kUsage,
          "--new-key-file must be an absolute path on the coordinator host"});
    }
    body["new_key_file"] = new_key_file;
  }
  GenericCommand command{HttpMethod::kPost, "/v1/keys/rotate", body};
  if (ctx.json) return RunGeneric(ctx, command);
  auto j = Fetch(ctx, command, "new_kek_id");
  if (!j) return std::unexpected(j.error());
  ctx.out << "re-wrapped " << Text(j->value("artifacts", json()))
          << " model artifact data keys: "
          << SanitizeText(Text(j->value("old_kek_id", json()))) << " -> "
          << SanitizeText(Text(j->value("new_kek_id", json()))) << " ("
          << SanitizeText(Text(j->value("source", json()))) << ")\n";
  if (j->value("note", json()).is_string()) {
    ctx.out << "next: " << SanitizeText((*j)["note"].get<std::string>())
            << "\n";
  }
  return {};
}

}  // namespace cls::console
