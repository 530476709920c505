#include "coordinator/versions/version_import.h"

#include <cmath>
#include <ctime>
#include <limits>
#include <set>

#include "core/model_layout.h"
#include "crypto/sha256.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

constexpr size_t kMaxDescriptionBytes = 500;
constexpr size_t kMaxMetrics = 32;

std::string Stamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
  return stamp;
}

core::ParameterLayout LayoutOf(const std::string& kind, int64_t parameters) {
  const int p = static_cast<int>(parameters);
  if (kind == "logistic_regression" && p >= 1) {
    return core::ParameterLayout("logreg",
                                 {core::ParameterBlock::Matrix("w", p - 1, 1),
                                  core::ParameterBlock::Vector("b", 1)});
  }
  return core::ParameterLayout(kind,
                               {core::ParameterBlock::Vector("params", p)});
}

std::unexpected<Error> Bad(const std::string& message) {
  return std::unexpected(
      Error{ErrorCode::kInvalidArgument, "model file: " + message});
}

bool PrintableText(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

std::string FederationLayout(const std::string& model_kind,
                             int64_t parameters) {
  return LayoutOf(model_kind, parameters).ToString();
}

Result<ImportedModel> ParseModelFile(const json& file,
                                     const ImportTarget& target) {
  if (!file.is_object()) return Bad("must be a JSON object");
  auto string_field = [&](const char* key) -> Result<std::string> {
    if (!file.contains(key))
      return Bad("missing field '" + std::string(key) + "'");
    if (!file[key].is_string()) {
      return Bad("'" + std::string(key) + "' must be a string");
    }
    return file[key].get<std::string>();
  };
  static const std::set<std::string> kFields = {
      "format", "model_type", "layout", "parameters", "metrics", "description"};
  for (const auto& [key, _] : file.items()) {
    if (!kFields.count(key)) {
      return Bad("unknown field '" + key.substr(0, 64) +
                 "' (fields: format, model_type, layout, parameters, "
                 "metrics, description)");
    }
  }
  auto format = string_field("format");
  if (!format) return std::unexpected(format.error());
  if (*format != kModelFileFormat) {
    return Bad("'format' must be \"" + std::string(kModelFileFormat) + "\"");
  }
  auto type = string_field("model_type");
  if (!type) return std::unexpected(type.error());
  if (*type != target.model_type) {
    return Bad("'model_type' is not this federation's (" + target.model_type +
               ")");
  }
  ImportedModel out;
  auto layout = string_field("layout");
  if (!layout) return std::unexpected(layout.error());
  const core::ParameterLayout expected =
      LayoutOf(target.model_kind, target.parameters);
  if (*layout != expected.ToString()) {
    return Bad("'layout' does not match the federation's layout " +
               expected.ToString());
  }
  out.layout = *layout;
  auto description = string_field("description");
  if (!description) return std::unexpected(description.error());
  if (description->empty() || description->size() > kMaxDescriptionBytes ||
      !PrintableText(*description)) {
    return Bad("'description' must be 1..500 printable characters");
  }
  out.description = *description;

  if (!file.contains("metrics")) return Bad("missing field 'metrics'");
  if (!file["metrics"].is_object() || file["metrics"].size() > kMaxMetrics) {
    return Bad("'metrics' must be an object of at most 32 numbers");
  }
  for (const auto& [name, value] : file["metrics"].items()) {
    if (name.empty() || name.size() > 64 || !PrintableText(name)) {
      return Bad("a metric name must be 1..64 printable characters");
    }
    if (!value.is_number() || !std::isfinite(value.get<double>())) {
      return Bad("metric '" + name + "' must be a finite number");
    }
  }
  out.metrics = file["metrics"];

  if (!file.contains("parameters")) return Bad("missing field 'parameters'");
  const json& params = file["parameters"];
  if (!params.is_array()) return Bad("'parameters' must be an array");
  out.parameters.reserve(params.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const json& v = params[i];
    if (!v.is_number()) {
      return Bad("parameter " + std::to_string(i) + " is not a number");
    }
    const double d = v.get<double>();
    if (!std::isfinite(d) || std::fabs(d) > std::numeric_limits<float>::max()) {
      return Bad("parameter " + std::to_string(i) +
                 " is not a finite float32 value");
    }
    out.parameters.push_back(static_cast<float>(d));
  }
  if (auto s = expected.Check(out.parameters); !s) {
    return Bad(s.error().message);
  }
  return out;
}

Status VersionImporter::EnsureTable() {
  return store_.db().Exec(
      "CREATE TABLE IF NOT EXISTS imported_versions ("
      "version_id TEXT PRIMARY KEY, layout TEXT NOT NULL, "
      "description TEXT NOT NULL, metrics TEXT NOT NULL, "
      "imported_by TEXT NOT NULL, imported_at TEXT NOT NULL)");
}

Result<VersionImporter::Imported> VersionImporter::Import(
    const json& file, const std::string& actor, const std::string& actor_role) {
  auto parsed = ParseModelFile(file, target_);
  if (!parsed) return std::unexpected(parsed.error());
  if (auto s = EnsureTable(); !s) return std::unexpected(s.error());
  auto stmt = store_.db().Prepare("SELECT MIN(sequence) FROM models");
  if (!stmt) return std::unexpected(stmt.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  const int64_t lowest = *row ? stmt->Int(0) : 0;
  Imported out;
  ModelRecord& m = out.model;
  m.sequence = std::min<int64_t>(lowest, 0) - 1;
  m.version_id = "import" + std::to_string(-m.sequence) + "_" + Stamp();
  m.round_id = 0;
  m.parameters = parsed->parameters;
  m.hash = crypto::Sha256Hex(
      ByteSpan(reinterpret_cast<const uint8_t*>(m.parameters.data()),
               m.parameters.size() * sizeof(float)));
  m.created_at = UtcNow();
  m.model_type = target_.model_type;
  // Names and numbers only: the file's parameters are not audited.
  const json fields = {
      {"version_id", m.version_id},        {"hash", m.hash},
      {"model_type", m.model_type},        {"layout", parsed->layout},
      {"parameters", m.parameters.size()}, {"description", parsed->description},
      {"metrics", parsed->metrics}};
  if (auto s = store_.AuditedChange(
          actor, actor_role, "version_imported", fields,
          [&]() -> Status {
            if (auto s = store_.InsertModel(m); !s) return s;
            return store_.db().Run(
                "INSERT INTO imported_versions (version_id, layout, "
                "description, metrics, imported_by, imported_at) VALUES "
                "(?,?,?,?,?,?)",
                {m.version_id, parsed->layout, parsed->description,
                 parsed->metrics.dump(), actor, m.created_at});
          });
      !s) {
    return std::unexpected(s.error());
  }
  out.file = std::move(*parsed);
  return out;
}

Result<std::optional<json>> VersionImporter::Find(
    const std::string& version_id) {
  if (auto s = EnsureTable(); !s) return std::unexpected(s.error());
  auto stmt = store_.db().Prepare(
      "SELECT layout, description, metrics, imported_by, imported_at FROM "
      "imported_versions WHERE version_id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind({version_id}); !s) return std::unexpected(s.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::nullopt;
  json metrics = json::parse(stmt->Text(2), nullptr, false);
  return json{{"layout", stmt->Text(0)},
              {"description", stmt->Text(1)},
              {"metrics", metrics.is_discarded() ? json(nullptr) : metrics},
              {"imported_by", stmt->Text(3)},
              {"imported_at", stmt->Text(4)}};
}

}  // namespace cls::coordinator
