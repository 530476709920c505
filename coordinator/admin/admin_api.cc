#include "coordinator/admin/admin_api.h"

#include "common/version.h"
#include "coordinator/admin/admin_api_body.h"
#include "protocol/messages.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <set>

namespace cls::coordinator {
namespace {

using nlohmann::json;

json RoundJson(const RoundRecord& r, const std::string& stage, bool federated) {
  auto ratio = [](int64_t a, int64_t b) -> json {
    return b > 0 ? json(double(a) / double(b)) : json(nullptr);
  };
  return {{"round_id", r.round_id},
          {"federated", federated},
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
          {"last_seen", s.last_seen},     {"agent_version", s.agent_version}};
}

}  // namespace

AdminApi::AdminApi(AdminServices services)
    : services_(services),
      clock_([] { return std::chrono::system_clock::now(); }) {
  using Handler = decltype(Route::handler);
  std::map<std::string, Handler> handlers = {
      {"GET /v1/status",
       [this](const AdminRequest& r, auto&, auto&) { return Status(r.actor); }},
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
  AddRoundHandlers(handlers);
  AddFederationHandlers(handlers);
  std::map<std::string, AsyncHandler> async_handlers;
  AddBackupHandlers(async_handlers);
  for (const auto& route : RouteTable()) {
    const std::string key = route.method + " " + route.pattern;
    auto it = handlers.find(key);
    AddRoute(route.method, route.pattern, route.permission,
             route.served && it != handlers.end() ? it->second : nullptr);
    if (auto a = async_handlers.find(key);
        route.served && a != async_handlers.end()) {
      routes_.back().async_handler = a->second;
    }
  }
}

void AdminApi::AddRoute(std::string method, const std::string& pattern,
                        std::string permission,
                        decltype(Route::handler) handler) {
  routes_.push_back({std::move(method), Split(pattern), std::move(permission),
                     std::move(handler), nullptr});
}

void AdminApi::Audit(const Actor& actor, const std::string& event,
                     const json& fields) {
  if (auto s = services_.audit.Append(actor.name, actor.role, event, fields);
      !s) {
    spdlog::error("audit entry {} could not be written: {}", event,
                  s.error().message);
  }
}

AdminResponse AdminApi::Handle(const AdminRequest& request) {
  auto answer = std::make_shared<std::optional<AdminResponse>>();
  HandleAsync(request, [answer](AdminResponse r) { *answer = std::move(r); });
  if (!*answer) {
    return ErrorResponse(
        {ErrorCode::kInternal, request.method + " " + request.target +
                                   " answers later: call HandleAsync"});
  }
  return std::move(**answer);
}

void AdminApi::HandleAsync(const AdminRequest& request, Reply reply) {
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
    return reply(ErrorResponse({ErrorCode::kNotFound, "no route " + path}));
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
    return reply(ErrorResponse(
        {ErrorCode::kNotFound, "no route " + request.method + " " + path}));
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
      return reply(ErrorResponse(
          {ErrorCode::kPermissionDenied,
           "break-glass certificate of '" + actor.name + "' expired (valid " +
               std::to_string(config().break_glass_max_hours) +
               " h after issue); ask an admin for a new one: cls-pki issue "
               "operator NAME --role break_glass"}));
    }
  }
  if (!RoleAllows(actor.role, route->permission)) {
    Audit(actor, "access_denied", where);
    return reply(ErrorResponse(
        {ErrorCode::kPermissionDenied,
         "role '" + actor.role + "' lacks permission " + route->permission}));
  }
  if (!route->handler && !route->async_handler) {
    return reply({404,
                  {{"error",
                    {{"code", "unimplemented"},
                     {"message", "the coordinator does not support " +
                                     request.method + " " + path + " yet"}}}}});
  }
  // What every answer gets: a refused command and any break-glass request
  // are audited.
  auto conclude = [this, request, where,
                   reply = std::move(reply)](AdminResponse response) {
    const Actor& actor = request.actor;
    const bool ok = response.status >= 200 && response.status < 300;
    if (request.method != "GET" && !ok) {
      json fields = where;
      fields["status"] = response.status;
      fields["reason"] = ErrorMessage(response.body);
      Audit(actor, "command_refused", fields);
    } else if (actor.role == "break_glass") {
      json fields = where;
      fields["status"] = response.status;
      Audit(actor, "break_glass_access", fields);
    }
    reply(std::move(response));
  };
  if (route->async_handler) {
    route->async_handler(request, std::move(conclude));
    return;
  }
  conclude(route->handler(request, params, query));
}

AdminResponse AdminApi::Status(const Actor& caller) {
  auto sites = services_.sites.List();
  if (!sites) return ErrorResponse(sites.error());
  int approved = 0, pending = 0, quarantined = 0;
  for (const auto& s : *sites) {
    approved += s.status == SiteStatus::kApproved;
    pending += s.status == SiteStatus::kPending;
    quarantined += s.status == SiteStatus::kQuarantined;
  }
  const auto& robust = services_.config.robust;
  // Whether training rounds reveal only sums: operators must see it.
  json aggregation = {{"secure_aggregation",
                       services_.config.federated &&
                           (!robust.enabled || robust.secure_aggregation)},
                      {"robust", robust.enabled}};
  if (robust.enabled) {
    aggregation["rule"] =
        core::robust::RobustRuleName(robust.pipeline.rule.rule);
    aggregation["group_size"] =
        robust.secure_aggregation ? robust.group_size : 1;
    aggregation["trust_floor"] = robust.trust.floor;
  }
  auto current = services_.rounds.CurrentRound();
  return {200,
          {{"coordinator_id", services_.config.coordinator_id},
           {"federated", services_.config.federated},
           {"model_type", services_.config.model_type},
           {"model_version", services_.models.model().version_id},
           {"min_sites", services_.config.min_sites},
           {"sites",
            {{"approved", approved},
             {"pending", pending},
             {"quarantined", quarantined},
             {"connected", services_.sites.connected_count()}}},
           {"aggregation", aggregation},
           {"round", current ? RoundJson(current->record, current->stage,
                                         services_.config.federated)
                             : json(nullptr)},
           {"queued_rounds", services_.rounds.queued_rounds()},
           // Who asks, and what they may do (clsctl dashboard hides the rest).
           {"caller",
            {{"name", caller.name},
             {"role", caller.role},
             {"permissions", RolePermissions(caller.role)}}},
           {"version", cls::VersionString()},
           {"protocol_versions", json::array({protocol::kProtocolVersion})}}};
}

