#include "store/postgres/engine.hpp"

namespace dunning::store::postgres {

PgEngine::PgEngine(std::unique_ptr<PgDatabase> db)
    : db_(std::move(db)),
      feed_(*db_),
      facts_(*db_),
      cases_(*db_),
      outbox_(*db_),
      contacts_(*db_),
      ledger_(*db_),
      reports_(*db_),
      simulation_(*db_) {}

bool is_postgres_uri(std::string_view database) {
  return database.rfind("postgresql://", 0) == 0 || database.rfind("postgres://", 0) == 0;
}

Result<std::unique_ptr<PgEngine>> open_postgres(const ConnectSpec& spec, OpenMode mode) {
  auto db = PgDatabase::open(spec, mode);
  if (!db) return db.error();
  return std::make_unique<PgEngine>(std::move(db).value());
}

}  // namespace dunning::store::postgres
