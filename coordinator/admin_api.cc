#include "coordinator/admin_api.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace cls::coordinator {
namespace {

using nlohmann::json;

json RoundJson(const RoundRecord& r, const std::string& stage) {
  auto ratio = [](int64_t a, int64_t b) -> json {
    return b > 0 ? json(double(a) / double(b)) : json(nullptr);
  };
  return {{"round_id", r.round_id},
          {"status", r.status},
          {"stage", stage},
          {"started_at", r.started_at},
          {"finished_at", OrNull(r.finished_at)},
          {"participants", r.participants},
          {"contributors", r.contributors},
          {"dropped", r.dropped},
          {"model_version", OrNull(r.model_version)},
          {"validation",
           {{"count", r.val_count},
            {"correct", r.val_correct},
            {"accuracy", ratio(r.val_correct, r.val_count)},
            {"loss", r.val_count ? json(r.val_loss_sum / r.val_count)
                                 : json(nullptr)}}},
          {"evaluation",
           {{"count", r.eval_count},
            {"correct", r.eval_correct},
            {"accuracy", ratio(r.eval_correct, r.eval_count)},
            {"reports", r.eval_reports}}},
          {"abort_reason", OrNull(r.abort_reason)},
          {"duration_ms",
           r.status == "running" ? json(nullptr) : json(r.duration_ms)}};
}

const std::vector<std::string> kAll = {"admin", "operator", "auditor", "viewer",
                                       "break_glass"};

// Returns the route table's query parameter as an int in [lo, hi].
std::optional<int> IntParam(const std::map<std::string, std::string>& query,
                            const std::string& key, int fallback, int lo,
                            int hi) {
  auto it = query.find(key);
  if (it == query.end()) return fallback;
  int value = 0;
  size_t used = 0;
  try {
    value = std::stoi(it->second, &used);
  } catch (...) {
    return std::nullopt;
  }
  if (used != it->second.size() || value < lo || value > hi) {
    return std::nullopt;
  }
  return value;
}

// %XX in a path segment or query value.
std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() &&
        std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 1;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

json ParseBody(const std::string& body, std::string& error) {
  auto j = ParseBodyObject(body);
  if (!j) {
    error = "body must be a JSON object";
    return json();
  }
  return std::move(*j);
}

std::string ErrorMessage(const json& body) {
  if (!body.is_object() || !body.contains("error") ||
      !body["error"].is_object()) {
    return "";
  }
  return body["error"].value("message", "");
}

json SiteJson(const SiteRecord& s, bool connected) {
  return {{"site_id", s.site_id},         {"site_name", s.site_name},
          {"location", s.location},       {"num_samples", s.num_samples},
          {"trust_score", s.trust_score}, {"status", SiteStatusName(s.status)},
          {"connected", connected},       {"registered_at", s.registered_at},
          {"last_seen", s.last_seen}};
}

}  // namespace

const std::vector<std::string>& OperatorRoles() {
  static const std::vector<std::string> kRoles = kAll;
  return kRoles;
}

// break_glass holds what admin holds, for a few hours, on every entry
// marked (audit_log.h); auditors read everything and export the audit log
// but change nothing; viewers see the federation, not models or the log.
const std::vector<PermissionInfo>& PermissionTable() {
  static const std::vector<PermissionInfo> kTable = {
      {"status.read", kAll, "coordinator status"},
      {"site.read", kAll, "list and show sites"},
      {"site.approve",
       {"admin", "operator", "break_glass"},
       "let a registered site join rounds"},
      {"site.revoke",
       {"admin", "break_glass"},
       "bar a site from the federation"},
      {"site.trust",
       {"admin", "operator", "break_glass"},
       "set a site's trust score"},
      {"site.reinstate",
       {"admin", "operator", "break_glass"},
       "lift a site's trust quarantine"},
      {"round.read", kAll, "round status and history"},
      {"round.start",
       {"admin", "operator", "break_glass"},
       "queue training rounds"},
      {"model.read",
       {"admin", "operator", "auditor", "break_glass"},
       "model versions and parameters"},
      {"model.deploy",
       {"admin", "operator", "break_glass"},
       "deploy or roll out a version"},
      {"model.rollback",
       {"admin", "operator", "break_glass"},
       "roll back to an earlier version"},
      {"drift.read", kAll, "drift status and alerts"},
      {"privacy.read",
       {"admin", "operator", "auditor", "break_glass"},
       "privacy budget spent"},
      {"privacy.reset",
       {"admin", "break_glass"},
       "reset the privacy budget (a new accounting period)"},
      {"audit.export",
       {"admin", "auditor", "break_glass"},
       "export and verify the audit log"},
      {"keys.rotate",
       {"admin", "break_glass"},
       "rotate the key-encryption key"},
  };
  return kTable;
}

