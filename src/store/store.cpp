#include "dunning/store/store.hpp"

#include <spdlog/spdlog.h>

#include "store/migrate.hpp"
#include "store/migrations.hpp"
#include "store/sqlite.hpp"

namespace dunning::store {

using sqlite::Db;
using sqlite::SqliteError;
using sqlite::Stmt;

std::string_view to_string(CaseState s) {
  switch (s) {
    case CaseState::kOpen:
      return "open";
    case CaseState::kPaused:
      return "paused";
    case CaseState::kRecovered:
      return "recovered";
    case CaseState::kLost:
      return "lost";
    case CaseState::kCancelled:
      return "cancelled";
  }
  return "?";
}

std::string_view to_string(OutboxState s) {
  switch (s) {
    case OutboxState::kPending:
      return "pending";
    case OutboxState::kSent:
      return "sent";
    case OutboxState::kFailed:
      return "failed";
    case OutboxState::kCancelled:
      return "cancelled";
    case OutboxState::kSkipped:
      return "skipped";
  }
  return "?";
}

namespace {

CaseState case_state_from(const std::string& s) {
  if (s == "paused") return CaseState::kPaused;
  if (s == "recovered") return CaseState::kRecovered;
  if (s == "lost") return CaseState::kLost;
  if (s == "cancelled") return CaseState::kCancelled;
  return CaseState::kOpen;
}

OutboxState outbox_state_from(const std::string& s) {
  if (s == "sent") return OutboxState::kSent;
  if (s == "failed") return OutboxState::kFailed;
  if (s == "cancelled") return OutboxState::kCancelled;
  if (s == "skipped") return OutboxState::kSkipped;
  return OutboxState::kPending;
}

std::string iso(TimePoint t) { return format_iso8601(t); }

TimePoint parse_time(const std::string& s, const char* what) {
  auto t = parse_iso8601(s);
  if (!t) throw StoreError(std::string("bad timestamp in ") + what + ": \"" + s + "\"");
  return *t;
}

std::optional<TimePoint> parse_opt_time(const std::optional<std::string>& s, const char* what) {
  if (!s || s->empty()) return std::nullopt;
  return parse_time(*s, what);
}

constexpr const char* kCaseColumns =
    "id, trigger, customer_id, subscription_id, invoice_id, payment_id, amount_minor, currency, "
    "decline_code, sequence_id, sequence_hash, state, opened_at, closed_at, next_step, "
    "next_due_at, attempt_count, holdout";

CaseRecord read_case(const Stmt& s) {
  CaseRecord c;
  c.id = s.int64(0);
  c.trigger = s.text(1);
  c.customer_id = s.text(2);
  c.subscription_id = s.opt_text(3);
  c.invoice_id = s.opt_text(4);
  c.payment_id = s.opt_text(5);
  c.amount = Money(s.int64(6), s.text(7));
  c.decline_code = s.text(8);
  c.sequence_id = s.text(9);
  c.sequence_hash = s.text(10);
  c.state = case_state_from(s.text(11));
  c.opened_at = parse_time(s.text(12), "cases.opened_at");
  c.closed_at = parse_opt_time(s.opt_text(13), "cases.closed_at");
  c.next_step = static_cast<int>(s.int64(14));
  c.next_due_at = parse_opt_time(s.opt_text(15), "cases.next_due_at");
  c.attempt_count = static_cast<int>(s.int64(16));
  c.holdout = s.int64(17) != 0;
  return c;
}

constexpr const char* kOutboxColumns =
    "id, case_id, step_index, channel, template, action, message_key, state, attempts, due_at, "
    "created_at, sent_at, last_error, card_id";

OutboxRow read_outbox(const Stmt& s) {
  OutboxRow r;
  r.id = s.int64(0);
  r.case_id = s.int64(1);
  r.step_index = static_cast<int>(s.int64(2));
  r.channel = s.text(3);
  r.template_name = s.text(4);
  r.action = s.text(5);
  r.message_key = s.text(6);
  r.state = outbox_state_from(s.text(7));
  r.attempts = static_cast<int>(s.int64(8));
  r.due_at = parse_time(s.text(9), "outbox.due_at");
  r.created_at = parse_time(s.text(10), "outbox.created_at");
  r.sent_at = parse_opt_time(s.opt_text(11), "outbox.sent_at");
  r.last_error = s.text(12);
  r.card_id = s.opt_text(13);
  return r;
}

}  // namespace

struct Store::Impl {
  explicit Impl(const std::string& path, bool create) : db(path, create) {}
  Db db;
};

struct Store::Tx::State {
  explicit State(Db& db) : tx(db) {}
  sqlite::Transaction tx;
};

Store::Tx::Tx(Store& s) {
  try {
    state_ = std::make_unique<State>(s.impl_->db);
  } catch (const SqliteError& e) {
    throw StoreError(e.what());
  }
}
Store::Tx::~Tx() = default;
void Store::Tx::commit() {
  try {
    state_->tx.commit();
  } catch (const SqliteError& e) {
    throw StoreError(e.what());
  }
}

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, Mode mode) {
  if (mode == Mode::kExisting && !std::filesystem::exists(path)) {
    return Error::permanent("database " + path.string() + " does not exist");
  }
  try {
    auto impl = std::make_unique<Impl>(path.string(), mode == Mode::kCreate);
    Db& db = impl->db;
    db.exec("PRAGMA journal_mode=WAL");
    db.exec("PRAGMA synchronous=FULL");
    db.exec("PRAGMA foreign_keys=ON");
    const int version = detail::schema_version(db);
    if (version > kSchemaVersion) {
      return Error::permanent("database " + path.string() + " has schema version " +
                              std::to_string(version) + ", newer than this dunningd (" +
                              std::to_string(kSchemaVersion) + ")");
    }
    // Backs an existing database up to <file>.pre-v<N>.bak first (SQLite online backup).
    static_assert(detail::kMigrations.size() == kSchemaVersion, "one migration per version");
    detail::migrate(db, path, detail::kMigrations);
    return std::unique_ptr<Store>(new Store(std::move(impl)));
  } catch (const SqliteError& e) {
    return Error::permanent(e.what());
  }
}

// Every public method below runs its SQL through `guard`, which turns driver errors into
// StoreError with the operation named.
namespace {
template <typename F>
auto guard(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SqliteError& e) {
    throw StoreError(std::string(what) + ": " + e.what());
  }
}
}  // namespace

