#include "store/postgres/pg.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

namespace dunning::store::postgres {

namespace {

std::string sqlstate_of(const PGresult* r) {
  if (r == nullptr) return {};
  const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  return s ? s : "";
}

// libpq's messages end with a newline (and sometimes carry a second line of detail).
std::string one_line(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (auto& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

std::string redact_uri(const std::string& uri) {
  // scheme://user:password@host... → scheme://user@host...
  const auto scheme = uri.find("://");
  if (scheme == std::string::npos) return uri;
  const auto start = scheme + 3;
  const auto at = uri.find('@', start);
  const auto slash = uri.find('/', start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return uri;
  const auto colon = uri.find(':', start);
  if (colon == std::string::npos || colon > at) return uri;
  return uri.substr(0, colon) + uri.substr(at);
}

ConnPtr connect(const ConnectSpec& spec) {
  // expand_dbname: `dbname` is the whole URI; keywords before it are defaults the URI may
  // override, keywords after it override the URI. The defaults bound how long a dead server or
  // a cut network can hold a call: 10 s to connect, a silent peer detected within a minute.
  std::vector<const char*> keys{"connect_timeout",  "keepalives_idle",  "keepalives_interval",
                                "keepalives_count", "tcp_user_timeout", "dbname",
                                "application_name"};
  std::vector<const char*> values{
      "10", "30", "10", "3", "60000", spec.uri.c_str(), spec.application_name.c_str()};
  if (!spec.password.empty()) {
    keys.push_back("password");
    values.push_back(spec.password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  ConnPtr conn(PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1));
  if (!conn) throw PgError("cannot connect to " + redact_uri(spec.uri) + ": out of memory", "");
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw PgError(
        "cannot connect to " + redact_uri(spec.uri) + ": " + one_line(PQerrorMessage(conn.get())),
        "");
  }
  // The server's warnings (a migration that leaves work to a table's owner) go to the log, not
  // to stderr.
  PQsetNoticeProcessor(
      conn.get(),
      [](void*, const char* message) { spdlog::warn("postgresql: {}", one_line(message)); },
      nullptr);
  return conn;
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
  return out;
}

int Rows::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  return (n && *n) ? std::atoi(n) : 0;
}

std::string Rows::text(int row, int col) const {
  if (is_null(row, col)) return {};
  return std::string(PQgetvalue(r_.get(), row, col),
                     static_cast<std::size_t>(PQgetlength(r_.get(), row, col)));
}

std::optional<std::string> Rows::opt_text(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return text(row, col);
}

bool Rows::is_integer(int row, int col) const {
  if (is_null(row, col)) return false;
  const char* p = PQgetvalue(r_.get(), row, col);
  const char* end = p + PQgetlength(r_.get(), row, col);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(p, end, v);
  return ec == std::errc() && ptr == end;
}

std::int64_t Rows::int64(int row, int col) const {
  if (is_null(row, col)) return 0;
  const char* p = PQgetvalue(r_.get(), row, col);
  const char* end = p + PQgetlength(r_.get(), row, col);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(p, end, v);
  if (ec != std::errc() || ptr != end) {
    throw PgError("column " + std::string(PQfname(r_.get(), col)) + " is not an integer: \"" +
                      std::string(p, end) + "\"",
                  "");
  }
  return v;
}

std::optional<std::int64_t> Rows::opt_int64(int row, int col) const {
  if (is_null(row, col)) return std::nullopt;
  return int64(row, col);
}

std::string to_dollar_params(std::string_view sql) {
  std::string out;
  out.reserve(sql.size() + 16);
  int next = 0;
  char quote = 0;  // ' or " while inside a literal or a quoted identifier
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
      continue;
    }
    if (c == '\'' || c == '"') {
      quote = c;
      out += c;
      continue;
    }
    if (c != '?') {
      out += c;
      continue;
    }
    std::size_t j = i + 1;
    while (j < sql.size() && sql[j] >= '0' && sql[j] <= '9') ++j;
    if (j > i + 1) {
      out += '$';
      out.append(sql.substr(i + 1, j - i - 1));
      next = std::max(next, std::atoi(std::string(sql.substr(i + 1, j - i - 1)).c_str()));
      i = j - 1;
    } else {
      out += '$' + std::to_string(++next);
    }
  }
  return out;
}

Conn::Conn(ConnectSpec spec) : spec_(std::move(spec)), conn_(connect(spec_)) {}

void Conn::reconnect() {
  names_.clear();
  streaming_ = false;
  conn_ = connect(spec_);
}

void Conn::fail(const std::string& what, const PGresult* r) const {
  std::string msg = r ? PQresultErrorMessage(r) : "";
  if (msg.empty()) msg = PQerrorMessage(conn_.get());
  throw PgError(what + ": " + one_line(msg), sqlstate_of(r));
}

void Conn::exec(std::string_view sql) {
  if (streaming_) throw PgError("statement issued while a result is being streamed", "");
  ResultPtr r(PQexec(conn_.get(), std::string(sql).c_str()));
  const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fail("\"" + std::string(sql.substr(0, 60)) + "...\"", r.get());
  }
}

const std::string& Conn::statement_for(std::string_view sql) {
  auto it = names_.find(sql);
  if (it != names_.end()) return it->second;
  std::string name = "s" + std::to_string(names_.size() + 1);
  const std::string text = to_dollar_params(sql);
  ResultPtr r(PQprepare(conn_.get(), name.c_str(), text.c_str(), 0, nullptr));
  if (!r || PQresultStatus(r.get()) != PGRES_COMMAND_OK) {
    fail("prepare \"" + std::string(sql.substr(0, 60)) + "...\"", r.get());
  }
  ++prepared_;
  return names_.emplace(std::string(sql), std::move(name)).first->second;
}

Rows Conn::query(std::string_view sql, const Params& params) {
  if (streaming_) throw PgError("statement issued while a result is being streamed", "");
  const std::string& name = statement_for(sql);
  const auto values = params.pointers();
  ResultPtr r(
      PQexecPrepared(conn_.get(), name.c_str(), params.size(), values.data(), nullptr, nullptr, 0));
  const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fail("\"" + std::string(sql.substr(0, 60)) + "...\"", r.get());
  }
  return Rows(std::move(r));
}