bool RoleAllows(const std::string& role, const std::string& permission) {
  for (const auto& p : PermissionTable()) {
    if (p.permission == permission) {
      return std::find(p.roles.begin(), p.roles.end(), role) != p.roles.end();
    }
  }
  return false;
}

std::vector<RouteInfo> RouteTable() {
  return {
      {"GET", "/v1/status", "status.read", true},
      {"GET", "/v1/sites", "site.read", true},
      {"GET", "/v1/sites/{id}", "site.read", true},
      {"POST", "/v1/sites/{id}/approve", "site.approve", true},
      {"POST", "/v1/sites/{id}/revoke", "site.revoke", true},
      {"POST", "/v1/sites/{id}/trust", "site.trust", true},
      {"POST", "/v1/sites/{id}/reinstate", "site.reinstate", true},
      {"POST", "/v1/rounds", "round.start", true},
      {"GET", "/v1/rounds/current", "round.read", true},
      {"GET", "/v1/rounds", "round.read", true},
      {"GET", "/v1/models/current", "model.read", true},
      {"GET", "/v1/versions", "model.read", true},
      {"GET", "/v1/versions/compare", "model.read", true},
      {"GET", "/v1/versions/{id}", "model.read", true},
      {"POST", "/v1/versions/{id}/deploy", "model.deploy", true},
      {"POST", "/v1/versions/{id}/rollout", "model.deploy", true},
      {"POST", "/v1/versions/promote", "model.deploy", true},
      {"POST", "/v1/versions/rollback", "model.rollback", true},
      {"GET", "/v1/deployment", "model.read", true},
      {"GET", "/v1/drift", "drift.read", true},
      {"GET", "/v1/drift/alerts", "drift.read", true},
      {"GET", "/v1/privacy", "privacy.read", true},
      {"POST", "/v1/privacy/reset", "privacy.reset", true},
      {"GET", "/v1/audit", "audit.export", true},
      {"POST", "/v1/keys/rotate", "keys.rotate", true},
  };
}

AdminApi::AdminApi(Federation& federation)
    : federation_(federation),
      clock_([] { return std::chrono::system_clock::now(); }) {
  using Handler = decltype(Route::handler);
  std::map<std::string, Handler> handlers = {
      {"GET /v1/status", [this](auto&, auto&, auto&) { return Status(); }},
      {"GET /v1/sites", [this](auto&, auto&, auto&) { return ListSites(); }},
      {"GET /v1/sites/{id}",
       [this](auto&, const Params& p, auto&) { return ShowSite(p.at("id")); }},
      {"POST /v1/sites/{id}/approve",
       [this](const AdminRequest& r, const Params& p, auto&) {
         return ApproveSite(p.at("id"), r.actor);
       }},
      {"POST /v1/sites/{id}/revoke",
       [this](const AdminRequest& r, const Params& p, auto&) {
         return RevokeSite(p.at("id"), r.body, r.actor);
       }},
      {"POST /v1/sites/{id}/trust",
       [this](const AdminRequest& r, const Params& p, auto&) {
         return SetSiteTrust(p.at("id"), r.body, r.actor);
       }},
      {"POST /v1/rounds",
       [this](const AdminRequest& r, auto&, auto&) {
         return StartRounds(r.body, r.actor);
       }},
      {"GET /v1/rounds/current",
       [this](auto&, auto&, auto&) { return CurrentRound(); }},
      {"GET /v1/rounds",
       [this](auto&, auto&, const Params& q) { return RoundHistory(q); }},
      {"GET /v1/models/current",
       [this](auto&, auto&, auto&) { return CurrentModel(); }},
      {"GET /v1/audit",
       [this](const AdminRequest& r, auto&, const Params& q) {
         return ExportAudit(q, r.actor);
       }},
      {"POST /v1/sites/{id}/reinstate",
       [this](const AdminRequest& r, const Params& p, auto&) {
         return ReinstateSite(p.at("id"), r.body, r.actor);
       }},
      {"GET /v1/privacy",
       [this](auto&, auto&, const Params& q) { return PrivacyStatus(q); }},
      {"POST /v1/privacy/reset",
       [this](const AdminRequest& r, auto&, auto&) {
         return StartPrivacyPeriod(r.body, r.actor);
       }},
  };
  AddDeploymentHandlers(handlers);
  AddVersionHandlers(handlers);
  for (const auto& route : RouteTable()) {
    auto it = handlers.find(route.method + " " + route.pattern);
    AddRoute(route.method, route.pattern, route.permission,
             route.served && it != handlers.end() ? it->second : nullptr);
  }
}