int Store::schema_version() {
  return guard("schema_version", [&] {
    Stmt s(impl_->db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    return s.step() ? static_cast<int>(s.int64(0)) : 0;
  });
}

Store::PaymentBatch Store::payments_after(std::int64_t after_rowid, int limit) {
  return guard("payments_after", [&] {
    Stmt s(impl_->db,
           "SELECT rowid, id, customer_id, subscription_id, invoice_id, amount_minor, currency, "
           "status, COALESCE(decline_code, ''), occurred_at FROM payments WHERE rowid > ? "
           "ORDER BY rowid LIMIT ?");
    s.bind(1, after_rowid).bind(2, limit);
    PaymentBatch out;
    out.last_rowid = after_rowid;
    while (s.step()) {
      Payment p;
      p.rowid = s.int64(0);
      out.last_rowid = p.rowid;
      p.id = s.text(1);
      p.customer_id = s.text(2);
      p.subscription_id = s.opt_text(3);
      p.invoice_id = s.opt_text(4);
      p.amount = Money(s.int64(5), s.text(6));
      p.status = s.text(7);
      p.decline_code = s.text(8);
      auto t = parse_iso8601(s.text(9));
      if (!t) {
        spdlog::warn("payment {} has an unreadable occurred_at \"{}\"; skipped", p.id, s.text(9));
        continue;
      }
      p.occurred_at = *t;
      out.rows.push_back(std::move(p));
    }
    return out;
  });
}

std::int64_t Store::cursor(const std::string& name) {
  return guard("cursor", [&] {
    Stmt s(impl_->db, "SELECT value FROM cursors WHERE name = ?");
    s.bind(1, name);
    return s.step() ? s.int64(0) : std::int64_t{0};
  });
}

void Store::set_cursor(const std::string& name, std::int64_t value) {
  guard("set_cursor", [&] {
    Stmt s(impl_->db,
           "INSERT INTO cursors(name, value) VALUES (?, ?) "
           "ON CONFLICT(name) DO UPDATE SET value = excluded.value");
    s.bind(1, name).bind(2, value).run();
  });
}

std::optional<Customer> Store::customer(const std::string& id) {
  return guard("customer", [&]() -> std::optional<Customer> {
    Stmt s(impl_->db,
           "SELECT id, COALESCE(email, ''), COALESCE(name, ''), COALESCE(locale, ''), "
           "COALESCE(time_zone, ''), COALESCE(phone, '') FROM customers WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return Customer{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)};
  });
}

std::optional<std::string> Store::subscription_plan(const std::string& subscription_id) {
  return guard("subscription_plan", [&]() -> std::optional<std::string> {
    Stmt s(impl_->db, "SELECT COALESCE(plan, '') FROM subscriptions WHERE id = ?");
    s.bind(1, subscription_id);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  });
}

std::optional<Card> Store::default_card(const std::string& customer_id) {
  return guard("default_card", [&]() -> std::optional<Card> {
    Stmt s(impl_->db,
           "SELECT id, COALESCE(brand, ''), COALESCE(last4, ''), COALESCE(exp_month, 0), "
           "COALESCE(exp_year, 0) FROM payment_methods WHERE customer_id = ? AND is_default = 1 "
           "ORDER BY updated_at DESC LIMIT 1");
    s.bind(1, customer_id);
    if (!s.step()) return std::nullopt;
    return Card{s.text(0), s.text(1), s.text(2), static_cast<int>(s.int64(3)),
                static_cast<int>(s.int64(4))};
  });
}

std::optional<CaseRecord> Store::open_case_for_invoice(const std::string& invoice_id) {
  return guard("open_case_for_invoice", [&]() -> std::optional<CaseRecord> {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE invoice_id = ? AND state IN ('open', 'paused')");
    s.bind(1, invoice_id);
    if (!s.step()) return std::nullopt;
    return read_case(s);
  });
}

std::vector<CaseRecord> Store::open_cases_for_customer(const std::string& customer_id) {
  return guard("open_cases_for_customer", [&] {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE customer_id = ? AND state IN ('open', 'paused') "
                          "ORDER BY id");
    s.bind(1, customer_id);
    std::vector<CaseRecord> out;
    while (s.step()) out.push_back(read_case(s));
    return out;
  });
}

std::optional<CaseRecord> Store::get_case(std::int64_t id) {
  return guard("get_case", [&]() -> std::optional<CaseRecord> {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns + " FROM cases WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_case(s);
  });
}

std::vector<CaseRecord> Store::list_cases(const std::string& state_filter, int limit) {
  return guard("list_cases", [&] {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE (?1 = '' OR state = ?1) ORDER BY id LIMIT ?2");
    s.bind(1, state_filter).bind(2, limit);
    std::vector<CaseRecord> out;
    while (s.step()) out.push_back(read_case(s));
    return out;
  });
}

std::int64_t Store::insert_case(const CaseRecord& c) {
  return guard("insert_case", [&] {
    Stmt s(impl_->db,
           "INSERT INTO cases(trigger, customer_id, subscription_id, invoice_id, payment_id, "
           "amount_minor, currency, decline_code, sequence_id, sequence_hash, state, opened_at, "
           "next_step, next_due_at, attempt_count, holdout) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, c.trigger).bind(2, c.customer_id).bind(3, c.subscription_id).bind(4, c.invoice_id);
    s.bind(5, c.payment_id).bind(6, c.amount.minor()).bind(7, c.amount.currency());
    s.bind(8, c.decline_code).bind(9, c.sequence_id).bind(10, c.sequence_hash);
    s.bind(11, to_string(c.state)).bind(12, iso(c.opened_at)).bind(13, c.next_step);
    if (c.next_due_at) {
      s.bind(14, iso(*c.next_due_at));
    } else {
      s.bind(14, std::nullopt);
    }
    s.bind(15, c.attempt_count).bind(16, c.holdout ? 1 : 0);
    s.run();
    return impl_->db.last_insert_rowid();
  });
}

std::vector<CaseRecord> Store::due_cases(TimePoint now, int limit) {
  return guard("due_cases", [&] {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE state = 'open' AND next_due_at IS NOT NULL AND "
                          "next_due_at <= ? ORDER BY next_due_at, id LIMIT ?");
    s.bind(1, iso(now)).bind(2, limit);
    std::vector<CaseRecord> out;
    while (s.step()) out.push_back(read_case(s));
    return out;
  });
}

void Store::set_case_progress(std::int64_t id, int next_step,
                              std::optional<TimePoint> next_due_at) {
  guard("set_case_progress", [&] {
    Stmt s(impl_->db, "UPDATE cases SET next_step = ?, next_due_at = ? WHERE id = ?");
    s.bind(1, next_step);
    if (next_due_at) {
      s.bind(2, iso(*next_due_at));
    } else {
      s.bind(2, std::nullopt);
    }
    s.bind(3, id).run();
  });
}

void Store::close_case(std::int64_t id, CaseState state, TimePoint at, const std::string& reason) {
  guard("close_case", [&] {
    Stmt s(impl_->db,
           "UPDATE cases SET state = ?, closed_at = ?, close_reason = ?, next_due_at = NULL "
           "WHERE id = ?");
    s.bind(1, to_string(state)).bind(2, iso(at)).bind(3, reason).bind(4, id).run();
  });
}

void Store::add_case_event(std::int64_t case_id, TimePoint at, const std::string& kind,
                           const std::string& detail) {
  guard("add_case_event", [&] {
    Stmt s(impl_->db, "INSERT INTO case_events(case_id, at, kind, detail) VALUES (?, ?, ?, ?)");
    s.bind(1, case_id).bind(2, iso(at)).bind(3, kind).bind(4, detail).run();
  });
}

std::vector<Store::CaseEvent> Store::case_events(std::int64_t case_id) {
  return guard("case_events", [&] {
    Stmt s(impl_->db, "SELECT at, kind, detail FROM case_events WHERE case_id = ? ORDER BY id");
    s.bind(1, case_id);
    std::vector<CaseEvent> out;
    while (s.step()) out.push_back({parse_time(s.text(0), "case_events.at"), s.text(1), s.text(2)});
    return out;
  });
}

bool Store::insert_outbox(const OutboxRow& r) {
  return guard("insert_outbox", [&] {
    Stmt s(impl_->db,
           "INSERT INTO outbox(case_id, step_index, channel, template, action, message_key, state, "
           "due_at, next_attempt_at, created_at, card_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT DO NOTHING");
    s.bind(1, r.case_id).bind(2, r.step_index).bind(3, r.channel).bind(4, r.template_name);
    s.bind(5, r.action).bind(6, r.message_key).bind(7, to_string(r.state));
    s.bind(8, iso(r.due_at)).bind(9, iso(r.due_at)).bind(10, iso(r.created_at));
    s.bind(11, r.card_id);
    s.run();
    return impl_->db.changes() == 1;
  });
}

std::vector<OutboxRow> Store::claim_outbox(TimePoint now, Seconds lease, int limit) {
  return guard("claim_outbox", [&] {
    Stmt s(impl_->db,
           std::string("UPDATE outbox SET lease_until = ?1, attempts = attempts + 1 WHERE id IN ("
                       "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 "
                       "AND (lease_until IS NULL OR lease_until <= ?2) "
                       "ORDER BY next_attempt_at, id LIMIT ?3) RETURNING ") +
               kOutboxColumns);
    s.bind(1, iso(now + lease)).bind(2, iso(now)).bind(3, limit);
    std::vector<OutboxRow> out;
    while (s.step()) out.push_back(read_outbox(s));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  });
}

void Store::release_outbox(std::int64_t id) {
  guard("release_outbox", [&] {
    Stmt s(impl_->db,
           "UPDATE outbox SET lease_until = NULL, attempts = MAX(attempts - 1, 0) "
           "WHERE id = ? AND state = 'pending'");
    s.bind(1, id).run();
  });
}

void Store::mark_outbox_sent(std::int64_t id, TimePoint at) {
  guard("mark_outbox_sent", [&] {
    Stmt s(impl_->db,
           "UPDATE outbox SET state = 'sent', sent_at = ?, lease_until = NULL, last_error = NULL "
           "WHERE id = ?");
    s.bind(1, iso(at)).bind(2, id).run();
  });
}

void Store::mark_outbox_retry(std::int64_t id, TimePoint next_attempt_at,
                              const std::string& error) {
  guard("mark_outbox_retry", [&] {
    Stmt s(
        impl_->db,
        "UPDATE outbox SET next_attempt_at = ?, lease_until = NULL, last_error = ? WHERE id = ?");
    s.bind(1, iso(next_attempt_at)).bind(2, error).bind(3, id).run();
  });
}

void Store::mark_outbox_final(std::int64_t id, OutboxState state, TimePoint at,
                              const std::string& error) {
  guard("mark_outbox_final", [&] {
    Stmt s(impl_->db,
           "UPDATE outbox SET state = ?, sent_at = ?, lease_until = NULL, last_error = ? "
           "WHERE id = ?");
    s.bind(1, to_string(state)).bind(2, iso(at)).bind(3, error).bind(4, id).run();
  });
}

int Store::cancel_pending_outbox(std::int64_t case_id, TimePoint at, const std::string& reason) {
  return guard("cancel_pending_outbox", [&] {
    Stmt s(impl_->db,
           "UPDATE outbox SET state = 'cancelled', sent_at = ?, lease_until = NULL, "
           "last_error = ? WHERE case_id = ? AND state = 'pending'");
    s.bind(1, iso(at)).bind(2, reason).bind(3, case_id).run();
    return impl_->db.changes();
  });
}

std::optional<OutboxRow> Store::last_delivered(std::int64_t case_id, TimePoint at) {
  return guard("last_delivered", [&]() -> std::optional<OutboxRow> {
    Stmt s(impl_->db, std::string("SELECT ") + kOutboxColumns +
                          " FROM outbox WHERE case_id = ? AND state = 'sent' AND sent_at <= ? "
                          "ORDER BY sent_at DESC, step_index DESC LIMIT 1");
    s.bind(1, case_id).bind(2, iso(at));
    if (!s.step()) return std::nullopt;
    return read_outbox(s);
  });
}

std::vector<OutboxRow> Store::outbox_for_case(std::int64_t case_id) {
  return guard("outbox_for_case", [&] {
    Stmt s(impl_->db, std::string("SELECT ") + kOutboxColumns +
                          " FROM outbox WHERE case_id = ? ORDER BY step_index");
    s.bind(1, case_id);
    std::vector<OutboxRow> out;
    while (s.step()) out.push_back(read_outbox(s));
    return out;
  });
}

std::int64_t Store::outbox_depth() {
  return guard("outbox_depth", [&] {
    Stmt s(impl_->db, "SELECT COUNT(*) FROM outbox WHERE state = 'pending'");
    return s.step() ? s.int64(0) : std::int64_t{0};
  });
}

std::vector<TimePoint> Store::contact_times(const std::string& customer_id, TimePoint since) {
  return guard("contact_times", [&] {
    Stmt s(impl_->db,
           "SELECT CASE WHEN o.state = 'sent' THEN o.sent_at ELSE o.due_at END AS t "
           "FROM cases c JOIN outbox o ON o.case_id = c.id WHERE c.customer_id = ?1 "
           "AND o.channel IN ('email', 'sms') AND o.state IN ('pending', 'sent') AND t >= ?2 "
           "ORDER BY t");
    s.bind(1, customer_id).bind(2, iso(since));
    std::vector<TimePoint> out;
    while (s.step()) out.push_back(parse_time(s.text(0), "outbox.due_at"));
    return out;
  });
}

std::vector<TimePoint> Store::retry_times(const std::string& card_id, TimePoint from,
                                          TimePoint to) {
  return guard("retry_times", [&] {
    Stmt s(impl_->db,
           "SELECT due_at FROM outbox WHERE card_id = ? AND due_at >= ? AND due_at < ? "
           "AND state <> 'cancelled' AND action = 'retry' ORDER BY due_at");
    s.bind(1, card_id).bind(2, iso(from)).bind(3, iso(to));
    std::vector<TimePoint> out;
    while (s.step()) out.push_back(parse_time(s.text(0), "outbox.due_at"));
    return out;
  });
}

int Store::count_case_events(std::int64_t case_id, const std::string& kind) {
  return guard("count_case_events", [&] {
    Stmt s(impl_->db, "SELECT COUNT(*) FROM case_events WHERE case_id = ? AND kind = ?");
    s.bind(1, case_id).bind(2, kind);
    return s.step() ? static_cast<int>(s.int64(0)) : 0;
  });
}

bool Store::case_clicked(std::int64_t case_id) {
  return guard("case_clicked", [&] {
    Stmt s(impl_->db, "SELECT 1 FROM clicks WHERE case_id = ? LIMIT 1");
    s.bind(1, case_id);
    return s.step();
  });
}

int Store::cancel_pending_contacts(std::int64_t case_id, TimePoint at, const std::string& reason) {
  return guard("cancel_pending_contacts", [&] {
    Stmt s(
        impl_->db,
        "UPDATE outbox SET state = 'cancelled', sent_at = ?, lease_until = NULL, "
        "last_error = ? WHERE case_id = ? AND state = 'pending' AND channel IN ('email', 'sms')");
    s.bind(1, iso(at)).bind(2, reason).bind(3, case_id).run();
    return impl_->db.changes();
  });
}

std::vector<Store::CardChange> Store::card_changes_after(std::int64_t seq, int limit) {
  return guard("card_changes_after", [&] {
    Stmt s(impl_->db,
           "SELECT seq, payment_method_id, customer_id FROM card_changes WHERE seq > ? "
           "ORDER BY seq LIMIT ?");
    s.bind(1, seq).bind(2, limit);
    std::vector<CardChange> out;
    while (s.step()) out.push_back({s.int64(0), s.text(1), s.text(2)});
    return out;
  });
}

std::vector<Store::SubscriptionChange> Store::subscription_changes_after(std::int64_t seq,
                                                                         int limit) {
  return guard("subscription_changes_after", [&] {
    Stmt s(impl_->db,
           "SELECT seq, subscription_id, status FROM subscription_changes WHERE seq > ? "
           "ORDER BY seq LIMIT ?");
    s.bind(1, seq).bind(2, limit);
    std::vector<SubscriptionChange> out;
    while (s.step()) out.push_back({s.int64(0), s.text(1), s.text(2)});
    return out;
  });
}

std::vector<CaseRecord> Store::open_cases_for_subscription(const std::string& subscription_id) {
  return guard("open_cases_for_subscription", [&] {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE subscription_id = ? AND state IN ('open', 'paused') "
                          "ORDER BY id");
    s.bind(1, subscription_id);
    std::vector<CaseRecord> out;
    while (s.step()) out.push_back(read_case(s));
    return out;
  });
}

