// The engine-independent half of the store: transactions over the abstract Database, the state
// vocabularies, and choosing the engine from the config's `database:` value.
#include "dunning/store/engine.hpp"

#include <array>
#include <utility>

#include "store/sqlite/engine.hpp"

namespace dunning::store {

Tx::Tx(Database& db) : db_(db) { db_.begin(); }

Tx::~Tx() {
  if (!done_) db_.rollback();
}

void Tx::commit() {
  db_.commit();  // a failed COMMIT (busy) leaves the transaction open: the destructor rolls back
  done_ = true;
}

Savepoint::Savepoint(Database& db) : db_(db), depth_(db_.savepoint()) {}

Savepoint::~Savepoint() {
  if (!done_) db_.rollback_to(depth_);
}

void Savepoint::release() {
  db_.release(depth_);
  done_ = true;
}

namespace {

constexpr std::array<std::pair<CaseState, std::string_view>, 5> kCaseStateNames{{
    {CaseState::kOpen, "open"},
    {CaseState::kPaused, "paused"},
    {CaseState::kRecovered, "recovered"},
    {CaseState::kLost, "lost"},
    {CaseState::kCancelled, "cancelled"},
}};

constexpr std::array<std::pair<OutboxState, std::string_view>, 5> kOutboxStateNames{{
    {OutboxState::kPending, "pending"},
    {OutboxState::kSent, "sent"},
    {OutboxState::kFailed, "failed"},
    {OutboxState::kCancelled, "cancelled"},
    {OutboxState::kSkipped, "skipped"},
}};

constexpr std::string_view kSqlitePrefix = "sqlite:";

}  // namespace

std::string_view to_string(CaseState s) {
  for (auto [value, name] : kCaseStateNames)
    if (value == s) return name;
  return "?";  // unreachable for a valid enumerator
}

std::optional<CaseState> parse_case_state(std::string_view text) {
  for (auto [value, name] : kCaseStateNames)
    if (name == text) return value;
  return std::nullopt;
}

std::string_view to_string(OutboxState s) {
  for (auto [value, name] : kOutboxStateNames)
    if (value == s) return name;
  return "?";  // unreachable for a valid enumerator
}

std::optional<OutboxState> parse_outbox_state(std::string_view text) {
  for (auto [value, name] : kOutboxStateNames)
    if (name == text) return value;
  return std::nullopt;
}

Result<std::unique_ptr<Engine>> open_engine(const std::string& database, OpenMode mode) {
  if (database.rfind("postgres://", 0) == 0 || database.rfind("postgresql://", 0) == 0) {
    return Error::permanent("database " + database +
                            ": PostgreSQL is not supported by this dunningd yet");
  }
  std::string path = database;
  if (path.rfind(kSqlitePrefix, 0) == 0) path.erase(0, kSqlitePrefix.size());
  auto engine = sqlite::open_sqlite(path, mode);
  if (!engine) return engine.error();
  return std::unique_ptr<Engine>(std::move(engine).value());
}

Status snapshot_database(const std::string& from, const std::filesystem::path& to) {
  std::string path = from;
  if (path.rfind(kSqlitePrefix, 0) == 0) path.erase(0, kSqlitePrefix.size());
  return sqlite::snapshot_sqlite(path, to);
}

}  // namespace dunning::store