void AdminApi::AddRoute(std::string method, const std::string& pattern,
                        std::string permission,
                        decltype(Route::handler) handler) {
  routes_.push_back({std::move(method), Split(pattern), std::move(permission),
                     std::move(handler)});
}

void AdminApi::Audit(const Actor& actor, const std::string& event,
                     const json& fields) {
  if (auto s = federation_.store().Audit(actor.name, actor.role, event, fields);
      !s) {
    spdlog::error("audit entry {} could not be written: {}", event,
                  s.error().message);
  }
}

AdminResponse AdminApi::Handle(const AdminRequest& request) {
  std::string path = request.target;
  Params query;
  if (auto q = path.find('?'); q != std::string::npos) {
    std::string rest = path.substr(q + 1);
    path.resize(q);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t end = rest.find('&', start);
      if (end == std::string::npos) end = rest.size();
      std::string pair = rest.substr(start, end - start);
      if (auto eq = pair.find('='); eq != std::string::npos) {
        query[pair.substr(0, eq)] = Unescape(pair.substr(eq + 1));
      }
      start = end + 1;
    }
  }
  if (path.empty() || path[0] != '/') {
    return ErrorResponse({ErrorCode::kNotFound, "no route " + path});
  }
  const std::vector<std::string> parts = Split(path);
  const Route* route = nullptr;
  Params params;
  for (const auto& r : routes_) {
    if (r.method != request.method || r.segments.size() != parts.size())
      continue;
    Params captured;
    bool match = true;
    for (size_t i = 0; match && i < parts.size(); ++i) {
      const std::string& seg = r.segments[i];
      if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
        captured[seg.substr(1, seg.size() - 2)] = Unescape(parts[i]);
        match = !parts[i].empty();
      } else {
        match = seg == parts[i];
      }
    }
    if (match) {
      route = &r;
      params = std::move(captured);
      break;
    }
  }
  if (route == nullptr) {
    return ErrorResponse(
        {ErrorCode::kNotFound, "no route " + request.method + " " + path});
  }
  const Actor& actor = request.actor;
  const json where = {{"permission", route->permission},
                      {"method", request.method},
                      {"path", path}};

  // Emergency access lasts break_glass_max_hours from the certificate's
  // notBefore, whatever validity the CA gave it.
  if (actor.role == "break_glass") {
    const auto max_age = std::chrono::hours(config().break_glass_max_hours);
    if (!request.certificate_not_before ||
        clock_() - *request.certificate_not_before > max_age) {
      json fields = where;
      fields["reason"] = "break-glass certificate expired";
      Audit(actor, "access_denied", fields);
      return ErrorResponse(
          {ErrorCode::kPermissionDenied,
           "break-glass certificate of '" + actor.name + "' expired (valid " +
               std::to_string(config().break_glass_max_hours) +
               " h after issue); ask an admin for a new one: cls-pki issue "
               "operator NAME --role break_glass"});
    }
  }
  if (!RoleAllows(actor.role, route->permission)) {
    Audit(actor, "access_denied", where);
    return ErrorResponse(
        {ErrorCode::kPermissionDenied,
         "role '" + actor.role + "' lacks permission " + route->permission});
  }
  if (!route->handler) {
    return {404,
            {{"error",
              {{"code", "unimplemented"},
               {"message", "the coordinator does not support " +
                               request.method + " " + path + " yet"}}}}};
  }
  AdminResponse response = route->handler(request, params, query);
  const bool ok = response.status >= 200 && response.status < 300;
  if (request.method == "POST" && !ok) {
    json fields = where;
    fields["status"] = response.status;
    fields["reason"] = ErrorMessage(response.body);
    Audit(actor, "command_refused", fields);
  } else if (actor.role == "break_glass") {
    json fields = where;
    fields["status"] = response.status;
    Audit(actor, "break_glass_access", fields);
  }
  return response;
}

