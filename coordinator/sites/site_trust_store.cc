#include "coordinator/sites/site_trust_store.h"

#include <cmath>

namespace cls::coordinator {

Result<core::robust::SiteTrust> LoadSiteTrust(SqliteDb& db,
                                              const std::string& site_id,
                                              double sites_trust_score,
                                              bool quarantined) {
  core::robust::SiteTrust site;
  site.operator_trust = sites_trust_score;
  site.quarantined = quarantined;
  auto stmt = db.Prepare(
      "SELECT operator_trust, good, bad, rounds_observed, trust FROM "
      "site_trust WHERE site_id = ?");
  if (!stmt) return std::unexpected(stmt.error());
  if (auto s = stmt->Bind({site_id}); !s) return std::unexpected(s.error());
  auto row = stmt->Step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return site;
  // An operator's change since the last round resets the prior, keeps the
  // evidence.
  const double last_written = stmt->Double(4);
  site.operator_trust = std::abs(last_written - sites_trust_score) > 1e-9
                            ? sites_trust_score
                            : stmt->Double(0);
  site.good = stmt->Double(1);
  site.bad = stmt->Double(2);
  site.rounds_observed = stmt->Int(3);
  return site;
}

Status SaveSiteTrust(SqliteDb& db, const std::string& site_id,
                     const core::robust::SiteTrust& site, double trust) {
  if (auto s = db.Run(
          "INSERT INTO site_trust (site_id, operator_trust, good, bad, "
          "rounds_observed, trust) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT "
          "(site_id) DO UPDATE SET operator_trust = excluded.operator_trust, "
          "good = excluded.good, bad = excluded.bad, rounds_observed = "
          "excluded.rounds_observed, trust = excluded.trust",
          {site_id, site.operator_trust, site.good, site.bad,
           site.rounds_observed, trust});
      !s) {
    return s;
  }
  return db.Run("UPDATE sites SET trust_score = ? WHERE site_id = ?",
                {trust, site_id});
}

}  // namespace cls::coordinator
