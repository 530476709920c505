#ifndef CLS_TESTS_INTEGRATION_DEPLOYMENT_CHECKS_H_
#define CLS_TESTS_INTEGRATION_DEPLOYMENT_CHECKS_H_

// What the deployment integration tests read back from the coordinator:
// the sites' acknowledgements of the current deployment and audit entries
// of one type.

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/integration/cluster.h"

namespace cls::testing {

// The site's entry in GET /v1/deployment; null when it has none.
inline nlohmann::json SiteAck(const nlohmann::json& deployment,
                              const std::string& site_id) {
  for (const auto& s : deployment["sites"]) {
    if (s["site_id"] == site_id) return s;
  }
  return nullptr;
}

// True when every one of `sites` has acknowledged the current deployment;
// `last` gets the deployment status read (clsctl versions deployment).
inline bool AllUpToDate(Cluster& cluster, const std::vector<std::string>& sites,
                        nlohmann::json& last) {
  auto r = cluster.Ctl({"versions", "deployment"});
  if (r.exit_code != 0) return false;
  last = r.Json();
  for (const auto& id : sites) {
    const nlohmann::json s = SiteAck(last, id);
    if (s.is_null() || s["up_to_date"] != true) return false;
  }
  return true;
}

// Waits (60 s) until the current deployment is a rollback that every one of
// `sites` has installed; `last` gets the deployment status last read.
inline bool RollbackInstalled(Cluster& cluster,
                              const std::vector<std::string>& sites,
                              nlohmann::json& last) {
  return WaitUntil(
      [&] {
        return AllUpToDate(cluster, sites, last) &&
               last["deployment"]["action"] == "rollback";
      },
      std::chrono::seconds(60));
}

// The entries of an audit export (clsctl audit export) of one event type.
inline nlohmann::json Events(const nlohmann::json& doc,
                             const std::string& type) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& e : doc["entries"]) {
    if (e["event_type"] == type) out.push_back(e);
  }
  return out;
}

}  // namespace cls::testing

#endif  // CLS_TESTS_INTEGRATION_DEPLOYMENT_CHECKS_H_