AdminResponse AdminApi::Status() {
  auto sites = federation_.store().ListSites();
  if (!sites) return ErrorResponse(sites.error());
  int approved = 0, pending = 0, quarantined = 0;
  for (const auto& s : *sites) {
    approved += s.status == SiteStatus::kApproved;
    pending += s.status == SiteStatus::kPending;
    quarantined += s.status == SiteStatus::kQuarantined;
  }
  const auto& robust = federation_.config().robust;
  // Whether training rounds reveal only sums: operators must see it.
  json aggregation = {
      {"secure_aggregation", !robust.enabled || robust.secure_aggregation},
      {"robust", robust.enabled}};
  if (robust.enabled) {
    aggregation["rule"] =
        core::robust::RobustRuleName(robust.pipeline.rule.rule);
    aggregation["group_size"] =
        robust.secure_aggregation ? robust.group_size : 1;
    aggregation["trust_floor"] = robust.trust.floor;
  }
  auto current = federation_.CurrentRound();
  return {200,
          {{"coordinator_id", federation_.config().coordinator_id},
           {"model_type", federation_.config().model_type},
           {"model_version", federation_.model().version_id},
           {"min_sites", federation_.config().min_sites},
           {"sites",
            {{"approved", approved},
             {"pending", pending},
             {"quarantined", quarantined},
             {"connected", federation_.connected_count()}}},
           {"aggregation", aggregation},
           {"round", current ? RoundJson(current->record, current->stage)
                             : json(nullptr)},
           {"queued_rounds", federation_.queued_rounds()}}};
}

AdminResponse AdminApi::ListSites() {
  auto sites = federation_.store().ListSites();
  if (!sites) return ErrorResponse(sites.error());
  json list = json::array();
  for (const auto& s : *sites) {
    list.push_back(SiteJson(s, federation_.IsConnected(s.site_id)));
  }
  return {200, {{"sites", list}}};
}

AdminResponse AdminApi::ShowSite(const std::string& site_id) {
  auto site = federation_.store().FindSite(site_id);
  if (!site) return ErrorResponse(site.error());
  if (!*site) {
    return ErrorResponse({ErrorCode::kNotFound, "no site '" + site_id + "'"});
  }
  return {200, SiteJson(**site, federation_.IsConnected(site_id))};
}

AdminResponse AdminApi::RevokeSite(const std::string& site_id,
                                   const std::string& body,
                                   const Actor& actor) {
  std::string error;
  json j = ParseBody(body, error);
  if (!error.empty())
    return ErrorResponse({ErrorCode::kInvalidArgument, error});
  auto parsed_reason = ParseReason(j);
  if (!parsed_reason) {
    return BadRequest("reason must be a string of at most 200 bytes");
  }
  const std::string reason = std::move(*parsed_reason);
  auto site = federation_.store().FindSite(site_id);
  if (!site) return ErrorResponse(site.error());
  if (!*site) {
    return ErrorResponse({ErrorCode::kNotFound, "no site '" + site_id + "'"});
  }
  if ((*site)->status != SiteStatus::kRevoked) {
    if (auto s =
            federation_.store().SetSiteStatus(site_id, SiteStatus::kRevoked);
        !s) {
      return ErrorResponse(s.error());
    }
    Audit(actor, "site_revoked", {{"site_id", site_id}, {"reason", reason}});
    // A revoked site is refused at its next hello; its live connection goes
    // now, which drops it from a running round like any lost site.
    federation_.Disconnect(site_id, "revoked by an operator");
  }
  return {200, {{"site_id", site_id}, {"status", "revoked"}}};
}

