// The engine-independent half of the store: transactions over the abstract Database, the state
// vocabularies, and choosing the engine from the config's `database:` value.
#include "dunning/store/engine.hpp"

#include <unistd.h>

#include <array>
#include <utility>

#include "dunning/core/names.hpp"
#include "dunning/store/leadership.hpp"
#include "dunning/store/ledger_book.hpp"
#include "dunning/store/payments_feed.hpp"
#include "store/postgres/engine.hpp"
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

constexpr Names<CaseState, 5> kCaseStateNames{{{
    {CaseState::kOpen, "open"},
    {CaseState::kPaused, "paused"},
    {CaseState::kRecovered, "recovered"},
    {CaseState::kLost, "lost"},
    {CaseState::kCancelled, "cancelled"},
}}};

constexpr Names<OutboxState, 5> kOutboxStateNames{{{
    {OutboxState::kPending, "pending"},
    {OutboxState::kSent, "sent"},
    {OutboxState::kFailed, "failed"},
    {OutboxState::kCancelled, "cancelled"},
    {OutboxState::kSkipped, "skipped"},
}}};

// The schema's CHECK on payments.status lists the same names (migrations.hpp, both engines).
constexpr Names<PaymentStatus, 3> kPaymentStatusNames{{{
    {PaymentStatus::kFailed, "failed"},
    {PaymentStatus::kSucceeded, "succeeded"},
    {PaymentStatus::kRefunded, "refunded"},
}}};

// The schema's CHECK on ledger.kind lists the same names (migrations.hpp, both engines).
constexpr Names<LedgerKind, 7> kLedgerKindNames{{{
    {LedgerKind::kRecovered, "recovered"},
    {LedgerKind::kRecoveredWithoutContact, "recovered_without_contact"},
    {LedgerKind::kLost, "lost"},
    {LedgerKind::kCancelled, "cancelled"},
    {LedgerKind::kPartial, "partial"},
    {LedgerKind::kLate, "late"},
    {LedgerKind::kCorrection, "correction"},
}}};

// Stored as NULL for kNone (the column is empty on every row that is not a recovery).
constexpr Names<Attribution, 3> kAttributionNames{{{
    {Attribution::kNone, ""},
    {Attribution::kStep, "step"},
    {Attribution::kClick, "click"},
}}};

constexpr std::string_view kSqlitePrefix = "sqlite:";

}  // namespace

std::string_view to_string(CaseState s) { return kCaseStateNames.name(s); }
std::optional<CaseState> parse_case_state(std::string_view text) {
  return kCaseStateNames.parse(text);
}

std::string_view to_string(OutboxState s) { return kOutboxStateNames.name(s); }
std::optional<OutboxState> parse_outbox_state(std::string_view text) {
  return kOutboxStateNames.parse(text);
}

std::string_view to_string(PaymentStatus s) { return kPaymentStatusNames.name(s); }
std::optional<PaymentStatus> parse_payment_status(std::string_view text) {
  return kPaymentStatusNames.parse(text);
}

std::string_view to_string(LedgerKind k) { return kLedgerKindNames.name(k); }
std::optional<LedgerKind> parse_ledger_kind(std::string_view text) {
  return kLedgerKindNames.parse(text);
}

bool is_recovery(LedgerKind k) {
  return k == LedgerKind::kRecovered || k == LedgerKind::kRecoveredWithoutContact;
}

bool brings_money_in(LedgerKind k) {
  return is_recovery(k) || k == LedgerKind::kPartial || k == LedgerKind::kLate;
}

std::string_view to_string(Attribution a) { return kAttributionNames.name(a); }
std::optional<Attribution> parse_attribution(std::string_view text) {
  return kAttributionNames.parse(text);
}

bool is_postgres(std::string_view database) { return postgres::is_postgres_uri(database); }

namespace {

postgres::ConnectSpec connect_spec(const std::string& database, const EngineOptions& options) {
  return {database, options.password, options.application_name};
}

}  // namespace

Result<std::unique_ptr<Engine>> open_engine(const std::string& database, OpenMode mode,
                                            const EngineOptions& options) {
  if (is_postgres(database)) {
    auto engine = postgres::open_postgres(connect_spec(database, options), mode);
    if (!engine) return engine.error();
    return std::unique_ptr<Engine>(std::move(engine).value());
  }
  std::string path = database;
  if (path.rfind(kSqlitePrefix, 0) == 0) path.erase(0, kSqlitePrefix.size());
  auto engine = sqlite::open_sqlite(path, mode);
  if (!engine) return engine.error();
  return std::unique_ptr<Engine>(std::move(engine).value());
}

Result<std::unique_ptr<Leadership>> open_leadership(const std::string& database,
                                                    const EngineOptions& options,
                                                    const std::string& instance_id,
                                                    Seconds poll_interval) {
  if (is_postgres(database)) {
    return postgres::open_pg_leadership(connect_spec(database, options), instance_id,
                                        poll_interval);
  }
  std::string path = database;
  if (path.rfind(kSqlitePrefix, 0) == 0) path.erase(0, kSqlitePrefix.size());
  return sqlite::open_sqlite_leadership(path, instance_id);
}

std::string this_instance_id() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return std::string(host[0] ? host : "localhost") + ":" + std::to_string(::getpid());
}

Status snapshot_database(const std::string& from, const std::filesystem::path& to) {
  if (is_postgres(from)) {
    return Error::invalid("simulate runs on a copy of a SQLite database; " +
                          postgres::redact_uri(from) +
                          " is PostgreSQL (see docs/instances.md: simulate)");
  }
  std::string path = from;
  if (path.rfind(kSqlitePrefix, 0) == 0) path.erase(0, kSqlitePrefix.size());
  return sqlite::snapshot_sqlite(path, to);
}

}  // namespace dunning::store