std::vector<Store::ExpiringCard> Store::expiring_cards(int from_month_index, int to_month_index,
                                                       int limit) {
  return guard("expiring_cards", [&] {
    const int y1 = from_month_index / 12, m1 = from_month_index % 12 + 1;
    const int y2 = to_month_index / 12, m2 = to_month_index % 12 + 1;
    Stmt s(impl_->db,
           "SELECT pm.id, pm.customer_id, pm.exp_month, pm.exp_year FROM payment_methods pm "
           "WHERE pm.is_default = 1 AND (pm.exp_year, pm.exp_month) >= (?1, ?2) "
           "AND (pm.exp_year, pm.exp_month) <= (?3, ?4) AND NOT EXISTS (SELECT 1 FROM "
           "card_expiry_cases e WHERE e.payment_method_id = pm.id AND e.exp_year = pm.exp_year "
           "AND e.exp_month = pm.exp_month) ORDER BY pm.exp_year, pm.exp_month, pm.id LIMIT ?5");
    s.bind(1, y1).bind(2, m1).bind(3, y2).bind(4, m2).bind(5, limit);
    std::vector<ExpiringCard> out;
    while (s.step()) {
      out.push_back(
          {s.text(0), s.text(1), static_cast<int>(s.int64(2)), static_cast<int>(s.int64(3))});
    }
    return out;
  });
}