void Conn::start_stream(std::string_view sql, const Params& params) {
  if (streaming_) throw PgError("statement issued while a result is being streamed", "");
  const std::string& name = statement_for(sql);
  const auto values = params.pointers();
  if (!PQsendQueryPrepared(conn_.get(), name.c_str(), params.size(), values.data(), nullptr,
                           nullptr, 0)) {
    fail("\"" + std::string(sql.substr(0, 60)) + "...\"", nullptr);
  }
  PQsetSingleRowMode(conn_.get());
  streaming_ = true;
}

Rows Conn::next_streamed() {
  ResultPtr r(PQgetResult(conn_.get()));
  const auto st = r ? PQresultStatus(r.get()) : PGRES_FATAL_ERROR;
  if (st == PGRES_SINGLE_TUPLE) return Rows(std::move(r));
  // The end (an empty TUPLES_OK) or an error: drain what is left so the connection is free.
  std::string error;
  std::string state;
  if (st != PGRES_TUPLES_OK) {
    error = r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_.get());
    state = sqlstate_of(r.get());
  }
  while (ResultPtr rest{PQgetResult(conn_.get())}) {
  }
  streaming_ = false;
  if (!error.empty() || st != PGRES_TUPLES_OK) {
    throw PgError("streaming: " + one_line(error), state);
  }
  return Rows();
}

std::int64_t Conn::copy_in(std::string_view copy_sql,
                           const std::function<bool(std::string&)>& next) {
  if (streaming_) throw PgError("statement issued while a result is being streamed", "");
  {
    ResultPtr r(PQexec(conn_.get(), std::string(copy_sql).c_str()));
    if (!r || PQresultStatus(r.get()) != PGRES_COPY_IN) {
      fail("\"" + std::string(copy_sql.substr(0, 60)) + "...\"", r.get());
    }
  }
  std::string buffer;
  bool more = true;
  const char* error = nullptr;
  while (more) {
    more = next(buffer);
    if (buffer.size() >= (1U << 20) || (!more && !buffer.empty())) {
      if (PQputCopyData(conn_.get(), buffer.data(), static_cast<int>(buffer.size())) != 1) {
        error = "sending COPY data failed";
        break;
      }
      buffer.clear();
    }
  }
  PQputCopyEnd(conn_.get(), error);
  ResultPtr r(PQgetResult(conn_.get()));
  const bool ok = r && PQresultStatus(r.get()) == PGRES_COMMAND_OK;
  std::string message = ok ? "" : (r ? PQresultErrorMessage(r.get()) : PQerrorMessage(conn_.get()));
  std::string state = sqlstate_of(r.get());
  const Rows done(std::move(r));
  while (ResultPtr rest{PQgetResult(conn_.get())}) {
  }
  if (!ok) throw PgError("COPY: " + one_line(message), state);
  return done.affected();
}

void Conn::drain() noexcept {
  if (!streaming_) return;
  while (ResultPtr rest{PQgetResult(conn_.get())}) {
  }
  streaming_ = false;
}

}  // namespace dunning::store::postgres
