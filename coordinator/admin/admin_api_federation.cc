// The admin API's federation statistics (GET /v1/federation/stats, the
// original guide's get_federation_statistics) and model import (POST
// /v1/versions/import), issue 14. The routes are in RouteTable
// (admin_api_routes.cc).

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <set>

#include "coordinator/admin/admin_api.h"
#include "coordinator/admin/admin_api_body.h"

namespace cls::coordinator {
namespace {

using nlohmann::json;

}  // namespace

void AdminApi::AddFederationHandlers(
    std::map<std::string, decltype(Route::handler)>& handlers) {
  handlers["GET /v1/federation/stats"] = [this](auto&, auto&, auto&) {
    return FederationStats();
  };
  handlers["POST /v1/versions/import"] = [this](const AdminRequest& r, auto&,
                                                auto&) {
    return ImportVersion(r.body, r.actor);
  };
}

// total_samples: the sample counts (each site's latest hello) of the sites
// that contributed to the last completed training round, summed; 0 before
// any. average_accuracy: the validation accuracy of the round that made the
// current model; null before any round (or for an imported model).
AdminResponse AdminApi::FederationStats() {
  auto sites = services_.sites.List();
  if (!sites) return ErrorResponse(sites.error());
  int64_t active = 0;
  std::map<std::string, int64_t> samples;
  for (const auto& s : *sites) {
    samples[s.site_id] = s.num_samples;
    active += s.status == SiteStatus::kApproved &&
              services_.sites.IsConnected(s.site_id);
  }
  auto& history = services_.history;
  auto rounds = history.CompletedTrainingRounds();
  if (!rounds) return ErrorResponse(rounds.error());
  auto last = history.LastCompletedTrainingRound();
  if (!last) return ErrorResponse(last.error());
  int64_t total_samples = 0;
  if (*last) {
    for (const auto& site : (*last)->contributors) {
      if (auto it = samples.find(site); it != samples.end()) {
        total_samples += it->second;
      }
    }
  }
  json accuracy = nullptr;
  const ModelRecord& model = services_.models.model();
  if (model.round_id > 0) {
    auto round = history.FindRound(model.round_id);
    if (!round) return ErrorResponse(round.error());
    if (*round && (*round)->val_count > 0) {
      accuracy = static_cast<double>((*round)->val_correct) /
                 static_cast<double>((*round)->val_count);
    }
  }
  double epsilon = 0;
  if (services_.privacy != nullptr) {
    auto report = services_.privacy->ledger().Snapshot(0);
    if (!report) return ErrorResponse(report.error());
    epsilon = report->spent_epsilon;
  }
  return {200,
          {{"federated", services_.config.federated},
           {"total_sites", sites->size()},
           {"active_sites", active},
           {"total_rounds", *rounds},
           {"total_samples", total_samples},
           {"average_accuracy", accuracy},
           {"total_privacy_budget_used", epsilon}}};
}

AdminResponse AdminApi::ImportVersion(const std::string& body,
                                      const Actor& actor) {
  const std::string kModel =
      "body must be {\"model\": {...the model file...}} (docs/versions.md "
      "\"Importing a model\")";
  auto j = AdminBody::Parse(body);
  if (!j) return ErrorResponse(j.error());
  if (auto s = j->OnlyFields({"model"}); !s) return ErrorResponse(s.error());
  auto model = j->Object("model", kModel);
  if (!model) return ErrorResponse(model.error());
  if (!*model) return BadRequest(kModel);
  if (services_.importer == nullptr) {
    return ErrorResponse({ErrorCode::kFailedPrecondition,
                          "this coordinator cannot import models"});
  }
  auto imported = services_.importer->Import(**model, actor.name, actor.role);
  if (!imported) return ErrorResponse(imported.error());
  const ModelRecord& m = imported->model;
  spdlog::info("model {} imported by {} ({} parameters, hash {})", m.version_id,
               actor.name, m.parameters.size(), m.hash);
  return {200,
          {{"version_id", m.version_id},
           {"hash", m.hash},
           {"model_type", m.model_type},
           {"layout", imported->file.layout},
           {"parameters", m.parameters.size()},
           {"description", imported->file.description},
           {"metrics", imported->file.metrics},
           {"created_at", m.created_at}}};
}

}  // namespace cls::coordinator