AdminResponse AdminApi::SetSiteTrust(const std::string& site_id,
                                     const std::string& body,
                                     const Actor& actor) {
  std::string error;
  json j = ParseBody(body, error);
  if (!error.empty())
    return ErrorResponse({ErrorCode::kInvalidArgument, error});
  if (!j.contains("trust_score") || !j["trust_score"].is_number() ||
      !(j["trust_score"].get<double>() >= 0.0) ||
      !(j["trust_score"].get<double>() <= 1.0)) {
    return ErrorResponse({ErrorCode::kInvalidArgument,
                          "trust_score must be a number from 0 to 1"});
  }
  double score = j["trust_score"].get<double>();
  auto site = federation_.store().FindSite(site_id);
  if (!site) return ErrorResponse(site.error());
  if (!*site) {
    return ErrorResponse({ErrorCode::kNotFound, "no site '" + site_id + "'"});
  }
  if (auto s = federation_.store().db().Run(
          "UPDATE sites SET trust_score = ? WHERE site_id = ?",
          {score, site_id});
      !s) {
    return ErrorResponse(s.error());
  }
  Audit(actor, "site_trust_set",
        {{"site_id", site_id},
         {"trust_score", score},
         {"previous", (*site)->trust_score}});
  return {200, {{"site_id", site_id}, {"trust_score", score}}};
}

AdminResponse AdminApi::ExportAudit(const Params& query, const Actor& actor) {
  std::string since, until;
  for (auto [key, out] : {std::pair{"since", &since}, {"until", &until}}) {
    auto it = query.find(key);
    if (it == query.end() || it->second.empty()) continue;
    auto t = audit::NormalizeTimestamp(it->second);
    if (!t) {
      return ErrorResponse({ErrorCode::kInvalidArgument,
                            std::string(key) + ": " + t.error().message});
    }
    *out = *t;
  }
  if (!since.empty() && !until.empty() && since > until) {
    return ErrorResponse(
        {ErrorCode::kInvalidArgument, "since must not be after until"});
  }
  // Reading the audit log is itself audited, before the export so the
  // export shows it.
  json fields = {{"since", since.empty() ? json(nullptr) : json(since)},
                 {"until", until.empty() ? json(nullptr) : json(until)}};
  Audit(actor, "audit_exported", fields);
  auto doc = federation_.store().audit_log().Export(since, until);
  if (!doc) return ErrorResponse(doc.error());
  return {200, std::move(*doc)};
}

AdminResponse AdminApi::ApproveSite(const std::string& site_id,
                                    const Actor& actor) {
  if (auto s = federation_.ApproveSite(site_id, actor); !s)
    return ErrorResponse(s.error());
  return {200, {{"site_id", site_id}, {"status", "approved"}}};
}

AdminResponse AdminApi::StartRounds(const std::string& body,
                                    const Actor& actor) {
  int rounds = 1;
  if (!body.empty()) {
    json j = json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return ErrorResponse(
          {ErrorCode::kInvalidArgument, "body must be a JSON object"});
    }
    if (j.contains("rounds")) {
      if (!j["rounds"].is_number_integer()) {
        return ErrorResponse(
            {ErrorCode::kInvalidArgument, "rounds must be an integer"});
      }
      rounds = j["rounds"].get<int>();
    }
  }
  auto first = federation_.StartRounds(rounds, actor);
  if (!first) return ErrorResponse(first.error());
  return {200, {{"first_round", *first}, {"queued", rounds}}};
}

AdminResponse AdminApi::CurrentRound() {
  auto current = federation_.CurrentRound();
  return {200,
          {{"round", current ? RoundJson(current->record, current->stage)
                             : json(nullptr)},
           {"queued_rounds", federation_.queued_rounds()}}};
}

AdminResponse AdminApi::RoundHistory(const Params& query) {
  auto limit = IntParam(query, "limit", 50, 1, 10000);
  if (!limit) {
    return ErrorResponse(
        {ErrorCode::kInvalidArgument, "limit must be 1..10000"});
  }
  auto rounds = federation_.store().ListRounds(*limit);
  if (!rounds) return ErrorResponse(rounds.error());
  json list = json::array();
  auto current = federation_.CurrentRound();
  for (const auto& r : *rounds) {
    bool live = current && current->record.round_id == r.round_id;
    list.push_back(live ? RoundJson(current->record, current->stage)
                        : RoundJson(r, r.status));
  }
  return {200, {{"rounds", list}}};
}

AdminResponse AdminApi::CurrentModel() {
  const ModelRecord& m = federation_.model();
  return {200,
          {{"version_id", m.version_id},
           {"round_id", m.round_id},
           {"parent_version", OrNull(m.parent_version)},
           {"hash", m.hash},
           {"created_at", m.created_at},
           {"parameters", m.parameters}}};
}