void Store::record_expiry_case(const ExpiringCard& card, std::int64_t case_id) {
  guard("record_expiry_case", [&] {
    Stmt s(impl_->db,
           "INSERT INTO card_expiry_cases(payment_method_id, exp_year, exp_month, case_id) "
           "VALUES (?, ?, ?, ?)");
    s.bind(1, card.id).bind(2, card.exp_year).bind(3, card.exp_month).bind(4, case_id).run();
  });
}

std::optional<Store::SubscriptionInfo> Store::customer_subscription(
    const std::string& customer_id) {
  return guard("customer_subscription", [&]() -> std::optional<SubscriptionInfo> {
    Stmt s(impl_->db,
           "SELECT id, COALESCE(plan, ''), amount_minor, currency FROM subscriptions "
           "WHERE customer_id = ? AND COALESCE(status, '') NOT IN ('cancelled', 'canceled') "
           "ORDER BY updated_at DESC, id LIMIT 1");
    s.bind(1, customer_id);
    if (!s.step()) return std::nullopt;
    SubscriptionInfo info{s.text(0), s.text(1), std::nullopt};
    auto minor = s.opt_int64(2);
    auto currency = s.text(3);
    if (minor && currency_exponent(currency) >= 0) info.amount = Money(*minor, currency);
    return info;
  });
}

Status Store::snapshot(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!std::filesystem::exists(from)) {
    return Error::permanent("database " + from.string() + " does not exist");
  }
  if (std::filesystem::exists(to)) {
    return Error::permanent(to.string() + " already exists; simulate writes a fresh copy");
  }
  try {
    Db db(from.string(), false);
    Stmt s(db, "VACUUM INTO ?");
    s.bind(1, to.string()).run();
    return Status::success();
  } catch (const SqliteError& e) {
    return Error::permanent(e.what());
  }
}

void Store::prepare_simulation() {
  guard("prepare_simulation", [&] {
    // A simulation copy is disposable: no fsync per transaction.
    impl_->db.exec("PRAGMA synchronous=OFF");
    sqlite::Transaction tx(impl_->db);
    impl_->db.exec(R"sql(
DROP TRIGGER IF EXISTS ledger_is_append_only_update;
DROP TRIGGER IF EXISTS ledger_is_append_only_delete;
DELETE FROM ledger; DELETE FROM outbox; DELETE FROM case_events; DELETE FROM card_expiry_cases;
DELETE FROM clicks; DELETE FROM cases; DELETE FROM cursors; DELETE FROM card_changes;
DELETE FROM subscription_changes;
DROP TABLE IF EXISTS simulation_payments;
CREATE TABLE simulation_payments AS SELECT * FROM payments ORDER BY occurred_at, rowid;
DELETE FROM payments;
)sql");
    tx.commit();
  });
}

int Store::release_payments(TimePoint until) {
  return guard("release_payments", [&] {
    Stmt ins(impl_->db,
             "INSERT INTO payments SELECT * FROM simulation_payments WHERE occurred_at <= ? "
             "ORDER BY occurred_at, rowid");
    ins.bind(1, iso(until)).run();
    const int n = impl_->db.changes();
    Stmt del(impl_->db, "DELETE FROM simulation_payments WHERE occurred_at <= ?");
    del.bind(1, iso(until)).run();
    return n;
  });
}

