#ifndef CLS_COORDINATOR_ADMIN_API_H_
#define CLS_COORDINATOR_ADMIN_API_H_

#include <string>

#include <nlohmann/json.hpp>

#include "coordinator/federation.h"

namespace cls::coordinator {

struct AdminRequest {
  std::string method;  // GET, POST
  std::string target;  // path and query, e.g. /v1/rounds?limit=5
  std::string body;
  Actor actor;  // from the verified client certificate
};

struct AdminResponse {
  int status = 200;
  nlohmann::json body;
};

// The admin API's routes, permissions and JSON (docs/admin-api.md): pure
// request -> response over the Federation, no sockets. Every state-changing
// request, allowed or denied, leaves an audit entry.
class AdminApi {
 public:
  explicit AdminApi(Federation& federation) : federation_(federation) {}
  AdminResponse Handle(const AdminRequest& request);

 private:
  AdminResponse Status();
  AdminResponse ListSites();
  AdminResponse ApproveSite(const std::string& site_id, const Actor& actor);
  AdminResponse StartRounds(const std::string& body, const Actor& actor);
  AdminResponse CurrentRound();
  AdminResponse RoundHistory(int limit);
  AdminResponse CurrentModel();

  Federation& federation_;
};

// Roles allowed to perform `permission` (e.g. "round.start").
bool RoleAllows(const std::string& role, const std::string& permission);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_API_H_
