// The admin API's model version routes (GET /v1/versions, GET
// /v1/versions/{id}) and key rotation (POST /v1/keys/rotate), issue 5. The
// routes are in RouteTable (admin_api.cc). Parameters never leave through
// these routes: a version's metadata, metrics and lineage only.

#include <spdlog/spdlog.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "coordinator/admin_api.h"
#include "core/score_counts.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

json Ratio(int64_t a, int64_t b) {
  return b > 0 ? json(static_cast<double>(a) / static_cast<double>(b))
               : json(nullptr);
}

// The original guide's version metrics from the sites' summed held-out
// evaluations; null where nothing was reported. AUC is binned
// (core/score_counts.h).
json MetricsJson(const VersionEvaluation& e) {
  json m = {
      {"reports", e.reports},
      {"evaluated_rows", e.count},
      {"accuracy", Ratio(e.correct, e.count)},
      {"precision", nullptr},
      {"recall", nullptr},
      {"f1", nullptr},
      {"auc", nullptr},
      {"loss", e.count > 0 ? json(e.loss_sum / static_cast<double>(e.count))
                           : json(nullptr)},
      {"training_samples", e.train_samples}};
  if (e.scores.count() > 0) {
    const auto s = core::SummariseBinaryScores(e.scores);
    m["precision"] = s.precision;
    m["recall"] = s.recall;
    m["f1"] = s.f1;
    if (!e.scores.positive_histogram.empty()) {
      m["auc"] = s.auc;
      m["auc_bins"] = e.scores.positive_histogram.size();
    }
  }
  return m;
}

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
          {"metrics", MetricsJson(e)}};
}

// This round's charge in the privacy ledger, or null (privacy off, or a
// round before the ledger existed).
json PrivacyOfRound(SqliteDb& db, int64_t round_id) {
  auto table = db.Prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = "
      "'privacy_charges'");
  if (!table || !table->Step().value_or(false)) return nullptr;
  auto stmt = db.Prepare(
      "SELECT period_id, mode, round_epsilon, epsilon_after, "
      "sites_contributed FROM privacy_charges WHERE round_id = ? ORDER BY "
      "charge_id DESC LIMIT 1");
  if (!stmt || !stmt->Bind({round_id})) return nullptr;
  auto row = stmt->Step();
  if (!row || !*row) return nullptr;
  return {{"period_id", stmt->Int(0)},
          {"mode", stmt->Text(1)},
          {"round_epsilon", stmt->Double(2)},
          {"epsilon_spent_after", stmt->Double(3)},
          {"sites_contributed", stmt->Int(4)}};
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
  auto& store = federation_.store();
  auto models = store.ListModels();
  if (!models) return ErrorResponse(models.error());
  json list = json::array();
  for (const auto& m : *models) {
    if (static_cast<int64_t>(list.size()) >= limit) break;
    auto e = store.FindVersionEvaluation(m.version_id);
    if (!e) return ErrorResponse(e.error());
    list.push_back(SummaryJson(m, *e, federation_.model().version_id));
  }
  return {200, {{"versions", list}, {"total", models->size()}}};
}

AdminResponse AdminApi::ShowVersion(const std::string& version_id) {
  auto& store = federation_.store();
  auto models = store.ListModels();
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
  auto e = store.FindVersionEvaluation(m.version_id);
  if (!e) return ErrorResponse(e.error());
  json body = SummaryJson(m, *e, federation_.model().version_id);
  body["kek_id"] = OrNull(m.kek_id);
  body["encrypted"] = !m.kek_id.empty();
  body["artifact_bytes"] = m.artifact_bytes;
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
      auto round = store.FindRound(v->round_id);
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
       m.round_id > 0 ? PrivacyOfRound(store.db(), m.round_id) : json(nullptr)},
      {"rounds", rounds},
      {"all_sites", all_sites}};
  return {200, body};
}

AdminResponse AdminApi::RotateKeys(const std::string& body,
                                   const Actor& actor) {
  json j = body.empty() ? json::object() : json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return ErrorResponse(
        {ErrorCode::kInvalidArgument, "body must be a JSON object"});
  }
  std::string new_key_file;
  if (j.contains("new_key_file")) {
    if (!j["new_key_file"].is_string() ||
        j["new_key_file"].get<std::string>().size() > 4096) {
      return ErrorResponse({ErrorCode::kInvalidArgument,
                            "new_key_file must be a path (a string)"});
    }
    new_key_file = j["new_key_file"].get<std::string>();
  }
  for (const auto& [key, value] : j.items()) {
    if (key != "new_key_file") {
      return ErrorResponse({ErrorCode::kInvalidArgument,
                            "unknown field '" + key + "' (only new_key_file)"});
    }
  }
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