std::int64_t Store::insert_ledger(const LedgerEntry& e) {
  return guard("insert_ledger", [&] {
    Stmt s(impl_->db,
           "INSERT INTO ledger(case_id, kind, customer_id, subscription_id, invoice_id, "
           "payment_id, amount_minor, currency, step_index, channel, template, sequence_id, "
           "decline_code, opened_at, occurred_at, recorded_at, days_to_recover, attribution, "
           "clicked_at, corrects, note) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.case_id).bind(2, e.kind).bind(3, e.customer_id).bind(4, e.subscription_id);
    s.bind(5, e.invoice_id).bind(6, e.payment_id).bind(7, e.amount.minor());
    s.bind(8, e.amount.currency()).bind(9, e.step_index).bind(10, e.channel);
    s.bind(11, e.template_name).bind(12, e.sequence_id).bind(13, e.decline_code);
    s.bind(14, iso(e.opened_at)).bind(15, iso(e.occurred_at)).bind(16, iso(e.recorded_at));
    s.bind(17, e.days_to_recover);
    if (e.attribution.empty()) {
      s.bind(18, std::nullopt);
    } else {
      s.bind(18, e.attribution);
    }
    if (e.clicked_at) {
      s.bind(19, iso(*e.clicked_at));
    } else {
      s.bind(19, std::nullopt);
    }
    s.bind(20, e.corrects);
    if (e.note.empty()) {
      s.bind(21, std::nullopt);
    } else {
      s.bind(21, e.note);
    }
    s.run();
    return impl_->db.last_insert_rowid();
  });
}

namespace {

void bind_range(Stmt& s, int first, std::optional<TimePoint> from, std::optional<TimePoint> to) {
  if (from) {
    s.bind(first, iso(*from));
  } else {
    s.bind(first, std::nullopt);
  }
  if (to) {
    s.bind(first + 1, iso(*to));
  } else {
    s.bind(first + 1, std::nullopt);
  }
}

}  // namespace

void Store::for_each_ledger(std::optional<TimePoint> from, std::optional<TimePoint> to,
                            const std::function<void(const LedgerEntry&)>& fn) {
  guard("for_each_ledger", [&] {
    Stmt s(impl_->db,
           "SELECT id, case_id, kind, customer_id, subscription_id, invoice_id, payment_id, "
           "amount_minor, currency, step_index, COALESCE(channel, ''), COALESCE(template, ''), "
           "COALESCE(sequence_id, ''), COALESCE(decline_code, ''), opened_at, occurred_at, "
           "recorded_at, days_to_recover, COALESCE(attribution, ''), clicked_at, corrects, "
           "COALESCE(note, '') FROM ledger WHERE (?1 IS NULL OR occurred_at >= ?1) AND "
           "(?2 IS NULL OR occurred_at < ?2) ORDER BY occurred_at, id");
    bind_range(s, 1, from, to);
    while (s.step()) {
      LedgerEntry e;
      e.id = s.int64(0);
      e.case_id = s.int64(1);
      e.kind = s.text(2);
      e.customer_id = s.text(3);
      e.subscription_id = s.opt_text(4);
      e.invoice_id = s.opt_text(5);
      e.payment_id = s.opt_text(6);
      e.amount = Money(s.int64(7), s.text(8));
      if (auto st = s.opt_int64(9)) e.step_index = static_cast<int>(*st);
      e.channel = s.text(10);
      e.template_name = s.text(11);
      e.sequence_id = s.text(12);
      e.decline_code = s.text(13);
      e.opened_at = parse_time(s.text(14), "ledger.opened_at");
      e.occurred_at = parse_time(s.text(15), "ledger.occurred_at");
      e.recorded_at = parse_time(s.text(16), "ledger.recorded_at");
      if (auto d = s.opt_int64(17)) e.days_to_recover = static_cast<int>(*d);
      e.attribution = s.text(18);
      e.clicked_at = parse_opt_time(s.opt_text(19), "ledger.clicked_at");
      e.corrects = s.opt_int64(20);
      e.note = s.text(21);
      fn(e);
    }
  });
}

std::optional<TimePoint> Store::last_click(std::int64_t case_id, TimePoint at) {
  return guard("last_click", [&]() -> std::optional<TimePoint> {
    Stmt s(impl_->db, "SELECT MAX(at) FROM clicks WHERE case_id = ? AND at <= ?");
    s.bind(1, case_id).bind(2, iso(at));
    if (!s.step()) return std::nullopt;
    return parse_opt_time(s.opt_text(0), "clicks.at");
  });
}

void Store::for_each_case_outcome(std::optional<TimePoint> from, std::optional<TimePoint> to,
                                  const std::function<void(const CaseOutcome&)>& fn) {
  guard("for_each_case_outcome", [&] {
    Stmt s(impl_->db,
           "SELECT c.id, c.customer_id, c.subscription_id, c.amount_minor, c.currency, "
           "COALESCE(c.decline_code, ''), c.sequence_id, c.opened_at, c.holdout, l.kind, "
           "l.amount_minor + COALESCE((SELECT SUM(k.amount_minor) FROM ledger k "
           "  WHERE k.case_id = c.id AND k.kind = 'correction'), 0), "
           "l.currency, l.step_index, COALESCE(l.channel, ''), COALESCE(l.attribution, ''), "
           "l.occurred_at, l.days_to_recover "
           "FROM cases c LEFT JOIN ledger l ON l.case_id = c.id AND l.kind <> 'correction' "
           "WHERE (?1 IS NULL OR c.opened_at >= ?1) AND (?2 IS NULL OR c.opened_at < ?2) "
           "ORDER BY c.opened_at, c.id");
    bind_range(s, 1, from, to);
    while (s.step()) {
      CaseOutcome o;
      o.case_id = s.int64(0);
      o.customer_id = s.text(1);
      o.subscription_id = s.opt_text(2);
      o.amount = Money(s.int64(3), s.text(4));
      o.decline_code = s.text(5);
      o.sequence_id = s.text(6);
      o.opened_at = parse_time(s.text(7), "cases.opened_at");
      o.holdout = s.int64(8) != 0;
      o.kind = s.text(9);
      if (!o.kind.empty()) {
        o.closed_amount = Money(s.int64(10), s.text(11));
        if (auto st = s.opt_int64(12)) o.step_index = static_cast<int>(*st);
        o.channel = s.text(13);
        o.attribution = s.text(14);
        o.closed_at = parse_opt_time(s.opt_text(15), "ledger.occurred_at");
        if (auto d = s.opt_int64(16)) o.days_to_recover = static_cast<int>(*d);
      }
      fn(o);
    }
  });
}

std::vector<StepReach> Store::step_reach(std::optional<TimePoint> from,
                                         std::optional<TimePoint> to) {
  return guard("step_reach", [&] {
    Stmt s(impl_->db,
           "SELECT c.sequence_id, o.step_index, MIN(o.channel), "
           "MIN(COALESCE(NULLIF(o.template, ''), o.action, '')), COUNT(*) "
           "FROM cases c CROSS JOIN outbox o ON o.case_id = c.id AND o.state = 'sent' "
           "WHERE (?1 IS NULL OR c.opened_at >= ?1) AND (?2 IS NULL OR c.opened_at < ?2) "
           "GROUP BY c.sequence_id, o.step_index ORDER BY c.sequence_id, o.step_index");
    bind_range(s, 1, from, to);
    std::vector<StepReach> out;
    while (s.step()) {
      out.push_back({s.text(0), static_cast<int>(s.int64(1)), s.text(2), s.text(3), s.int64(4)});
    }
    return out;
  });
}

void Store::for_each_recovery_history(std::optional<TimePoint> from, std::optional<TimePoint> to,
                                      TimePoint as_of,
                                      const std::function<void(const RecoveryHistory&)>& fn) {
  guard("for_each_recovery_history", [&] {
    Stmt s(impl_->db,
           "SELECT l.case_id, l.customer_id, l.subscription_id, l.currency, l.occurred_at, "
           "COALESCE(SUM(p.amount_minor), 0), COUNT(p.id), MIN(p.occurred_at) "
           "FROM ledger l JOIN cases c ON c.id = l.case_id "
           "LEFT JOIN payments p ON p.customer_id = l.customer_id AND p.status = 'succeeded' "
           "  AND p.currency = l.currency AND p.occurred_at <= l.occurred_at "
           "  AND (l.subscription_id IS NULL OR p.subscription_id = l.subscription_id) "
           "WHERE l.kind IN ('recovered', 'recovered_without_contact') "
           "  AND (?1 IS NULL OR c.opened_at >= ?1) AND (?2 IS NULL OR c.opened_at < ?2) "
           "  AND l.occurred_at <= ?3 "
           // a later recovery of the same subscription in the period replaces this one
           "  AND (l.subscription_id IS NULL OR NOT EXISTS (SELECT 1 FROM ledger l2 "
           "    JOIN cases c2 ON c2.id = l2.case_id "
           "    WHERE l2.subscription_id = l.subscription_id AND l2.currency = l.currency "
           "      AND l2.kind IN ('recovered', 'recovered_without_contact') "
           "      AND (?1 IS NULL OR c2.opened_at >= ?1) AND (?2 IS NULL OR c2.opened_at < ?2) "
           "      AND l2.occurred_at <= ?3 AND (l2.occurred_at > l.occurred_at "
           "        OR (l2.occurred_at = l.occurred_at AND l2.id > l.id)))) "
           "GROUP BY l.id");
    bind_range(s, 1, from, to);
    s.bind(3, iso(as_of));
    while (s.step()) {
      RecoveryHistory h;
      h.case_id = s.int64(0);
      h.customer_id = s.text(1);
      h.subscription_id = s.opt_text(2);
      h.currency = s.text(3);
      h.recovered_at = parse_time(s.text(4), "ledger.occurred_at");
      h.paid_sum_minor = s.int64(5);
      h.paid_count = s.int64(6);
      h.first_paid_at = parse_opt_time(s.opt_text(7), "payments.occurred_at");
      fn(h);
    }
  });
}

void Store::for_each_retention(TimePoint as_of,
                               const std::function<void(const RetentionObservation&)>& fn) {
  guard("for_each_retention", [&] {
    Stmt s(impl_->db,
           "SELECT l.occurred_at, "
           "(SELECT MIN(x.occurred_at) FROM ledger x WHERE x.subscription_id = l.subscription_id "
           "   AND x.kind IN ('lost', 'cancelled') AND x.occurred_at > l.occurred_at "
           "   AND x.occurred_at <= ?1), "
           "CASE WHEN s.status IN ('canceled', 'cancelled', 'ended', 'incomplete_expired') "
           "  AND s.updated_at > l.occurred_at AND s.updated_at <= ?1 THEN s.updated_at END "
           "FROM ledger l LEFT JOIN subscriptions s ON s.id = l.subscription_id "
           "WHERE l.kind IN ('recovered', 'recovered_without_contact') "
           "  AND l.subscription_id IS NOT NULL AND l.occurred_at <= ?1 ORDER BY l.id");
    s.bind(1, iso(as_of));
    while (s.step()) {
      RetentionObservation r;
      r.recovered_at = parse_time(s.text(0), "ledger.occurred_at");
      auto a = parse_opt_time(s.opt_text(1), "ledger.occurred_at");
      auto b = parse_opt_time(s.opt_text(2), "subscriptions.updated_at");
      if (a && b) {
        r.ended_at = std::min(*a, *b);
      } else {
        r.ended_at = a ? a : b;
      }
      fn(r);
    }
  });
}

std::vector<VerifyCurrency> Store::verify_recovered(std::vector<VerifyMismatch>* mismatches,
                                                    int max_mismatches) {
  return guard("verify_recovered", [&] {
    std::vector<VerifyCurrency> out;
    {
      Stmt s(impl_->db,
             "SELECT l.currency, SUM(l.amount_minor), "
             "COALESCE(SUM(CASE WHEN p.status = 'succeeded' AND p.currency = l.currency "
             "  THEN p.amount_minor ELSE 0 END), 0), COUNT(*) "
             "FROM ledger l LEFT JOIN payments p ON p.id = l.payment_id "
             "WHERE l.kind IN ('recovered', 'recovered_without_contact') "
             "GROUP BY l.currency ORDER BY l.currency");
      while (s.step()) out.push_back({s.text(0), s.int64(1), s.int64(2), s.int64(3)});
    }
    if (mismatches) {
      Stmt s(impl_->db,
             "SELECT l.id, COALESCE(l.payment_id, ''), "
             "CASE WHEN p.id IS NULL THEN 'payment not found' "
             "  WHEN p.status <> 'succeeded' THEN 'payment status is ' || p.status "
             "  WHEN p.currency <> l.currency THEN 'payment currency is ' || p.currency "
             "  ELSE 'payment amount is ' || p.amount_minor || ', ledger says ' || "
             "    l.amount_minor END "
             "FROM ledger l LEFT JOIN payments p ON p.id = l.payment_id "
             "WHERE l.kind IN ('recovered', 'recovered_without_contact') AND (p.id IS NULL OR "
             "  p.status <> 'succeeded' OR p.currency <> l.currency OR "
             "  p.amount_minor <> l.amount_minor) ORDER BY l.id LIMIT ?");
      s.bind(1, max_mismatches);
      while (s.step()) mismatches->push_back({s.int64(0), s.text(1), s.text(2)});
    }
    return out;
  });
}

// ---- ingest

Store::Savepoint::Savepoint(Store& s) : store_(s) {
  guard("savepoint", [&] { store_.impl_->db.exec("SAVEPOINT ingest"); });
}

Store::Savepoint::~Savepoint() {
  if (done_) return;
  try {
    store_.impl_->db.exec("ROLLBACK TO ingest");
    store_.impl_->db.exec("RELEASE ingest");
  } catch (...) {  // NOLINT(bugprone-empty-catch): nothing more can be done in a destructor
  }
}

void Store::Savepoint::release() {
  guard("release", [&] { store_.impl_->db.exec("RELEASE ingest"); });
  done_ = true;
}

bool Store::insert_event(const std::string& id, const std::string& source, const std::string& type,
                         const std::string& payload, TimePoint received_at) {
  return guard("insert_event", [&] {
    Stmt s(impl_->db,
           "INSERT INTO events(id, source, type, payload, received_at) VALUES (?, ?, ?, ?, ?) "
           "ON CONFLICT(id) DO NOTHING");
    s.bind(1, id).bind(2, source).bind(3, type).bind(4, payload).bind(5, iso(received_at)).run();
    return impl_->db.changes() == 1;
  });
}

bool Store::upsert_customer(const CustomerRow& c) {
  return guard("upsert_customer", [&] {
    // Only a real change touches the row, so a replay or a re-import changes nothing.
    Stmt s(impl_->db,
           "INSERT INTO customers(id, email, name, locale, time_zone, phone, created_at) "
           "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
           "email = COALESCE(excluded.email, email), name = COALESCE(excluded.name, name), "
           "locale = COALESCE(excluded.locale, locale), "
           "time_zone = COALESCE(excluded.time_zone, time_zone), "
           "phone = COALESCE(excluded.phone, phone), "
           "created_at = COALESCE(created_at, excluded.created_at) WHERE "
           "(excluded.email IS NOT NULL AND excluded.email IS NOT email) OR "
           "(excluded.name IS NOT NULL AND excluded.name IS NOT name) OR "
           "(excluded.locale IS NOT NULL AND excluded.locale IS NOT locale) OR "
           "(excluded.time_zone IS NOT NULL AND excluded.time_zone IS NOT time_zone) OR "
           "(excluded.phone IS NOT NULL AND excluded.phone IS NOT phone) OR "
           "(created_at IS NULL AND excluded.created_at IS NOT NULL)");
    s.bind(1, c.id).bind(2, c.email).bind(3, c.name).bind(4, c.locale).bind(5, c.time_zone);
    s.bind(6, c.phone);
    if (c.created_at) {
      s.bind(7, iso(*c.created_at));
    } else {
      s.bind(7, std::nullopt);
    }
    s.run();
    return impl_->db.changes() == 1;
  });
}

bool Store::upsert_payment_method(const PaymentMethodRow& m) {
  return guard("upsert_payment_method", [&] {
    Stmt s(impl_->db,
           "INSERT INTO payment_methods(id, customer_id, brand, last4, exp_month, exp_year, "
           "is_default, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, 0), ?8) "
           "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
           "brand = COALESCE(excluded.brand, brand), last4 = COALESCE(excluded.last4, last4), "
           "exp_month = COALESCE(excluded.exp_month, exp_month), "
           "exp_year = COALESCE(excluded.exp_year, exp_year), "
           "is_default = COALESCE(?7, is_default), updated_at = excluded.updated_at WHERE "
           "customer_id IS NOT excluded.customer_id OR "
           "(excluded.brand IS NOT NULL AND excluded.brand IS NOT brand) OR "
           "(excluded.last4 IS NOT NULL AND excluded.last4 IS NOT last4) OR "
           "(excluded.exp_month IS NOT NULL AND excluded.exp_month IS NOT exp_month) OR "
           "(excluded.exp_year IS NOT NULL AND excluded.exp_year IS NOT exp_year) OR "
           "(?7 IS NOT NULL AND ?7 IS NOT is_default)");
    s.bind(1, m.id).bind(2, m.customer_id).bind(3, m.brand).bind(4, m.last4);
    if (m.exp_month) s.bind(5, *m.exp_month);
    if (m.exp_year) s.bind(6, *m.exp_year);
    if (m.is_default) s.bind(7, *m.is_default ? 1 : 0);
    s.bind(8, iso(m.updated_at));
    s.run();
    bool changed = impl_->db.changes() == 1;
    if (m.is_default.value_or(false)) {
      Stmt clear(impl_->db,
                 "UPDATE payment_methods SET is_default = 0, updated_at = ? "
                 "WHERE customer_id = ? AND id <> ? AND is_default = 1");
      clear.bind(1, iso(m.updated_at)).bind(2, m.customer_id).bind(3, m.id).run();
      changed = changed || impl_->db.changes() > 0;
    }
    return changed;
  });
}

bool Store::set_default_card(const DefaultCardRow& d) {
  PaymentMethodRow m;
  m.id = d.payment_method_id;
  m.customer_id = d.customer_id;
  m.is_default = true;
  m.updated_at = d.updated_at;
  return upsert_payment_method(m);
}

bool Store::upsert_subscription(const SubscriptionRow& r) {
  return guard("upsert_subscription", [&] {
    Stmt s(impl_->db,
           "INSERT INTO subscriptions(id, customer_id, plan, status, amount_minor, currency, "
           "interval, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
           "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
           "plan = COALESCE(excluded.plan, plan), status = COALESCE(excluded.status, status), "
           "amount_minor = COALESCE(excluded.amount_minor, amount_minor), "
           "currency = COALESCE(excluded.currency, currency), "
           "interval = COALESCE(excluded.interval, interval), updated_at = excluded.updated_at "
           "WHERE customer_id IS NOT excluded.customer_id OR "
           "(excluded.plan IS NOT NULL AND excluded.plan IS NOT plan) OR "
           "(excluded.status IS NOT NULL AND excluded.status IS NOT status) OR "
           "(excluded.amount_minor IS NOT NULL AND excluded.amount_minor IS NOT amount_minor) OR "
           "(excluded.currency IS NOT NULL AND excluded.currency IS NOT currency) OR "
           "(excluded.interval IS NOT NULL AND excluded.interval IS NOT interval)");
    s.bind(1, r.id).bind(2, r.customer_id).bind(3, r.plan).bind(4, r.status);
    s.bind(5, r.amount_minor).bind(6, r.currency).bind(7, r.interval).bind(8, iso(r.updated_at));
    s.run();
    return impl_->db.changes() == 1;
  });
}

bool Store::insert_payment(const PaymentRow& p) {
  return guard("insert_payment", [&] {
    Stmt s(impl_->db,
           "INSERT INTO payments(id, customer_id, subscription_id, invoice_id, amount_minor, "
           "currency, status, decline_code, message, occurred_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING");
    s.bind(1, p.id).bind(2, p.customer_id).bind(3, p.subscription_id).bind(4, p.invoice_id);
    s.bind(5, p.amount_minor).bind(6, p.currency).bind(7, p.status).bind(8, p.decline_code);
    s.bind(9, p.message).bind(10, iso(p.occurred_at)).run();
    return impl_->db.changes() == 1;
  });
}

void Store::record_click(std::int64_t case_id, const std::string& customer_id, TimePoint at) {
  guard("record_click", [&] {
    Stmt s(impl_->db, "INSERT INTO clicks(case_id, customer_id, at) VALUES (?, ?, ?)");
    s.bind(1, case_id).bind(2, customer_id).bind(3, iso(at)).run();
    Stmt e(impl_->db,
           "INSERT INTO case_events(case_id, at, kind, detail) SELECT id, ?, 'clicked', "
           "'card-update link opened' FROM cases WHERE id = ?");
    e.bind(1, iso(at)).bind(2, case_id).run();
  });
}

bool Store::pause_case(std::int64_t id, TimePoint at) {
  return guard("pause_case", [&] {
    Stmt s(impl_->db, "UPDATE cases SET state = 'paused' WHERE id = ? AND state = 'open'");
    s.bind(1, id).run();
    if (impl_->db.changes() != 1) return false;
    add_case_event(id, at, "paused", "paused through the API");
    return true;
  });
}

bool Store::resume_case(std::int64_t id, TimePoint at) {
  return guard("resume_case", [&] {
    Stmt s(impl_->db, "UPDATE cases SET state = 'open' WHERE id = ? AND state = 'paused'");
    s.bind(1, id).run();
    if (impl_->db.changes() != 1) return false;
    add_case_event(id, at, "resumed", "resumed through the API");
    return true;
  });
}

namespace {
std::vector<Store::Count> counts(Db& db, const char* sql) {
  Stmt s(db, sql);
  std::vector<Store::Count> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2)});
  return out;
}
}  // namespace

