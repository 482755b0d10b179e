#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

namespace {

std::string select_cases(std::string_view where) {
  return "SELECT " + std::string(kCaseColumns) + " FROM cases " + std::string(where);
}

std::vector<CaseRecord> read_cases(StatementCache::Lease& s) {
  std::vector<CaseRecord> out;
  while (s.step()) out.push_back(read_case(*s));
  return out;
}

}  // namespace

std::int64_t SqliteCases::insert(const CaseRecord& c) {
  return guard("insert_case", [&] {
    auto s = db_.prepare(
        "INSERT INTO cases(trigger, customer_id, subscription_id, invoice_id, payment_id, "
        "amount_minor, currency, decline_code, sequence_id, sequence_hash, state, opened_at, "
        "next_step, next_due_at, attempt_count, holdout) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, to_string(c.trigger))
        .bind(2, c.customer_id)
        .bind(3, c.subscription_id)
        .bind(4, c.invoice_id);
    s.bind(5, c.payment_id).bind(6, c.amount.minor()).bind(7, c.amount.currency());
    s.bind(8, c.decline_code).bind(9, c.sequence_id).bind(10, c.sequence_hash);
    s.bind(11, to_string(c.state)).bind(12, iso(c.opened_at)).bind(13, c.next_step);
    bind_time(s, 14, c.next_due_at);
    s.bind(15, c.attempt_count).bind(16, c.holdout ? 1 : 0);
    s.run();
    return db_.raw().last_insert_rowid();
  });
}

void SqliteCases::record_expiry_case(const ExpiringCard& card, std::int64_t case_id) {
  guard("record_expiry_case", [&] {
    auto s = db_.prepare(sql::kRecordExpiryCase);
    s.bind(1, card.id).bind(2, card.exp_year).bind(3, card.exp_month).bind(4, case_id).run();
  });
}

std::optional<CaseRecord> SqliteCases::get(std::int64_t id) {
  return guard("get_case", [&]() -> std::optional<CaseRecord> {
    static const std::string kSql = select_cases("WHERE id = ?");
    auto s = db_.prepare(kSql);
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return read_case(*s);
  });
}

std::optional<CaseRecord> SqliteCases::open_for_invoice(const std::string& invoice_id) {
  return guard("open_case_for_invoice", [&]() -> std::optional<CaseRecord> {
    static const std::string kSql =
        select_cases("WHERE invoice_id = ? AND state IN ('open', 'paused')");
    auto s = db_.prepare(kSql);
    s.bind(1, invoice_id);
    if (!s.step()) return std::nullopt;
    return read_case(*s);
  });
}

std::optional<CaseRecord> SqliteCases::latest_for_invoice(const std::string& invoice_id) {
  return guard("latest_case_for_invoice", [&]() -> std::optional<CaseRecord> {
    static const std::string kSql = select_cases("WHERE invoice_id = ? ORDER BY id DESC LIMIT 1");
    auto s = db_.prepare(kSql);
    s.bind(1, invoice_id);
    if (!s.step()) return std::nullopt;
    return read_case(*s);
  });
}

std::vector<CaseRecord> SqliteCases::open_for_customer(const std::string& customer_id) {
  return guard("open_cases_for_customer", [&] {
    static const std::string kSql =
        select_cases("WHERE customer_id = ? AND state IN ('open', 'paused') ORDER BY id");
    auto s = db_.prepare(kSql);
    s.bind(1, customer_id);
    return read_cases(s);
  });
}

std::vector<CaseRecord> SqliteCases::open_for_subscription(const std::string& subscription_id) {
  return guard("open_cases_for_subscription", [&] {
    static const std::string kSql =
        select_cases("WHERE subscription_id = ? AND state IN ('open', 'paused') ORDER BY id");
    auto s = db_.prepare(kSql);
    s.bind(1, subscription_id);
    return read_cases(s);
  });
}

std::vector<CaseRecord> SqliteCases::due(TimePoint now, int limit) {
  return guard("due_cases", [&] {
    static const std::string kSql = select_cases(
        "WHERE state = 'open' AND next_due_at IS NOT NULL AND next_due_at <= ? "
        "ORDER BY next_due_at, id LIMIT ?");
    auto s = db_.prepare(kSql);
    s.bind(1, iso(now)).bind(2, limit);
    std::vector<CaseRecord> out;
    while (s.step()) read_or_skip(reported_, *s, "cases", read_case, out);
    return out;
  });
}

std::vector<CaseRecord> SqliteCases::find(const CaseFilter& filter) {
  return guard("find_cases", [&] {
    static const std::string kSql = select_cases(
        "WHERE (?1 = '' OR state = ?1) AND (?2 = '' OR customer_id = ?2) "
        "AND (?4 = '' OR customer_id IN (SELECT id FROM customers WHERE lower(email) = lower(?4))) "
        "AND (?5 = '' OR sequence_id = ?5) AND (?6 = '' OR decline_code = ?6) "
        "AND (?7 = '' OR currency = ?7) AND id > ?8 ORDER BY id LIMIT ?3");
    auto s = db_.prepare(kSql);
    s.bind(1, filter.state).bind(2, filter.customer_id).bind(3, filter.limit);
    s.bind(4, filter.customer_email).bind(5, filter.sequence_id).bind(6, filter.decline_code);
    s.bind(7, filter.currency).bind(8, filter.after_id);
    return read_cases(s);
  });
}

void SqliteCases::set_progress(std::int64_t id, int next_step,
                               std::optional<TimePoint> next_due_at) {
  guard("set_case_progress", [&] {
    auto s = db_.prepare(sql::kSetCaseProgress);
    s.bind(1, next_step);
    bind_time(s, 2, next_due_at);
    s.bind(3, id).run();
  });
}

void SqliteCases::set_sequence(std::int64_t id, const std::string& sequence_id,
                               const std::string& sequence_hash) {
  guard("set_case_sequence", [&] {
    auto s = db_.prepare(sql::kSetCaseSequence);
    s.bind(1, sequence_id).bind(2, sequence_hash).bind(3, id).run();
  });
}

bool SqliteCases::change_state(std::int64_t id, CaseState from, CaseState to) {
  return guard("change_case_state", [&] {
    auto s = db_.prepare(sql::kChangeCaseState);
    s.bind(1, to_string(to)).bind(2, id).bind(3, to_string(from)).run();
    return db_.raw().changes() == 1;
  });
}

void SqliteCases::close(std::int64_t id, CaseState state, TimePoint at, const std::string& reason) {
  guard("close_case", [&] {
    auto s = db_.prepare(sql::kCloseCase);
    s.bind(1, to_string(state)).bind(2, iso(at)).bind(3, reason).bind(4, id).run();
  });
}

void SqliteCases::increment_attempt_count(std::int64_t id) {
  guard("increment_attempt_count", [&] {
    auto s = db_.prepare(sql::kIncrementAttemptCount);
    s.bind(1, id).run();
  });
}

void SqliteCases::add_paid(std::int64_t id, std::int64_t minor) {
  guard("add_paid", [&] {
    auto s = db_.prepare(sql::kAddPaid);
    s.bind(1, minor).bind(2, id).run();
  });
}

void SqliteCases::set_card_updated(std::int64_t id, TimePoint at) {
  guard("set_card_updated", [&] {
    auto s = db_.prepare(sql::kSetCardUpdated);
    s.bind(1, iso(at)).bind(2, id).run();
  });
}

void SqliteCases::add_event(std::int64_t case_id, TimePoint at, const std::string& kind,
                            const std::string& detail) {
  guard("add_case_event", [&] {
    auto s = db_.prepare(sql::kAddCaseEvent);
    s.bind(1, case_id).bind(2, iso(at)).bind(3, kind).bind(4, detail).run();
  });
}

std::vector<CaseEvent> SqliteCases::events(std::int64_t case_id) {
  return guard("case_events", [&] {
    auto s = db_.prepare(sql::kCaseEventsOfCase);
    s.bind(1, case_id);
    std::vector<CaseEvent> out;
    while (s.step()) {
      out.push_back(
          {s.int64(0), s.int64(1), parse_time(s.text(2), "case_events.at"), s.text(3), s.text(4)});
    }
    return out;
  });
}

int SqliteCases::count_events(std::int64_t case_id, const std::string& kind) {
  return guard("count_case_events", [&] {
    auto s = db_.prepare(sql::kCountCaseEvents);
    s.bind(1, case_id).bind(2, kind);
    return s.step() ? static_cast<int>(s.int64(0)) : 0;
  });
}

std::vector<CaseEvent> SqliteCases::events_after(std::int64_t after_id,
                                                 std::span<const std::string> kinds, int limit) {
  return guard("case_events_after", [&] {
    std::vector<CaseEvent> out;
    if (kinds.empty()) return out;
    auto s = db_.prepare(
        "SELECT id, case_id, at, kind, detail FROM case_events WHERE id > ?1 AND kind IN (" +
        placeholders(3, kinds.size()) + ") ORDER BY id LIMIT ?2");
    s.bind(1, after_id).bind(2, limit);
    for (std::size_t i = 0; i < kinds.size(); ++i) s.bind(static_cast<int>(i) + 3, kinds[i]);
    while (s.step()) {
      out.push_back(
          {s.int64(0), s.int64(1), parse_time(s.text(2), "case_events.at"), s.text(3), s.text(4)});
    }
    return out;
  });
}

bool SqliteCases::record_click(std::int64_t case_id, const std::string& customer_id, TimePoint at,
                               Seconds window) {
  return guard("record_click", [&] {
    auto s = db_.prepare(sql::kRecordClick);
    s.bind(1, case_id).bind(2, customer_id).bind(3, iso(at)).bind(4, iso(at - window)).run();
    return db_.raw().changes() == 1;
  });
}

bool SqliteCases::clicked(std::int64_t case_id) {
  return guard("case_clicked", [&] {
    auto s = db_.prepare(sql::kCaseClicked);
    s.bind(1, case_id);
    return s.step();
  });
}

}  // namespace dunning::store::sqlite
