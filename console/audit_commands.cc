#include "console/audit_commands.h"

#include <fstream>
#include <sstream>

#include "audit/audit_chain.h"
#include "common/bytes.h"
#include "common/durable_file.h"
#include "console/render.h"

namespace cls::console {
namespace {

using nlohmann::json;

std::unexpected<CommandError> Fail(ExitCode code, std::string message) {
  return std::unexpected(CommandError{code, std::move(message)});
}

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Query(const std::string& since, const std::string& until) {
  std::string q;
  if (!since.empty()) q += "since=" + EscapePathSegment(since);
  if (!until.empty()) {
    q += (q.empty() ? "" : "&") + std::string("until=") +
         EscapePathSegment(until);
  }
  return q.empty() ? "" : "?" + q;
}

// GET /v1/audit; the answer must look like an export.
std::expected<json, CommandError> FetchExport(CommandContext& ctx,
                                              const std::string& target) {
  auto response = ctx.api.Send(
      {.method = HttpMethod::kGet, .target = target, .body = std::nullopt});
  if (!response) {
    return std::unexpected(CommandError{ExitCodeFor(response.error()),
                                        response.error().message,
                                        ErrorCodeId(response.error().code)});
  }
  const json& body = response->body;
  if (response->status == 404) {
    return std::unexpected(CommandError{
        ExitCode::kRefused,
        "the coordinator does not support GET /v1/audit yet; this command "
        "needs a newer coordinator",
        "unimplemented", 404});
  }
  if (response->status < 200 || response->status >= 300) {
    return std::unexpected(
        ErrorForResponse(response->status, body, "GET " + target));
  }
  if (!body.is_object() || body.value("format", "") != audit::kExportFormat) {
    return Fail(ExitCode::kCoordinatorError,
                "malformed response from coordinator (GET " + target +
                    "): not an audit export");
  }
  return body;
}

// Reads checkpoint files: one checkpoint object, or a list of them.
std::expected<std::vector<audit::AuditCheckpoint>, CommandError>
ReadCheckpoints(const std::vector<std::string>& files) {
  std::vector<audit::AuditCheckpoint> out;
  for (const auto& file : files) {
    auto text = ReadFile(file);
    if (!text) return Fail(ExitCode::kUsage, "cannot read " + file);
    json j = json::parse(*text, nullptr, false);
    json list = j.is_array() ? j : json::array({j});
    for (const auto& item : list) {
      auto c = audit::CheckpointFromJson(item);
      if (!c) {
        return Fail(ExitCode::kUsage,
                    file + " is not an audit checkpoint: " + c.error().message);
      }
      out.push_back(std::move(*c));
    }
  }
  return out;
}

}  // namespace

CommandResult RunAuditExport(CommandContext& ctx,
                             const AuditExportOptions& options) {
  std::string since, until;
  for (auto [text, out] :
       {std::pair{&options.since, &since}, {&options.until, &until}}) {
    if (text->empty()) continue;
    auto t = audit::NormalizeTimestamp(*text);
    if (!t) return Fail(ExitCode::kUsage, t.error().message);
    *out = *t;
  }
  if (!since.empty() && !until.empty() && since > until) {
    return Fail(ExitCode::kUsage, "--since is after --until");
  }
  auto doc = FetchExport(ctx, "/v1/audit" + Query(since, until));
  if (!doc) return std::unexpected(doc.error());
  const std::string text = doc->dump(2) + "\n";
  if (options.output.empty()) {
    ctx.out << text;
  } else {
    // Written durably (no half export after a crash) and 0600: the log
    // names every operator and what they did.
    if (auto s = WriteFileDurably(options.output, AsBytes(text)); !s) {
      return Fail(ExitCode::kUsage,
                  "cannot write " + options.output + ": " + s.error().message);
    }
  }
  ctx.diagnostics << "clsctl: exported " << (*doc)["entries"].size()
                  << " audit entries"
                  << (options.output.empty() ? "" : " to " + options.output)
                  << "\n";
  return {};
}

CommandResult RunAuditVerify(CommandContext& ctx,
                             const AuditVerifyOptions& options) {
  json doc;
  if (!options.file.empty()) {
    auto text = ReadFile(options.file);
    if (!text) return Fail(ExitCode::kUsage, "cannot read " + options.file);
    doc = json::parse(*text, nullptr, false);
    if (doc.is_discarded()) {
      return Fail(ExitCode::kUsage,
                  options.file +
                      " is not JSON (expected a file written by "
                      "clsctl audit export)");
    }
  } else {
    auto fetched = FetchExport(ctx, "/v1/audit");
    if (!fetched) return std::unexpected(fetched.error());
    doc = std::move(*fetched);
  }
  auto extra = ReadCheckpoints(options.checkpoint_files);
  if (!extra) return std::unexpected(extra.error());

  // The certificate that signed the checkpoints: given, or the export's,
  // and in both cases it must chain to the project CA.
  std::string pem;
  if (!options.coordinator_cert.empty()) {
    auto text = ReadFile(options.coordinator_cert);
    if (!text) {
      return Fail(ExitCode::kUsage, "cannot read " + options.coordinator_cert);
    }
    pem = *text;
  } else if (doc.is_object() && doc.contains("coordinator_certificate") &&
             doc["coordinator_certificate"].is_string()) {
    pem = doc["coordinator_certificate"].get<std::string>();
  }
  std::unique_ptr<audit::CheckpointVerifier> verifier;
  if (!pem.empty()) {
    if (options.ca_file.empty()) {
      return Fail(ExitCode::kUsage,
                  "no project CA certificate to check the coordinator's "
                  "signature: pass --ca FILE or set CLS_CA");
    }
    auto v =
        audit::CheckpointVerifier::FromCertificatePem(pem, options.ca_file);
    if (!v) return Fail(ExitCode::kVerifyFailed, v.error().message);
    verifier = std::move(*v);
  }
  auto report = audit::VerifyExport(doc, *extra, verifier.get());
  if (!report) {
    return Fail(ExitCode::kUsage,
                (options.file.empty() ? "" : options.file + ": ") +
                    report.error().message);
  }
  json j = audit::ReportToJson(*report);
  if (!verifier) {
    j["notes"].push_back(
        "no coordinator certificate: checkpoint signatures were not checked");
  }
  if (report->ok()) {
    ctx.out << (ctx.json ? RenderJson(j) : RenderAuditReport(j));
    return {};
  }
  CommandError failed{ExitCode::kVerifyFailed,
                      "audit log verification failed: " +
                          std::to_string(report->problems.size()) +
                          " problem(s)",
                      "data_loss"};
  if (ctx.json) {
    // One document on stdout: the report with the error in it.
    j["error"] = ErrorJson(failed)["error"];
    failed.json_printed = true;
  }
  ctx.out << (ctx.json ? RenderJson(j) : RenderAuditReport(j));
  return std::unexpected(std::move(failed));
}

std::string RenderAuditReport(const json& r) {
  std::ostringstream out;
  const bool ok = r.value("ok", false);
  out << "audit log " << (ok ? "OK" : "FAILED") << ": " << r.value("entries", 0)
      << " entries (seq " << r.value("first_seq", 0) << ".."
      << r.value("last_seq", 0) << "), " << r.value("checkpoints_checked", 0)
      << " signed checkpoints matched, signed through seq "
      << r.value("last_signed_seq", 0) << "\n";
  if (!ok) {
    Table table({"SEQ", "PROBLEM", "DETAIL"});
    table.SetAlign(0, Table::Align::kRight);
    for (const auto& p : r["problems"]) {
      table.AddRow({std::to_string(p.value("seq", 0)),
                    SanitizeText(p.value("kind", "")),
                    SanitizeText(p.value("message", ""))});
    }
    out << table.Render();
  }
  if (r.contains("notes")) {
    for (const auto& note : r["notes"]) {
      out << "note: " << SanitizeText(note.get<std::string>()) << "\n";
    }
  }
  return out.str();
}

}  // namespace cls::console