std::vector<Store::Count> Store::cases_by_state() {
  return guard("cases_by_state", [&] {
    return counts(impl_->db, "SELECT state, '', COUNT(*) FROM cases GROUP BY state");
  });
}

std::vector<Store::Count> Store::outbox_by_channel_state() {
  return guard("outbox_by_channel_state", [&] {
    return counts(impl_->db, "SELECT channel, state, COUNT(*) FROM outbox GROUP BY channel, state");
  });
}

std::vector<Store::Count> Store::recovered_by_currency() {
  return guard("recovered_by_currency", [&] {
    return counts(impl_->db,
                  "SELECT currency, '', SUM(amount_minor) FROM ledger WHERE kind IN "
                  "('recovered', 'recovered_without_contact') GROUP BY currency");
  });
}

std::vector<CaseRecord> Store::find_cases(const std::string& state, const std::string& customer,
                                          int limit) {
  return guard("find_cases", [&] {
    Stmt s(impl_->db, std::string("SELECT ") + kCaseColumns +
                          " FROM cases WHERE (?1 = '' OR state = ?1) AND "
                          "(?2 = '' OR customer_id = ?2) ORDER BY id LIMIT ?3");
    s.bind(1, state).bind(2, customer).bind(3, limit);
    std::vector<CaseRecord> out;
    while (s.step()) out.push_back(read_case(s));
    return out;
  });
}

