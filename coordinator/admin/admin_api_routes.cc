// The admin API's permission and route tables (docs/admin-api.md lists
// them in this order).

#include <algorithm>

#include "coordinator/admin/admin_api.h"

namespace cls::coordinator {
namespace {

const std::vector<std::string> kAll = {"admin", "operator", "auditor", "viewer",
                                       "break_glass"};

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
       "queue training rounds, abort the running one, clear the queue"},
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
      {"backup.create",
       {"admin", "operator", "break_glass"},
       "take an online backup of the coordinator's database"},
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

std::vector<std::string> RolePermissions(const std::string& role) {
  std::vector<std::string> held;
  for (const auto& p : PermissionTable()) {
    if (RoleAllows(role, p.permission)) held.push_back(p.permission);
  }
  return held;
}

std::vector<RouteInfo> RouteTable() {
  return {
      {"GET", "/v1/status", "status.read", true},
      {"GET", "/v1/federation/stats", "status.read", true},
      {"GET", "/v1/sites", "site.read", true},
      {"GET", "/v1/sites/{id}", "site.read", true},
      {"POST", "/v1/sites/{id}/approve", "site.approve", true},
      {"POST", "/v1/sites/{id}/revoke", "site.revoke", true},
      {"POST", "/v1/sites/{id}/trust", "site.trust", true},
      {"POST", "/v1/sites/{id}/reinstate", "site.reinstate", true},
      {"POST", "/v1/rounds", "round.start", true},
      {"GET", "/v1/rounds/current", "round.read", true},
      {"POST", "/v1/rounds/abort", "round.start", true},
      {"DELETE", "/v1/rounds/queue", "round.start", true},
      {"GET", "/v1/rounds", "round.read", true},
      {"GET", "/v1/models/current", "model.read", true},
      {"GET", "/v1/versions", "model.read", true},
      {"GET", "/v1/versions/compare", "model.read", true},
      {"GET", "/v1/versions/{id}", "model.read", true},
      {"POST", "/v1/versions/{id}/deploy", "model.deploy", true},
      {"POST", "/v1/versions/{id}/rollout", "model.deploy", true},
      {"POST", "/v1/versions/promote", "model.deploy", true},
      {"POST", "/v1/versions/rollback", "model.rollback", true},
      {"POST", "/v1/versions/import", "model.deploy", true},
      {"GET", "/v1/deployment", "model.read", true},
      {"GET", "/v1/drift", "drift.read", true},
      {"GET", "/v1/drift/alerts", "drift.read", true},
      {"GET", "/v1/privacy", "privacy.read", true},
      {"POST", "/v1/privacy/reset", "privacy.reset", true},
      {"GET", "/v1/audit", "audit.export", true},
      {"POST", "/v1/keys/rotate", "keys.rotate", true},
      {"POST", "/v1/backup", "backup.create", true},
  };
}

}  // namespace cls::coordinator
