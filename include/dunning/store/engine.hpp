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

#include <filesystem>
#include <memory>
#include <string>

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

// Opens the config's `database:` value (a SQLite file path, or "sqlite:PATH") and migrates its
// schema to kSchemaVersion; an existing database is backed up before it is migrated. An error
// names the database and what is wrong (missing, newer schema, unsupported engine).
Result<std::unique_ptr<Engine>> open_engine(const std::string& database, OpenMode mode);
inline Result<std::unique_ptr<Engine>> open_engine(const std::filesystem::path& database,
                                                   OpenMode mode) {
  return open_engine(database.string(), mode);
}

// Writes a consistent copy of the database `from` to the new file `to`, without migrating or
// otherwise writing `from` (simulate runs on such a copy).
Status snapshot_database(const std::string& from, const std::filesystem::path& to);

}  // namespace dunning::store