std::vector<OutboxRow> Store::claim_outbox(TimePoint now, Seconds lease, int limit,
                                           const std::vector<std::string>& skip_channels) {
  if (skip_channels.empty()) return claim_outbox(now, lease, limit);
  return guard("claim_outbox", [&] {
    std::string skip;
    for (std::size_t i = 0; i < skip_channels.size(); ++i)
      skip += (i ? ", ?" : "?") + std::to_string(i + 4);
    Stmt s(impl_->db,
           std::string("UPDATE outbox SET lease_until = ?1, attempts = attempts + 1 WHERE id IN ("
                       "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 "
                       "AND (lease_until IS NULL OR lease_until <= ?2) AND channel NOT IN (") +
               skip + ") ORDER BY next_attempt_at, id LIMIT ?3) RETURNING " + kOutboxColumns);
    s.bind(1, iso(now + lease)).bind(2, iso(now)).bind(3, limit);
    for (std::size_t i = 0; i < skip_channels.size(); ++i)
      s.bind(static_cast<int>(i) + 4, skip_channels[i]);
    std::vector<OutboxRow> out;
    while (s.step()) out.push_back(read_outbox(s));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  });
}

std::int64_t Store::pending_due(const std::string& channel, TimePoint now) {
  return guard("pending_due", [&] {
    Stmt s(impl_->db,
           "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND channel = ? AND due_at <= ?");
    s.bind(1, channel).bind(2, iso(now));
    return s.step() ? s.int64(0) : std::int64_t{0};
  });
}

