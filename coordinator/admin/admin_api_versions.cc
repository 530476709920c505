// The admin API's model version routes (GET /v1/versions, GET
// /v1/versions/{id}) and key rotation (POST /v1/keys/rotate), issue 5. The
// routes are in RouteTable (admin_api.cc). Parameters never leave through
// these routes: a version's metadata, metrics and lineage only.

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/admin_api_body.h"
#include "coordinator/admin/version_metrics.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

json SummaryJson(const ModelSummary& m, const VersionEvaluation& e,
                 const std::string& current) {
  return {{"version_id", m.version_id},
          {"sequence", m.sequence},
          {"round_id", m.round_id},
          {"parent_version", OrNull(m.parent_version)},
          {"model_type", OrNull(m.model_type)},
          {"hash", m.hash},
          {"created_at", m.created_at},
          {"current", m.version_id == current},
          {"metrics", VersionMetricsJson(e)}};
}

// This round's charge in the privacy ledger, or null (privacy off, or a
// round before the ledger existed).
json PrivacyOfRound(RoundHistory& history, int64_t round_id) {
  auto charge = history.PrivacyCharge(round_id);
  if (!charge || !*charge) return nullptr;
  const RoundPrivacyCharge& c = **charge;
  return {{"period_id", c.period_id},
          {"mode", c.mode},
          {"round_epsilon", c.round_epsilon},
          {"epsilon_spent_after", c.epsilon_spent_after},
          {"sites_contributed", c.sites_contributed}};
}

}  // namespace

void AdminApi::AddVersionHandlers(
    std::map<std::string, decltype(Route::handler)>& handlers) {
  handlers["GET /v1/versions"] = [this](auto&, auto&, const Params& query) {
    return ListVersions(query);
  };
  handlers["GET /v1/versions/{id}"] = [this](auto&, const Params& path, auto&) {
    return ShowVersion(path.at("id"));
  };
  handlers["POST /v1/keys/rotate"] = [this](const AdminRequest& r, auto&,
                                            auto&) {
    return RotateKeys(r.body, r.actor);
  };
}

AdminResponse AdminApi::ListVersions(const Params& query) {
  int64_t limit = 100;
  if (auto it = query.find("limit"); it != query.end()) {
    try {
      limit = std::stoll(it->second);
    } catch (...) {
      limit = 0;
    }
    if (limit < 1 || limit > 100000) {
      return ErrorResponse(
          {ErrorCode::kInvalidArgument, "limit must be 1..100000"});
    }
  }
  auto& history = services_.history;
  auto models = history.ListModels();
  if (!models) return ErrorResponse(models.error());
  json list = json::array();
  for (const auto& m : *models) {
    if (static_cast<int64_t>(list.size()) >= limit) break;
    auto e = history.FindVersionEvaluation(m.version_id);
    if (!e) return ErrorResponse(e.error());
    list.push_back(SummaryJson(m, *e, services_.models.model().version_id));
  }
  return {200, {{"versions", list}, {"total", models->size()}}};
}

AdminResponse AdminApi::ShowVersion(const std::string& version_id) {
  auto& history = services_.history;
  auto models = history.ListModels();
  if (!models) return ErrorResponse(models.error());
  std::map<std::string, const ModelSummary*> by_id;
  for (const auto& m : *models) by_id[m.version_id] = &m;
  auto it = by_id.find(version_id);
  if (it == by_id.end()) {
    return ErrorResponse(
        {ErrorCode::kNotFound,
         "no model version '" + version_id + "' (clsctl versions list)"});
  }
  const ModelSummary& m = *it->second;
  auto e = history.FindVersionEvaluation(m.version_id);
  if (!e) return ErrorResponse(e.error());
  json body = SummaryJson(m, *e, services_.models.model().version_id);
  body["kek_id"] = OrNull(m.kek_id);
  body["encrypted"] = !m.kek_id.empty();
  body["artifact_bytes"] = m.artifact_bytes;
  body["imported"] = nullptr;
  if (services_.importer != nullptr) {
    auto imported = services_.importer->Find(m.version_id);
    if (!imported) return ErrorResponse(imported.error());
    if (*imported) body["imported"] = **imported;
  }
  body["evaluation"] = {{"true_positives", e->scores.true_positives},
                        {"false_positives", e->scores.false_positives},
                        {"true_negatives", e->scores.true_negatives},
                        {"false_negatives", e->scores.false_negatives},
                        {"positive_histogram", e->scores.positive_histogram},
                        {"negative_histogram", e->scores.negative_histogram}};

  // Lineage: the round that produced it, its contributing sites and privacy
  // spend, and every round back to the initial model (the parent chain).
  json rounds = json::array();
  std::set<std::string> all_sites;
  json contributors = json::array();
  std::set<std::string> seen;
  for (const ModelSummary* v = &m;
       v != nullptr && seen.insert(v->version_id).second;) {
    if (v->round_id > 0) {
      auto round = history.FindRound(v->round_id);
      if (!round) return ErrorResponse(round.error());
      std::vector<std::string> sites;
      if (*round) sites = (*round)->contributors;
      all_sites.insert(sites.begin(), sites.end());
      if (v == &m) contributors = sites;
      rounds.push_back({{"round_id", v->round_id},
                        {"version_id", v->version_id},
                        {"sites", sites}});
    }
    auto parent = by_id.find(v->parent_version);
    v = parent == by_id.end() ? nullptr : parent->second;
  }
  body["lineage"] = {
      {"parent_version", OrNull(m.parent_version)},
      {"round_id", m.round_id},
      {"contributing_sites", contributors},
      {"privacy",
       m.round_id > 0 ? PrivacyOfRound(history, m.round_id) : json(nullptr)},
      {"rounds", rounds},
      {"all_sites", all_sites}};
  return {200, body};
}

AdminResponse AdminApi::RotateKeys(const std::string& body,
                                   const Actor& actor) {
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  auto file = j->String("new_key_file", 0, 4096,
                        "new_key_file must be a path (a string)");
  if (!file) return ErrorResponse(file.error());
  if (auto s = j->OnlyFields({"new_key_file"}); !s) {
    return ErrorResponse(s.error());
  }
  const std::string new_key_file = file->value_or("");
  if (model_keys_ == nullptr) {
    return ErrorResponse(
        {ErrorCode::kFailedPrecondition,
         "model artifact keys are not loaded in this coordinator"});
  }
  auto rotated = model_keys_->Rotate(new_key_file);
  if (!rotated) return ErrorResponse(rotated.error());
  // Ids and counts only: key bytes never reach the audit log.
  Audit(actor, "keys.rotate",
        {{"artifacts", rotated->artifacts},
         {"old_kek_id", rotated->old_kek_id},
         {"new_kek_id", rotated->new_kek_id},
         {"source", rotated->source}});
  spdlog::info("key rotation by {}: {} artifacts re-wrapped from {} to {}",
               actor.name, rotated->artifacts, rotated->old_kek_id,
               rotated->new_kek_id);
  return {200,
          {{"artifacts", rotated->artifacts},
           {"old_kek_id", rotated->old_kek_id},
           {"new_kek_id", rotated->new_kek_id},
           {"source", rotated->source},
           {"note", OrNull(rotated->note)}}};
}

}  // namespace cls::coordinator
