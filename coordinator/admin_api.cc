#include "coordinator/admin_api.h"

#include <map>
#include <set>

namespace cls::coordinator {
namespace {

using nlohmann::json;

std::string CodeName(ErrorCode code) {
  std::string name(ErrorCodeName(code));
  for (char& c : name)
    if (c == ' ') c = '_';
  return name;
}

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kFailedPrecondition:
    case ErrorCode::kAborted:
      return 409;
    case ErrorCode::kResourceExhausted:
      return 429;
    case ErrorCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

AdminResponse ErrorResponse(const Error& e) {
  return {HttpStatus(e.code),
          {{"error", {{"code", CodeName(e.code)}, {"message", e.message}}}}};
}

// Absent values are null, not "", so clients need only one test.
json OrNull(const std::string& s) {
  return s.empty() ? json(nullptr) : json(s);
}

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

// Permission per route; roles per permission (issue 6 extends both).
const std::map<std::string, std::set<std::string>>& Permissions() {
  static const std::map<std::string, std::set<std::string>> kPermissions = {
      {"status.read", {"admin", "operator", "auditor", "viewer"}},
      {"site.read", {"admin", "operator", "auditor", "viewer"}},
      {"site.approve", {"admin", "operator"}},
      {"round.read", {"admin", "operator", "auditor", "viewer"}},
      {"round.start", {"admin", "operator"}},
      {"model.read", {"admin", "operator", "auditor"}},
  };
  return kPermissions;
}

}  // namespace

bool RoleAllows(const std::string& role, const std::string& permission) {
  auto it = Permissions().find(permission);
  return it != Permissions().end() && it->second.count(role) > 0;
}

AdminResponse AdminApi::Handle(const AdminRequest& request) {
  std::string path = request.target;
  std::map<std::string, std::string> query;
  if (auto q = path.find('?'); q != std::string::npos) {
    std::string rest = path.substr(q + 1);
    path.resize(q);
    size_t start = 0;
    while (start <= rest.size()) {
      size_t end = rest.find('&', start);
      if (end == std::string::npos) end = rest.size();
      std::string pair = rest.substr(start, end - start);
      if (auto eq = pair.find('='); eq != std::string::npos) {
        query[pair.substr(0, eq)] = pair.substr(eq + 1);
      }
      start = end + 1;
    }
  }
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";

  std::string permission;
  std::function<AdminResponse()> handler;
  static const std::string kSites = "/v1/sites/";
  if (get && path == "/v1/status") {
    permission = "status.read";
    handler = [&] { return Status(); };
  } else if (get && path == "/v1/sites") {
    permission = "site.read";
    handler = [&] { return ListSites(); };
  } else if (post && path.starts_with(kSites) && path.ends_with("/approve")) {
    std::string id =
        path.substr(kSites.size(), path.size() - kSites.size() - 8);
    permission = "site.approve";
    handler = [&, id] { return ApproveSite(id, request.actor); };
  } else if (post && path == "/v1/rounds") {
    permission = "round.start";
    handler = [&] { return StartRounds(request.body, request.actor); };
  } else if (get && path == "/v1/rounds/current") {
    permission = "round.read";
    handler = [&] { return CurrentRound(); };
  } else if (get && path == "/v1/rounds") {
    int limit = 50;
    if (query.count("limit")) {
      try {
        limit = std::stoi(query["limit"]);
      } catch (...) {
        limit = -1;
      }
      if (limit < 1 || limit > 10000) {
        return ErrorResponse(
            {ErrorCode::kInvalidArgument, "limit must be 1..10000"});
      }
    }
    permission = "round.read";
    handler = [&, limit] { return RoundHistory(limit); };
  } else if (get && path == "/v1/models/current") {
    permission = "model.read";
    handler = [&] { return CurrentModel(); };
  } else {
    return ErrorResponse(
        {ErrorCode::kNotFound, "no route " + request.method + " " + path});
  }

  if (!RoleAllows(request.actor.role, permission)) {
    if (post) {
      (void)federation_.store().Audit(
          request.actor.name, request.actor.role, "access_denied",
          {{"permission", permission}, {"path", path}});
    }
    return ErrorResponse(
        {ErrorCode::kPermissionDenied,
         "role '" + request.actor.role + "' lacks permission " + permission});
  }
  return handler();
}

AdminResponse AdminApi::Status() {
  auto sites = federation_.store().ListSites();
  if (!sites) return ErrorResponse(sites.error());
  int approved = 0, pending = 0;
  for (const auto& s : *sites) {
    approved += s.status == SiteStatus::kApproved;
    pending += s.status == SiteStatus::kPending;
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
             {"connected", federation_.connected_count()}}},
           {"round", current ? RoundJson(current->record, current->stage)
                             : json(nullptr)},
           {"queued_rounds", federation_.queued_rounds()}}};
}

AdminResponse AdminApi::ListSites() {
  auto sites = federation_.store().ListSites();
  if (!sites) return ErrorResponse(sites.error());
  json list = json::array();
  for (const auto& s : *sites) {
    list.push_back({{"site_id", s.site_id},
                    {"site_name", s.site_name},
                    {"location", s.location},
                    {"num_samples", s.num_samples},
                    {"trust_score", s.trust_score},
                    {"status", SiteStatusName(s.status)},
                    {"connected", federation_.IsConnected(s.site_id)},
                    {"registered_at", s.registered_at},
                    {"last_seen", s.last_seen}});
  }
  return {200, {{"sites", list}}};
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

AdminResponse AdminApi::RoundHistory(int limit) {
  auto rounds = federation_.store().ListRounds(limit);
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

}  // namespace cls::coordinator
