// The admin API's operator controls of the round queue, issue 12: POST
// /v1/rounds/abort (the running round) and DELETE /v1/rounds/queue (the
// rounds requested but not started). The routes are in RouteTable
// (admin_api_routes.cc); the RoundScheduler audits both with the actor.

#include <map>
#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_api.h"

namespace cls::coordinator {

void AdminApi::AddRoundHandlers(
    std::map<std::string, decltype(Route::handler)>& handlers) {
  handlers["POST /v1/rounds/abort"] = [this](const AdminRequest& r, auto&,
                                             auto&) {
    return AbortRound(r.actor);
  };
  handlers["DELETE /v1/rounds/queue"] = [this](const AdminRequest& r, auto&,
                                               auto&) {
    return ClearRoundQueue(r.actor);
  };
}

AdminResponse AdminApi::AbortRound(const Actor& actor) {
  auto aborted = services_.rounds.AbortRound(actor);
  if (!aborted) return ErrorResponse(aborted.error());
  return {200, {{"aborted_round", *aborted}}};
}

AdminResponse AdminApi::ClearRoundQueue(const Actor& actor) {
  return {200, {{"cleared", services_.rounds.ClearQueue(actor)}}};
}

}  // namespace cls::coordinator
