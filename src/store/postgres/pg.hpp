// Internal to the PostgreSQL engine: small owning wrappers over libpq handles (PGconn, PGresult),
// parameters that are always bound (never spliced into the SQL), rows read as text, and the
// prepared-statement cache of one connection. Errors throw PgError; the engine's methods turn
// them into StoreError at the store's boundary (see rows.hpp, guard).
#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace dunning::store::postgres {

class PgError : public std::runtime_error {
 public:
  PgError(const std::string& what, std::string sqlstate)
      : std::runtime_error(what), sqlstate_(std::move(sqlstate)) {}
  // The five-character SQLSTATE ("23505" unique violation...), "" when the server sent none
  // (the connection is gone).
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

struct PQfinishDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct PQclearDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using ConnPtr = std::unique_ptr<PGconn, PQfinishDeleter>;
using ResultPtr = std::unique_ptr<PGresult, PQclearDeleter>;

// What a connection is opened with: the URI (or key=value string) and what the config adds.
struct ConnectSpec {
  std::string uri;       // postgresql://... (sslmode, sslrootcert... are libpq URI options)
  std::string password;  // empty: libpq's own (the URI, PGPASSWORD, ~/.pgpass)
  std::string application_name = "dunningd";
};

// Opens a connection; throws PgError naming the server (never the password) when it fails.
ConnPtr connect(const ConnectSpec& spec);
// `uri` without a password, for logs and describe().
std::string redact_uri(const std::string& uri);

// Positional parameters, all sent as text (the server infers their types from the statement);
// std::nullopt is SQL NULL.
class Params {
 public:
  Params& add(std::int64_t v) { return add_text(std::to_string(v)); }
  Params& add(int v) { return add(static_cast<std::int64_t>(v)); }
  Params& add(bool v) = delete;  // say 0/1: the schema's flags are integers on both engines
  Params& add(std::string_view v) { return add_text(std::string(v)); }
  Params& add(const std::string& v) { return add_text(v); }
  Params& add(const char* v) { return add_text(v); }
  Params& add(std::nullopt_t) {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  template <typename T>
  Params& add(const std::optional<T>& v) {
    return v ? add(*v) : add(std::nullopt);
  }

  int size() const { return static_cast<int>(values_.size()); }
  // Pointers valid while this object lives and is not changed.
  std::vector<const char*> pointers() const;

 private:
  Params& add_text(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  std::vector<std::optional<std::string>> values_;
};

// The rows of one statement's result (text format).
class Rows {
 public:
  Rows() = default;
  explicit Rows(ResultPtr r) : r_(std::move(r)) {}
  int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool empty() const { return size() == 0; }
  // Rows changed by INSERT/UPDATE/DELETE (PQcmdTuples).
  int affected() const;
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) == 1; }
  std::string text(int row, int col) const;  // "" for NULL
  std::optional<std::string> opt_text(int row, int col) const;
  // Throws PgError when the value is not an integer (it always is for integer columns).
  std::int64_t int64(int row, int col) const;
  std::optional<std::int64_t> opt_int64(int row, int col) const;
  // True when the text is a whole number (polled tables may hold anything in a text column).
  bool is_integer(int row, int col) const;

 private:
  ResultPtr r_;
};

// "?1 ... ?2" and bare "?" placeholders (the SQLite engine's spelling) → "$1 ... $2", outside
// quoted literals and identifiers, so one SQL text can serve both engines.
std::string to_dollar_params(std::string_view sql);

// One connection, its prepared statements (one per SQL text, prepared on its first use and
// kept for the life of the connection) and single-row streaming.
class Conn {
 public:
  explicit Conn(ConnectSpec spec);
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  // Runs a statement without parameters and without preparing it (DDL, BEGIN, SAVEPOINT...);
  // may hold several statements.
  void exec(std::string_view sql);
  // Runs the cached prepared statement for `sql` with `params`.
  Rows query(std::string_view sql, const Params& params = {});
  // Runs it in single-row mode and calls `fn(row)` per row as the rows arrive, so memory does
  // not grow with the result. `fn` must not use this connection.
  template <typename Fn>
  void stream(std::string_view sql, const Params& params, Fn&& fn) {
    start_stream(sql, params);
    try {
      for (;;) {
        Rows row = next_streamed();
        if (row.size() == 0) break;
        fn(row);
      }
    } catch (...) {
      drain();
      throw;
    }
  }

  // COPY ... FROM STDIN: `next(buffer)` appends rows in COPY's text format to `buffer` and
  // returns false once there are no more; the buffer is sent whenever it grows large. Returns
  // the number of rows the server copied.
  std::int64_t copy_in(std::string_view copy_sql, const std::function<bool(std::string&)>& next);

  // True while the server connection is usable.
  bool healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }
  // Connects again after the server went away (statements are prepared anew). Throws PgError.
  void reconnect();
  // Statements prepared on this connection so far (tests: none per call once warm).
  std::int64_t prepared() const { return prepared_; }
  PGconn* handle() const { return conn_.get(); }
  const ConnectSpec& spec() const { return spec_; }
  [[noreturn]] void fail(const std::string& what, const PGresult* r) const;

 private:
  const std::string& statement_for(std::string_view sql);
  void start_stream(std::string_view sql, const Params& params);
  Rows next_streamed();
  void drain() noexcept;  // reads and drops what is left of a stream

  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  ConnectSpec spec_;
  ConnPtr conn_;
  std::unordered_map<std::string, std::string, Hash, std::equal_to<>> names_;  // SQL -> name
  std::int64_t prepared_ = 0;
  bool streaming_ = false;
};

}  // namespace dunning::store::postgres
