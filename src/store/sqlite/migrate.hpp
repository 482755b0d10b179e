// Internal: schema versions and upgrades. An existing database is copied with SQLite's online
// backup API to "<file>.pre-v<N>.bak" before it is migrated to version N, so an upgrade that
// goes wrong (or a newer dunningd that must be rolled back) never costs the ledger.
#pragma once

#include <filesystem>
#include <span>
#include <string_view>

#include "store/sqlite/sqlite.hpp"

namespace dunning::store::detail {

// The schema version recorded in `db`: 0 for a new file (without a schema_version table).
// Reads only; migrate() is the one writer of schema_version.
int schema_version(sqlite::Db& db);

// Copies the whole database behind `db` into `dest` (replaced atomically: written to
// "<dest>.tmp" and renamed), a consistent snapshot even while other connections write.
// Throws sqlite::SqliteError.
void backup_database(sqlite::Db& db, const std::filesystem::path& dest);

// Where the copy taken before migrating `db_file` to `version` goes.
std::filesystem::path pre_migration_backup(const std::filesystem::path& db_file, int version);

// Brings `db` (the file `db_file`) to version migrations.size(), one transaction per version,
// each recording its version in schema_version (created by the first).
// A database that already has a schema (version > 0) and is behind is backed up first with
// backup_database() to pre_migration_backup(db_file, migrations.size()). Returns the version
// it started from. Throws sqlite::SqliteError; a failed migration leaves the previous version.
int migrate(sqlite::Db& db, const std::filesystem::path& db_file,
            std::span<const std::string_view> migrations);

}  // namespace dunning::store::detail
