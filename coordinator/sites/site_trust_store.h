#ifndef CLS_COORDINATOR_SITES_SITE_TRUST_STORE_H_
#define CLS_COORDINATOR_SITES_SITE_TRUST_STORE_H_

#include <string>

#include "common/error.h"
#include "common/sqlite_db.h"
#include "core/robust/trust.h"

namespace cls::coordinator {

// Each site's Beta-reputation state (core/robust/trust.h) in the coordinator
// database, table site_trust; the current trust is also written to
// sites.trust_score, which operators see in `clsctl sites list`.
//
// The operator's own score (the original guide's trust_score, the prior
// tau0) is kept apart: when sites.trust_score differs from the trust last
// written here, an operator set it (`clsctl sites trust`), and it becomes the
// new prior. The table is created by coordinator/storage/schema.cc.

// The site's state; `sites_trust_score` is sites.trust_score now. A site
// never seen starts from it as the operator's prior, with no evidence.
Result<core::robust::SiteTrust> LoadSiteTrust(SqliteDb& db,
                                              const std::string& site_id,
                                              double sites_trust_score,
                                              bool quarantined);

// Writes the state and the trust (also into sites.trust_score).
Status SaveSiteTrust(SqliteDb& db, const std::string& site_id,
                     const core::robust::SiteTrust& site, double trust);

}  // namespace cls::coordinator

#endif  // CLS_COORDINATOR_SITES_SITE_TRUST_STORE_H_