void Store::mark_unreachable(const std::string& customer_id, const std::string& channel,
                             const std::string& address, const std::string& reason, TimePoint at) {
  guard("mark_unreachable", [&] {
    Stmt s(impl_->db,
           "INSERT INTO contact_status(customer_id, channel, address, state, reason, at) "
           "VALUES (?, ?, ?, 'unreachable', ?, ?) ON CONFLICT(customer_id, channel, address) "
           "DO UPDATE SET state = excluded.state, reason = excluded.reason, at = excluded.at");
    s.bind(1, customer_id).bind(2, channel).bind(3, address).bind(4, reason).bind(5, iso(at)).run();
  });
}

std::optional<ContactStatus> Store::contact_status(const std::string& customer_id,
                                                   const std::string& channel,
                                                   const std::string& address) {
  return guard("contact_status", [&]() -> std::optional<ContactStatus> {
    Stmt s(impl_->db,
           "SELECT customer_id, channel, address, state, reason, at FROM contact_status "
           "WHERE customer_id = ? AND channel = ? AND address = ?");
    s.bind(1, customer_id).bind(2, channel).bind(3, address);
    if (!s.step()) return std::nullopt;
    return ContactStatus{s.text(0), s.text(1), s.text(2),
                         s.text(3), s.text(4), parse_time(s.text(5), "contact_status.at")};
  });
}

bool Store::channel_unreachable(const std::string& customer_id, const std::string& channel) {
  auto c = customer(customer_id);
  if (!c) return false;
  const std::string& address = channel == "sms" ? c->phone : c->email;
  if (address.empty()) return false;
  return contact_status(customer_id, channel, address).has_value();
}

void Store::pause_channel(const std::string& channel, const std::string& reason, TimePoint since,
                          TimePoint retry_at) {
  guard("pause_channel", [&] {
    // `since` keeps the start of an ongoing pause; the reason and next probe are refreshed.
    Stmt s(impl_->db,
           "INSERT INTO channel_pauses(channel, reason, since, retry_at) VALUES (?, ?, ?, ?) "
           "ON CONFLICT(channel) DO UPDATE SET reason = excluded.reason, "
           "retry_at = excluded.retry_at");
    s.bind(1, channel).bind(2, reason).bind(3, iso(since)).bind(4, iso(retry_at)).run();
  });
}

void Store::resume_channel(const std::string& channel) {
  guard("resume_channel", [&] {
    Stmt s(impl_->db, "DELETE FROM channel_pauses WHERE channel = ?");
    s.bind(1, channel).run();
  });
}

std::vector<ChannelPause> Store::channel_pauses() {
  return guard("channel_pauses", [&] {
    Stmt s(impl_->db,
           "SELECT channel, reason, since, retry_at FROM channel_pauses ORDER BY channel");
    std::vector<ChannelPause> out;
    while (s.step()) {
      out.push_back({s.text(0), s.text(1), parse_time(s.text(2), "channel_pauses.since"),
                     parse_time(s.text(3), "channel_pauses.retry_at")});
    }
    return out;
  });
}

void Store::increment_attempt_count(std::int64_t case_id) {
  guard("increment_attempt_count", [&] {
    Stmt s(impl_->db, "UPDATE cases SET attempt_count = attempt_count + 1 WHERE id = ?");
    s.bind(1, case_id).run();
  });
}

std::vector<Store::CaseEventRow> Store::case_events_after(std::int64_t after_id,
                                                          const std::vector<std::string>& kinds,
                                                          int limit) {
  return guard("case_events_after", [&] {
    std::vector<CaseEventRow> out;
    if (kinds.empty()) return out;
    std::string in;
    for (std::size_t i = 0; i < kinds.size(); ++i) in += (i ? ", ?" : "?") + std::to_string(i + 3);
    Stmt s(impl_->db,
           "SELECT id, case_id, at, kind, detail FROM case_events WHERE id > ?1 AND "
           "kind IN (" +
               in + ") ORDER BY id LIMIT ?2");
    s.bind(1, after_id).bind(2, limit);
    for (std::size_t i = 0; i < kinds.size(); ++i) s.bind(static_cast<int>(i) + 3, kinds[i]);
    while (s.step()) {
      out.push_back(
          {s.int64(0), s.int64(1), parse_time(s.text(2), "case_events.at"), s.text(3), s.text(4)});
    }
    return out;
  });
}

bool Store::insert_payment(const Payment& p) {
  return guard("insert_payment", [&] {
    Stmt s(impl_->db,
           "INSERT INTO payments(id, customer_id, subscription_id, invoice_id, amount_minor, "
           "currency, status, decline_code, occurred_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
           "ON CONFLICT(id) DO NOTHING");
    s.bind(1, p.id)
        .bind(2, p.customer_id)
        .bind(3, p.subscription_id)
        .bind(4, p.invoice_id)
        .bind(5, p.amount.minor())
        .bind(6, p.amount.currency())
        .bind(7, p.status)
        .bind(8, p.decline_code.empty() ? std::optional<std::string>() : p.decline_code)
        .bind(9, iso(p.occurred_at))
        .run();
    return impl_->db.changes() > 0;
  });
}

}  // namespace dunning::store
