// Internal: schema versions and upgrades on PostgreSQL. Each version is applied in its own
// transaction (PostgreSQL's DDL is transactional: a failed migration leaves the previous
// version whole) under an advisory lock, so several instances starting at once migrate once.
// There is no automatic backup as on SQLite: take a pg_dump before upgrading dunningd.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/postgres/pg.hpp"

namespace dunning::store::postgres::detail {

// The schema version recorded in the connection's schema: 0 without a schema_version table.
int schema_version(Conn& conn);

// Brings the schema to kSchemaVersion, one transaction per version, each recording its version
// in schema_version. `where` names the database in logs. Returns the version it started from.
// Throws PgError.
int migrate(Conn& conn, const std::string& where, std::int32_t lock_key);

// What the billing system's tables still lack of dunningd's (payments.rowid, the change-feed
// triggers) when their owner has not run the statements a migration left to them; empty when
// nothing is missing.
std::vector<std::string> missing_on_billing_tables(Conn& conn);

}  // namespace dunning::store::postgres::detail