AdminResponse AdminApi::PrivacyStatus(const Params& query) {
  RoundPrivacy* privacy = federation_.privacy();
  if (privacy == nullptr) {
    return ErrorResponse({ErrorCode::kFailedPrecondition,
                          "differential privacy is off ([privacy] mode = "
                          "\"off\" in the coordinator config)"});
  }
  int limit = 0;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      limit = std::stoi(it->second);
    } catch (...) {
      limit = -1;
    }
    if (limit < 1 || limit > 100000) {
      return ErrorResponse(
          {ErrorCode::kInvalidArgument, "limit must be 1..100000"});
    }
  }
  auto report = privacy->ledger().Snapshot(limit);
  if (!report) return ErrorResponse(report.error());
  json body = ToJson(*report);
  body["mode"] = federation_.config().privacy.mode;
  body["noise_multiplier"] = privacy->noise_multiplier();
  body["privacy_epsilon_per_round"] =
      federation_.config().privacy.privacy_epsilon;
  return {200, body};
}

AdminResponse AdminApi::StartPrivacyPeriod(const std::string& body,
                                           const Actor& actor) {
  RoundPrivacy* privacy = federation_.privacy();
  if (privacy == nullptr) {
    return ErrorResponse({ErrorCode::kFailedPrecondition,
                          "differential privacy is off ([privacy] mode = "
                          "\"off\" in the coordinator config)"});
  }
  std::string error;
  json j = ParseBody(body, error);
  if (!error.empty())
    return ErrorResponse({ErrorCode::kInvalidArgument, error});
  if (!j.contains("reason") || !j["reason"].is_string() ||
      j["reason"].get<std::string>().empty() ||
      j["reason"].get<std::string>().size() > 200) {
    return ErrorResponse(
        {ErrorCode::kInvalidArgument,
         "a new budget period needs a reason (1..200 characters)"});
  }
  PrivacyBudget budget{federation_.config().privacy.budget_epsilon,
                       federation_.config().privacy.delta};
  if (j.contains("budget_epsilon")) {
    if (!j["budget_epsilon"].is_number() ||
        !(j["budget_epsilon"].get<double>() > 0) ||
        !std::isfinite(j["budget_epsilon"].get<double>())) {
      return ErrorResponse({ErrorCode::kInvalidArgument,
                            "budget_epsilon must be a positive number"});
    }
    budget.epsilon = j["budget_epsilon"].get<double>();
  }
  if (j.contains("delta")) {
    if (!j["delta"].is_number() || !(j["delta"].get<double>() > 0) ||
        !(j["delta"].get<double>() < 1)) {
      return ErrorResponse(
          {ErrorCode::kInvalidArgument, "delta must be in (0, 1)"});
    }
    budget.delta = j["delta"].get<double>();
  }
  if (auto round = federation_.CurrentRound(); round) {
    return ErrorResponse({ErrorCode::kFailedPrecondition,
                          "a round is running; start a new budget period "
                          "between rounds"});
  }
  // The ledger audits the new period (privacy_period_started) with actor
  // and reason.
  auto period = privacy->ledger().StartNewPeriod(
      actor.name, j["reason"].get<std::string>(), budget);
  if (!period) return ErrorResponse(period.error());
  return {200,
          {{"period_id", period->period_id},
           {"epsilon_budget", period->epsilon_budget},
           {"delta", period->delta},
           {"started_at", period->started_at},
           {"started_by", period->started_by},
           {"reason", period->reason}}};
}

AdminResponse AdminApi::ReinstateSite(const std::string& site_id,
                                      const std::string& body,
                                      const Actor& actor) {
  std::string error;
  json j = ParseBody(body, error);
  if (!error.empty())
    return ErrorResponse({ErrorCode::kInvalidArgument, error});
  double score = 1.0;
  if (j.contains("trust_score")) {
    if (!j["trust_score"].is_number()) {
      return ErrorResponse({ErrorCode::kInvalidArgument,
                            "trust_score must be a number from 0 to 1"});
    }
    score = j["trust_score"].get<double>();
  }
  if (auto s = federation_.ReinstateSite(site_id, score, actor); !s) {
    return ErrorResponse(s.error());
  }
  return {
      200,
      {{"site_id", site_id}, {"status", "approved"}, {"trust_score", score}}};
}

}  // namespace cls::coordinator