AdminResponse AdminApi::ListSites() {
  auto sites = services_.sites.List();
  if (!sites) return ErrorResponse(sites.error());
  json list = json::array();
  for (const auto& s : *sites) {
    list.push_back(SiteJson(s, services_.sites.IsConnected(s.site_id)));
  }
  return {200, {{"sites", list}}};
}

AdminResponse AdminApi::ShowSite(const std::string& site_id) {
  auto site = services_.sites.Find(site_id);
  if (!site) return ErrorResponse(site.error());
  if (!*site) {
    return ErrorResponse({ErrorCode::kNotFound, "no site '" + site_id + "'"});
  }
  return {200, SiteJson(**site, services_.sites.IsConnected(site_id))};
}

AdminResponse AdminApi::RevokeSite(const std::string& site_id,
                                   const std::string& body,
                                   const Actor& actor) {
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto reason = j->Reason();
  if (!reason) return ErrorResponse(reason.error());
  if (auto s = services_.sites.Revoke(site_id, *reason, actor); !s) {
    return ErrorResponse(s.error());
  }
  return {200, {{"site_id", site_id}, {"status", "revoked"}}};
}

AdminResponse AdminApi::SetSiteTrust(const std::string& site_id,
                                     const std::string& body,
                                     const Actor& actor) {
  const std::string kRange = "trust_score must be a number from 0 to 1";
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto score = j->Number("trust_score", kRange);
  if (!score) return ErrorResponse(score.error());
  if (!*score) return BadRequest(kRange);
  if (auto s = services_.sites.SetTrustScore(site_id, **score, actor); !s) {
    return ErrorResponse(s.error());
  }
  return {200, {{"site_id", site_id}, {"trust_score", **score}}};
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
  auto doc = services_.audit.Export(since, until);
  if (!doc) return ErrorResponse(doc.error());
  return {200, std::move(*doc)};
}

AdminResponse AdminApi::ApproveSite(const std::string& site_id,
                                    const Actor& actor) {
  if (auto s = services_.sites.Approve(site_id, actor); !s)
    return ErrorResponse(s.error());
  return {200, {{"site_id", site_id}, {"status", "approved"}}};
}

AdminResponse AdminApi::StartRounds(const std::string& body,
                                    const Actor& actor) {
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto count = j->Integer("rounds", "rounds must be an integer");
  if (!count) return ErrorResponse(count.error());
  const int rounds = count->value_or(1);
  auto first = services_.rounds.StartRounds(rounds, actor);
  if (!first) return ErrorResponse(first.error());
  return {200, {{"first_round", *first}, {"queued", rounds}}};
}

AdminResponse AdminApi::CurrentRound() {
  auto current = services_.rounds.CurrentRound();
  return {200,
          {{"round", current ? RoundJson(current->record, current->stage,
                                         services_.config.federated)
                             : json(nullptr)},
           {"queued_rounds", services_.rounds.queued_rounds()}}};
}

AdminResponse AdminApi::RoundHistory(const Params& query) {
  auto limit = IntParam(query, "limit", 50, 1, 10000);
  if (!limit) {
    return ErrorResponse(
        {ErrorCode::kInvalidArgument, "limit must be 1..10000"});
  }
  auto rounds = services_.history.ListRounds(*limit);
  if (!rounds) return ErrorResponse(rounds.error());
  json list = json::array();
  auto current = services_.rounds.CurrentRound();
  for (const auto& r : *rounds) {
    bool live = current && current->record.round_id == r.round_id;
    list.push_back(live ? RoundJson(current->record, current->stage,
                                    services_.config.federated)
                        : RoundJson(r, r.status, services_.config.federated));
  }
  return {200, {{"rounds", list}}};
}

AdminResponse AdminApi::CurrentModel() {
  const ModelRecord& m = services_.models.model();
  return {200,
          {{"version_id", m.version_id},
           {"round_id", m.round_id},
           {"parent_version", OrNull(m.parent_version)},
           {"hash", m.hash},
           {"created_at", m.created_at},
           {"parameters", m.parameters}}};
}

AdminResponse AdminApi::ReinstateSite(const std::string& site_id,
                                      const std::string& body,
                                      const Actor& actor) {
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto given =
      j->Number("trust_score", "trust_score must be a number from 0 to 1");
  if (!given) return ErrorResponse(given.error());
  const double score = given->value_or(1.0);
  if (auto s = services_.sites.Reinstate(site_id, score, actor); !s) {
    return ErrorResponse(s.error());
  }
  return {
      200,
      {{"site_id", site_id}, {"status", "approved"}, {"trust_score", score}}};
}

}  // namespace cls::coordinator
