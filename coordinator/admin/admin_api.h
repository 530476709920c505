#ifndef CLS_COORDINATOR_ADMIN_ADMIN_API_H_
#define CLS_COORDINATOR_ADMIN_ADMIN_API_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "coordinator/admin/admin_response.h"
#include "coordinator/audit/audit_log.h"
#include "coordinator/config.h"
#include "coordinator/deployment/deployment_manager.h"
#include "coordinator/privacy/round_privacy.h"
#include "coordinator/round/round_finalizer.h"
#include "coordinator/round/round_history.h"
#include "coordinator/round/round_scheduler.h"
#include "coordinator/sites/site_registry.h"
#include "coordinator/storage/backup_service.h"
#include "coordinator/versions/model_keys.h"
#include "coordinator/versions/version_import.h"

namespace cls::coordinator {

struct AdminRequest {
  std::string method;  // GET, POST, DELETE
  std::string target;  // path and query, e.g. /v1/rounds?limit=5
  std::string body;
  Actor actor;  // from the verified client certificate
  // The certificate's notBefore: a break_glass certificate is honoured only
  // for `break_glass_max_hours` after it.
  std::optional<std::chrono::system_clock::time_point> certificate_not_before;
};

// One permission: what it allows and which roles hold it.
struct PermissionInfo {
  std::string permission;  // "round.start"
  std::vector<std::string> roles;
  std::string description;
};

// Every permission, in the order docs/admin-api.md lists them.
const std::vector<PermissionInfo>& PermissionTable();
// The roles an operator certificate may carry (its OU).
const std::vector<std::string>& OperatorRoles();

// Roles allowed to perform `permission` (e.g. "round.start").
bool RoleAllows(const std::string& role, const std::string& permission);
// The permissions `role` holds, in the table's order.
std::vector<std::string> RolePermissions(const std::string& role);

// One route of the API. `served` is false for routes whose feature arrives
// with a later issue: the permission is still enforced, then the answer is
// 404 "not supported yet".
struct RouteInfo {
  std::string method;
  std::string pattern;  // "/v1/sites/{id}/approve"
  std::string permission;
  bool served = false;
};
std::vector<RouteInfo> RouteTable();

// The coordinator services the admin API acts through (all borrowed; they
// outlive the API). No route reaches the database but through them.
struct AdminServices {
  const CoordinatorConfig& config;
  SiteRegistry& sites;
  RoundScheduler& rounds;
  const RoundFinalizer& models;  // the current model
  RoundHistory& history;
  AuditLog& audit;
  DeploymentManager& deployments;
  RoundPrivacy* privacy;  // null when [privacy] mode = "off"
  BackupService* backup;  // null when [backup] dir is not set
  // POST /v1/versions/import (null: the route answers 409).
  VersionImporter* importer = nullptr;
};

// The admin API's routes, permissions and JSON (docs/admin-api.md): pure
// request -> response over the services, no sockets. Audited: every
// denied request, every state change (by the services, with the actor),
// every refused state-changing request, every audit export, and every
// request made under the break_glass role.
// Single-threaded: the io_context thread.
class AdminApi {
 public:
  using Clock = std::function<std::chrono::system_clock::time_point()>;

  using Reply = std::function<void(AdminResponse)>;

  explicit AdminApi(AdminServices services);
  // Answers through `reply`, on this thread: at once for most routes, later
  // for those whose work runs elsewhere (POST /v1/backup), so the io thread
  // is never held waiting for it.
  void HandleAsync(const AdminRequest& request, Reply reply);
  // The same for a route that answers at once (tests, tools); a route that
  // answers later gets a 500 here.
  AdminResponse Handle(const AdminRequest& request);

  const CoordinatorConfig& config() const { return services_.config; }
  // The KEK of the model artifacts, for POST /v1/keys/rotate (unset: the
  // route answers 409). Borrowed; outlives the API.
  void SetModelKeys(ModelKeys* keys) { model_keys_ = keys; }
  void SetClockForTesting(Clock clock) { clock_ = std::move(clock); }

 private:
  using Params = std::map<std::string, std::string>;
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{id}" captures
    std::string permission;
    std::function<AdminResponse(const AdminRequest&, const Params& path,
                                const Params& query)>
        handler;  // empty: not served yet (unless async_handler is set)
    // A route whose answer comes later, through the reply it is handed.
    std::function<void(const AdminRequest&, Reply)> async_handler;
  };
  using AsyncHandler = decltype(Route::async_handler);

  void AddRoute(std::string method, const std::string& pattern,
                std::string permission,
                decltype(Route::handler) handler = nullptr);
  void Audit(const Actor& actor, const std::string& event,
             const nlohmann::json& fields);

  AdminResponse Status(const Actor& caller);
  AdminResponse ListSites();
  AdminResponse ShowSite(const std::string& site_id);
  AdminResponse ApproveSite(const std::string& site_id, const Actor& actor);
  AdminResponse RevokeSite(const std::string& site_id, const std::string& body,
                           const Actor& actor);
  AdminResponse SetSiteTrust(const std::string& site_id,
                             const std::string& body, const Actor& actor);
  AdminResponse StartRounds(const std::string& body, const Actor& actor);
  AdminResponse CurrentRound();
  AdminResponse RoundHistory(const Params& query);
  AdminResponse CurrentModel();
  AdminResponse ExportAudit(const Params& query, const Actor& actor);
  // Issue 4: privacy budget and trust quarantine.
  AdminResponse PrivacyStatus(const Params& query);
  AdminResponse StartPrivacyPeriod(const std::string& body, const Actor& actor);
  AdminResponse ReinstateSite(const std::string& site_id,
                              const std::string& body, const Actor& actor);

  // Issue 5: deployments, comparison and drift (admin_api_deployments.cc).
  void AddDeploymentHandlers(
      std::map<std::string, decltype(Route::handler)>& handlers);
  AdminResponse Deploy(const std::string& version_id, const std::string& body,
                       const Actor& actor);
  AdminResponse Rollout(const std::string& version_id, const std::string& body,
                        const Actor& actor);
  AdminResponse Promote(const std::string& body, const Actor& actor);
  AdminResponse Rollback(const std::string& body, const Actor& actor);
  AdminResponse CompareVersions(const Params& query);
  AdminResponse DeploymentStatus();
  AdminResponse DriftStatus();
  AdminResponse DriftAlerts(const Params& query);

  // Issue 5: versions and key rotation (admin_api_versions.cc).
  void AddVersionHandlers(
      std::map<std::string, decltype(Route::handler)>& handlers);
  AdminResponse ListVersions(const Params& query);
  AdminResponse ShowVersion(const std::string& version_id);
  AdminResponse RotateKeys(const std::string& body, const Actor& actor);

  // Issue 12: round abort and queue clear (admin_api_rounds.cc).
  void AddRoundHandlers(
      std::map<std::string, decltype(Route::handler)>& handlers);
  AdminResponse AbortRound(const Actor& actor);
  AdminResponse ClearRoundQueue(const Actor& actor);
  // Issue 14: federation statistics, model import, rollback to a named
  // version (admin_api_federation.cc).
  void AddFederationHandlers(
      std::map<std::string, decltype(Route::handler)>& handlers);
  AdminResponse FederationStats();
  AdminResponse ImportVersion(const std::string& body, const Actor& actor);
  // Backup and restore: POST /v1/backup (admin_api_backup.cc).
  void AddBackupHandlers(std::map<std::string, AsyncHandler>& handlers);

  AdminServices services_;
  ModelKeys* model_keys_ = nullptr;
  std::vector<Route> routes_;
  Clock clock_;
};

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_ADMIN_ADMIN_API_H_
