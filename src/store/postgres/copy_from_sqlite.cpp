// `dunningd migrate --from sqlite:PATH`: a SQLite database (brought to kSchemaVersion first)
// copied into PostgreSQL table by table, with COPY, one transaction per batch of rows. The ids
// are kept (cases, outbox, ledger rows...; payments keep their SQLite rowid as their position),
// so the cursors mean the same on both sides; the sequences then continue after the copied ids.
#include <spdlog/spdlog.h>

#include <array>

#include "dunning/store/engine.hpp"
#include "store/postgres/engine.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/sqlite.hpp"

namespace dunning::store {

namespace {

struct TableCopy {
  std::string_view table;
  std::string_view order;     // the SQLite order of the copy (references before referrers)
  std::string_view id;        // the column a sequence continues after ("" none)
  std::string_view sequence;  // that sequence ("" the column's identity sequence)
  bool triggers = false;      // the table has dunningd's change-feed triggers: off while copying
};

// In an order that satisfies every foreign key.
constexpr std::array<TableCopy, 18> kTables{{
    {"customers", "rowid", "", "", false},
    {"payment_methods", "rowid", "", "", true},
    {"subscriptions", "rowid", "", "", true},
    {"payments", "rowid", "rowid", "payments_rowid_seq", false},
    {"events", "rowid", "", "", false},
    {"cursors", "rowid", "", "", false},
    {"cases", "id", "id", "", false},
    {"case_events", "id", "id", "case_events_id_seq", false},
    {"outbox", "id", "id", "", false},
    {"ledger", "id", "id", "", false},
    {"clicks", "id", "id", "", false},
    {"card_changes", "seq", "seq", "card_changes_seq_seq", false},
    {"subscription_changes", "seq", "seq", "subscription_changes_seq_seq", false},
    {"card_expiry_cases", "rowid", "", "", false},
    {"contact_status", "rowid", "", "", false},
    {"channel_pauses", "rowid", "", "", false},
    {"rejected_rows", "id", "id", "", false},
    {"stripe_attempts", "id", "id", "", false},
}};

constexpr int kBatchRows = 20000;

// One value in COPY's text format.
void append_copy_value(std::string& out, const sqlite::Stmt& s, int col) {
  if (s.is_null(col)) {
    out += "\\N";
    return;
  }
  for (char c : s.text(col)) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

std::vector<std::string> sqlite_columns(sqlite::Db& db, std::string_view table) {
  std::vector<std::string> out;
  sqlite::Stmt s(db, "SELECT name FROM pragma_table_info(?) ORDER BY cid");
  s.bind(1, table);
  while (s.step()) out.push_back(s.text(0));
  return out;
}

std::int64_t sqlite_count(sqlite::Db& db, std::string_view table) {
  sqlite::Stmt s(db, "SELECT COUNT(*) FROM " + std::string(table));
  return s.step() ? s.int64(0) : 0;
}

std::int64_t pg_count(postgres::Conn& pg, std::string_view table) {
  return pg.query("SELECT COUNT(*) FROM " + std::string(table)).int64(0, 0);
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

Result<std::vector<CopiedTable>> copy_sqlite_to_postgres(const std::filesystem::path& from,
                                                         const std::string& to,
                                                         const EngineOptions& options, bool force) {
  if (!is_postgres(to)) {
    return Error::invalid("the target " + to + " is not a PostgreSQL database");
  }
  // Both sides at this dunningd's schema version: the same tables and columns.
  auto source = sqlite::open_sqlite(from, OpenMode::kExisting);
  if (!source) return source.error();
  auto target =
      postgres::open_postgres({to, options.password, options.application_name}, OpenMode::kCreate);
  if (!target) return target.error();
  sqlite::Db& lite = (*source)->sqlite().raw();
  postgres::Conn& pg = (*target)->postgres().conn();
  const std::string where = postgres::redact_uri(to);
  try {
    std::vector<std::string> non_empty;
    for (const auto& t : kTables) {
      if (!pg.query("SELECT 1 FROM " + std::string(t.table) + " LIMIT 1").empty()) {
        non_empty.emplace_back(t.table);
      }
    }
    if (!non_empty.empty() && !force) {
      return Error::conflict(where + " already holds rows (" + join(non_empty) +
                             "); copy into an empty database, or pass --force to replace them");
    }
    if (!non_empty.empty()) {
      std::vector<std::string> all;
      for (const auto& t : kTables) all.emplace_back(t.table);
      pg.exec("BEGIN");
      // The ledger refuses TRUNCATE to everyone else: --force is the operator saying so.
      pg.exec("ALTER TABLE ledger DISABLE TRIGGER USER");
      pg.exec("TRUNCATE " + join(all));
      pg.exec("ALTER TABLE ledger ENABLE TRIGGER USER");
      pg.exec("COMMIT");
      spdlog::warn("{}: --force: emptied {}", where, join(non_empty));
    }

    std::vector<CopiedTable> report;
    for (const auto& t : kTables) {
      auto cols = sqlite_columns(lite, t.table);
      if (t.table == "payments") cols.insert(cols.begin(), "rowid");  // the feed's position
      const std::string list = join(cols);
      const std::string copy_sql = "COPY " + std::string(t.table) + "(" + list + ") FROM STDIN";
      sqlite::Stmt rows(lite, "SELECT " + list + " FROM " + std::string(t.table) + " ORDER BY " +
                                  std::string(t.order));
      const int ncols = static_cast<int>(cols.size());
      bool more = rows.step();
      std::int64_t copied = 0;
      while (more) {
        // One transaction per batch: a failure keeps what was copied before (start again with
        // --force), and no transaction grows with the table.
        pg.exec("BEGIN");
        if (t.triggers) pg.exec("ALTER TABLE " + std::string(t.table) + " DISABLE TRIGGER USER");
        int in_batch = 0;
        copied += pg.copy_in(copy_sql, [&](std::string& buffer) {
          for (int k = 0; k < 512 && more && in_batch < kBatchRows; ++k, ++in_batch) {
            for (int c = 0; c < ncols; ++c) {
              if (c) buffer += '\t';
              append_copy_value(buffer, rows, c);
            }
            buffer += '\n';
            more = rows.step();
          }
          return more && in_batch < kBatchRows;
        });
        if (t.triggers) pg.exec("ALTER TABLE " + std::string(t.table) + " ENABLE TRIGGER USER");
        pg.exec("COMMIT");
      }
      if (!t.id.empty()) {
        const std::string seq = t.sequence.empty()
                                    ? "pg_get_serial_sequence('" + std::string(t.table) + "', '" +
                                          std::string(t.id) + "')"
                                    : "'" + std::string(t.sequence) + "'";
        pg.exec("SELECT setval(" + seq + ", GREATEST(MAX(" + std::string(t.id) + "), 1), MAX(" +
                std::string(t.id) + ") IS NOT NULL) FROM " + std::string(t.table));
      }
      CopiedTable row{std::string(t.table), sqlite_count(lite, t.table), pg_count(pg, t.table)};
      spdlog::info("{}: {} rows copied ({} in SQLite, {} in PostgreSQL)", t.table, copied,
                   row.source_rows, row.target_rows);
      report.push_back(std::move(row));
    }
    // Fresh statistics for the planner: the tables went from empty to full within seconds,
    // long before autovacuum would look at them.
    for (const auto& t : kTables) pg.exec("ANALYZE " + std::string(t.table));
    for (const auto& r : report) {
      if (r.source_rows != r.target_rows) {
        return Error::internal(r.table + ": " + std::to_string(r.source_rows) +
                               " rows in SQLite but " + std::to_string(r.target_rows) + " in " +
                               where);
      }
    }
    return report;
  } catch (const sqlite::SqliteError& e) {
    return Error::unavailable(from.string() + ": " + e.what());
  } catch (const postgres::PgError& e) {
    try {
      pg.exec("ROLLBACK");
    } catch (...) {  // NOLINT(bugprone-empty-catch): no transaction was open, or it is gone
    }
    return Error::unavailable(where + ": " + e.what());
  }
}

}  // namespace dunning::store
