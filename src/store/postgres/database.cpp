#include "store/postgres/database.hpp"

#include <spdlog/spdlog.h>

#include "store/postgres/migrate.hpp"
#include "store/postgres/migrations.hpp"
#include "store/postgres/rows.hpp"

namespace dunning::store::postgres {

static_assert(kMigrations.size() == kSchemaVersion, "one migration per schema version");

PgDatabase::PgDatabase(const ConnectSpec& spec) : conn_(spec) { set_up_session(); }

PgDatabase::~PgDatabase() {
  if (in_tx_) rollback();
}

void PgDatabase::set_up_session() {
  // A writer that waits longer than this for the writer lock (another instance stuck inside a
  // transaction) fails its transaction, which is retried at the next poll; a session left idle
  // inside a transaction (a frozen process) is ended by the server, which frees its locks.
  // Every execution of a prepared statement is planned for the table as it is now: a generic
  // plan is cached once and kept until the statistics change, and one made while `cases` was
  // nearly empty (the first polls of a new database, or a burst of failures before autovacuum's
  // next ANALYZE) scanned every open case to find one invoice's — opening 5,000 cases in one
  // poll cost 20 s, growing with the square of the burst.
  conn_.exec(
      "SET lock_timeout = '60s'; SET idle_in_transaction_session_timeout = '5min'; "
      "SET client_min_messages = warning; SET plan_cache_mode = force_custom_plan");
  auto key = conn_.query("SELECT hashtext('dunningd:' || current_schema())");
  lock_key_ = static_cast<std::int32_t>(key.int64(0, 0));
}

Result<std::unique_ptr<PgDatabase>> PgDatabase::open(const ConnectSpec& spec, OpenMode mode) {
  const std::string where = "database " + redact_uri(spec.uri);
  try {
    std::unique_ptr<PgDatabase> db(new PgDatabase(spec));
    const int version = detail::schema_version(db->conn_);
    if (version > kSchemaVersion) {
      return Error::conflict(where + " has schema version " + std::to_string(version) +
                             ", newer than this dunningd (" + std::to_string(kSchemaVersion) + ")");
    }
    if (mode == OpenMode::kExisting && version == 0) {
      return Error::not_found(where + " has no dunningd schema (run `dunningd migrate` first)");
    }
    detail::migrate(db->conn_, where, db->lock_key_);
    const auto missing = detail::missing_on_billing_tables(db->conn_);
    if (!missing.empty()) {
      std::string list;
      for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
      spdlog::warn(
          "{}: the billing system's tables lack {}: their owner runs the statements of "
          "docs/integration.md (\"Polled tables in the billing system's own PostgreSQL\")",
          where, list);
    }
    return db;
  } catch (const PgError& e) {
    return Error::unavailable(e.what());
  }
}

int PgDatabase::schema_version() {
  return guard("schema_version", [&] {
    if (!in_tx_ && !conn_.healthy()) conn_.reconnect();
    return detail::schema_version(conn_);
  });
}

void PgDatabase::before_statement(bool serialized) {
  if (!in_tx_) {
    // Between transactions a connection the server dropped (a restart, a network cut) is opened
    // again; inside one the transaction is lost anyway and fails to the caller.
    if (!conn_.healthy()) {
      spdlog::warn("{}: connection lost, connecting again", describe());
      conn_.reconnect();
      set_up_session();
    }
    return;
  }
  if (serialized && !writer_locked_) {
    conn_.query("SELECT pg_advisory_xact_lock(?1::int, 1)", Params().add(lock_key_));
    writer_locked_ = true;
  }
}

Rows PgDatabase::query(std::string_view sql, const Params& params) {
  before_statement(true);
  return conn_.query(sql, params);
}

Rows PgDatabase::query_unserialized(std::string_view sql, const Params& params) {
  before_statement(false);
  return conn_.query(sql, params);
}

std::int64_t PgDatabase::horizon(const std::string& sequence) {
  before_statement(false);  // reads a sequence: needs no writer lock
  auto r = conn_.query("SELECT dunning_feed_horizon(?1::regclass)", Params().add(sequence));
  auto& known = horizons_[sequence];
  if (!r.is_null(0, 0)) known = std::max(known, r.int64(0, 0));
  return known;
}

void PgDatabase::begin() {
  guard("begin", [&] {
    before_statement(false);
    conn_.exec("BEGIN ISOLATION LEVEL READ COMMITTED");
  });
  in_tx_ = true;
  writer_locked_ = false;
  savepoints_ = 0;
}

void PgDatabase::commit() {
  // A COMMIT that fails has ended the transaction anyway (rolled back); the Tx's destructor
  // then finds nothing left to roll back.
  in_tx_ = false;
  writer_locked_ = false;
  guard("commit", [&] { conn_.exec("COMMIT"); });
}

void PgDatabase::rollback() noexcept {
  in_tx_ = false;
  writer_locked_ = false;
  try {
    if (conn_.healthy()) conn_.exec("ROLLBACK");
  } catch (...) {  // NOLINT(bugprone-empty-catch): the server may have ended it already
  }
}

int PgDatabase::savepoint() {
  const int depth = savepoints_ + 1;
  guard("savepoint", [&] {
    before_statement(true);  // the writer lock belongs to the transaction, not to the point
    conn_.exec("SAVEPOINT sp" + std::to_string(depth));
  });
  savepoints_ = depth;
  return depth;
}

void PgDatabase::release(int depth) {
  guard("release", [&] { conn_.exec("RELEASE SAVEPOINT sp" + std::to_string(depth)); });
  savepoints_ = depth - 1;
}

void PgDatabase::rollback_to(int depth) noexcept {
  savepoints_ = depth - 1;
  try {
    const std::string name = "sp" + std::to_string(depth);
    conn_.exec("ROLLBACK TO SAVEPOINT " + name + "; RELEASE SAVEPOINT " + name);
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more can be done in a destructor
  }
}

}  // namespace dunning::store::postgres
