// Internal to the SQLite engine: small owning wrappers over sqlite3 handles and the
// prepared-statement cache. Errors throw SqliteError; the engine's methods turn them into
// StoreError at the store's boundary (see rows.hpp, guard).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace dunning::store::sqlite {

class SqliteError : public std::runtime_error {
 public:
  SqliteError(const std::string& what, int code) : std::runtime_error(what), code_(code) {}
  int code() const { return code_; }
  bool busy() const { return (code_ & 0xff) == SQLITE_BUSY || (code_ & 0xff) == SQLITE_LOCKED; }

 private:
  int code_;
};

class Db;

class Stmt {
 public:
  Stmt(Db& db, std::string_view sql);
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&&) noexcept = default;

  // Binds are 1-based like SQLite's. std::nullopt binds NULL.
  Stmt& bind(int i, std::int64_t v);
  Stmt& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  Stmt& bind(int i, std::string_view v);
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  Stmt& bind(int i, std::nullopt_t);
  template <typename T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : bind(i, std::nullopt);
  }

  // Advances; true while a row is available.
  bool step();
  // Runs to completion (for statements that return no rows).
  void run();
  void reset();

  bool is_null(int col) const;
  // The value is stored as an integer (its storage class is SQLITE_INTEGER).
  bool is_integer(int col) const;
  std::int64_t int64(int col) const;
  std::string text(int col) const;  // "" for NULL
  std::optional<std::string> opt_text(int col) const;
  std::optional<std::int64_t> opt_int64(int col) const;

 private:
  struct Finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  Db* db_;
  std::unique_ptr<sqlite3_stmt, Finalize> stmt_;
};

class Db {
 public:
  // Opens (creating if `create`) the file. Throws SqliteError.
  Db(const std::string& path, bool create);
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  void exec(std::string_view sql);
  std::int64_t last_insert_rowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  int changes() const { return sqlite3_changes(db_.get()); }
  sqlite3* handle() const { return db_.get(); }
  [[noreturn]] void fail(const std::string& what, int code) const;

 private:
  struct Close {
    void operator()(sqlite3* d) const { sqlite3_close_v2(d); }
  };
  std::unique_ptr<sqlite3, Close> db_;
};

// BEGIN IMMEDIATE on construction, ROLLBACK unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Db& db);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void commit();

 private:
  Db& db_;
  bool done_ = false;
};

// Prepared statements of one connection, keyed by their SQL text: each text is compiled once
// and reused (reset and unbound after every use). A text already in use further up the stack
// (a query issued while another with the same text is being stepped) gets a statement of its
// own for that use, so nesting is always safe.
class StatementCache {
 public:
  explicit StatementCache(Db& db) : db_(&db) {}
  StatementCache(const StatementCache&) = delete;
  StatementCache& operator=(const StatementCache&) = delete;

  // A statement borrowed for one use; forwards Stmt's interface and gives the statement back
  // (reset, bindings cleared) when it goes out of scope.
  class Lease {
   public:
    Lease(Lease&& other) noexcept
        : stmt_(std::exchange(other.stmt_, nullptr)),
          busy_(std::exchange(other.busy_, nullptr)),
          own_(std::move(other.own_)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Lease& operator=(Lease&&) = delete;
    ~Lease();

    Stmt& operator*() const { return *stmt_; }
    Stmt* operator->() const { return stmt_; }

    template <typename T>
    Lease& bind(int i, T&& v) {
      stmt_->bind(i, std::forward<T>(v));
      return *this;
    }
    bool step() { return stmt_->step(); }
    void run() { stmt_->run(); }
    bool is_null(int col) const { return stmt_->is_null(col); }
    bool is_integer(int col) const { return stmt_->is_integer(col); }
    std::int64_t int64(int col) const { return stmt_->int64(col); }
    std::string text(int col) const { return stmt_->text(col); }
    std::optional<std::string> opt_text(int col) const { return stmt_->opt_text(col); }
    std::optional<std::int64_t> opt_int64(int col) const { return stmt_->opt_int64(col); }

   private:
    friend class StatementCache;
    Lease(Stmt* stmt, bool* busy, std::unique_ptr<Stmt> own)
        : stmt_(stmt), busy_(busy), own_(std::move(own)) {}
    Stmt* stmt_;
    bool* busy_;                 // the cache entry's in-use flag; nullptr for an own statement
    std::unique_ptr<Stmt> own_;  // a statement for a nested use of a busy text
  };

  // The statement for `sql`, compiled on its first use. Throws SqliteError.
  Lease get(std::string_view sql);
  // How many statements were compiled so far (tests: none per call once warm).
  std::int64_t prepared() const { return prepared_; }
  // Finalizes every cached statement (before the connection closes).
  void clear() { entries_.clear(); }

 private:
  struct Entry {
    explicit Entry(Stmt s) : stmt(std::move(s)) {}
    Stmt stmt;
    bool busy = false;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  Db* db_;
  std::unordered_map<std::string, std::unique_ptr<Entry>, Hash, std::equal_to<>> entries_;
  std::int64_t prepared_ = 0;
};

}  // namespace dunning::store::sqlite
