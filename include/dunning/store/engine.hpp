// The store: one engine per database connection, handing out the narrow interface of each
// aggregate (in life-cycle order: feed, facts, cases, outbox, contacts, ledger, reports) over one
// Database. Callers take only the interfaces they use; wiring (src/app) opens the engine and
// passes them on. SQLite is the embedded engine; every interface is written so that a PostgreSQL
// engine can implement it over the same contracts.
//
// Errors: opening returns a Result; once open, every method throws StoreError only.
// Thread safety: an engine and its interfaces belong to one thread at a time. A thread that
// needs the database concurrently (the HTTP API's worker) opens its own engine.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/result.hpp"
#include "dunning/store/cases.hpp"
#include "dunning/store/contact_book.hpp"
#include "dunning/store/database.hpp"
#include "dunning/store/facts_writer.hpp"
#include "dunning/store/ledger_book.hpp"
#include "dunning/store/outbox.hpp"
#include "dunning/store/payments_feed.hpp"
#include "dunning/store/report_queries.hpp"
#include "dunning/store/simulation.hpp"

namespace dunning::store {

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  virtual ~Engine() = default;

  virtual Database& db() = 0;
  virtual PaymentsFeed& feed() = 0;
  virtual FactsWriter& facts() = 0;
  virtual Cases& cases() = 0;
  virtual Outbox& outbox() = 0;
  virtual ContactBook& contacts() = 0;
  virtual LedgerBook& ledger() = 0;
  virtual ReportQueries& reports() = 0;
  virtual Simulation& simulation() = 0;
};

enum class OpenMode {
  kCreate,    // create the database when it does not exist
  kExisting,  // fail when it does not exist, instead of creating an empty one
};

// What opening an engine takes besides the `database:` value.
struct EngineOptions {
  // PostgreSQL: the password (the secret the config's `database_password_env` names); empty
  // leaves it to libpq (the URI, PGPASSWORD, ~/.pgpass). Unused by SQLite.
  std::string password;
  // PostgreSQL: the session's application_name (seen in pg_stat_activity).
  std::string application_name = "dunningd";
};

// Opens the config's `database:` value and migrates its schema to kSchemaVersion: a SQLite file
// path (or "sqlite:PATH"; an existing database is backed up before it is migrated), or a
// PostgreSQL URI (postgresql://user@host:port/db?sslmode=verify-full&sslrootcert=...; libpq's
// URI options apply). An error names the database (never its password) and what is wrong
// (missing, unreachable, newer schema).
Result<std::unique_ptr<Engine>> open_engine(const std::string& database, OpenMode mode,
                                            const EngineOptions& options = {});
inline Result<std::unique_ptr<Engine>> open_engine(const std::filesystem::path& database,
                                                   OpenMode mode,
                                                   const EngineOptions& options = {}) {
  return open_engine(database.string(), mode, options);
}

// True when `database` names a PostgreSQL database (postgresql://... or postgres://...).
bool is_postgres(std::string_view database);

// One table of copy_sqlite_to_postgres: its rows on both sides after the copy.
struct CopiedTable {
  std::string table;
  std::int64_t source_rows = 0;
  std::int64_t target_rows = 0;
};

// `dunningd migrate --from sqlite:PATH`: copies the SQLite database `from` (migrated to
// kSchemaVersion first: the polled tables, dunningd's own tables, cursors and the ledger, ids
// kept) into the PostgreSQL database `to` (created or migrated first), one transaction per batch
// of rows of a table. Refuses a target that already holds rows unless `force`, which empties it
// first. Fails unless every table has as many rows on both sides afterwards. No daemon may use
// either database meanwhile.
Result<std::vector<CopiedTable>> copy_sqlite_to_postgres(const std::filesystem::path& from,
                                                         const std::string& to,
                                                         const EngineOptions& options, bool force);

// Writes a consistent copy of the database `from` to the new file `to`, without migrating or
// otherwise writing `from` (simulate runs on such a copy).
Status snapshot_database(const std::string& from, const std::filesystem::path& to);

}  // namespace dunning::store
