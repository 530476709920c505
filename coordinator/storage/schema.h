#ifndef CLS_COORDINATOR_STORAGE_SCHEMA_H_
#define CLS_COORDINATOR_STORAGE_SCHEMA_H_

#include "common/error.h"
#include "common/sqlite_db.h"

namespace cls::coordinator::storage {

// The coordinator database's schema version this build writes, kept in
// SQLite's `PRAGMA user_version`. Version 0 is a database written before
// versions were kept (or a new, empty one).
inline constexpr int kSchemaVersion = 3;

// The one owner of the coordinator database's schema: brings `db` from the
// version it records to kSchemaVersion, one migration at a time, each in its
// own transaction together with the new user_version, so a crash leaves the
// database at the old or the new version, never between. Every table of
// every store (sites, rounds, models, audit log, privacy ledger, trust,
// deployments, drift, feature statistics) is created here and nowhere else.
//
// A database from a newer coordinator is refused (FailedPrecondition) and
// left untouched: an older binary must not guess at a layout it does not
// know.
Status Migrate(SqliteDb& db);

// The version `db` records (0 for a new or pre-versioning database).
Result<int> SchemaVersion(SqliteDb& db);

}  // namespace cls::coordinator::storage

#endif  // CLS_COORDINATOR_STORAGE_SCHEMA_H_
