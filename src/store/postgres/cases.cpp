#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

namespace dunning::store::postgres {

namespace {

std::string select_cases(std::string_view where) {
  return "SELECT " + std::string(kCaseColumns) + " FROM cases " + std::string(where);
}

std::vector<CaseRecord> read_cases(const Rows& s) {
  std::vector<CaseRecord> out;
  for (int i = 0; i < s.size(); ++i) out.push_back(read_case(s, i));
  return out;
}

std::vector<CaseEvent> read_events(const Rows& s) {
  std::vector<CaseEvent> out;
  for (int i = 0; i < s.size(); ++i) {
    out.push_back({s.int64(i, 0), s.int64(i, 1), parse_time(s.text(i, 2), "case_events.at"),
                   s.text(i, 3), s.text(i, 4)});
  }
  return out;
}

}  // namespace

std::int64_t PgCases::insert(const CaseRecord& c) {
  return guard("insert_case", [&] {
    auto r = db_.query(
        "INSERT INTO cases(trigger, customer_id, subscription_id, invoice_id, payment_id, "
        "amount_minor, currency, decline_code, sequence_id, sequence_hash, state, opened_at, "
        "next_step, next_due_at, attempt_count, holdout) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        Params()
            .add(std::string(to_string(c.trigger)))
            .add(c.customer_id)
            .add(c.subscription_id)
            .add(c.invoice_id)
            .add(c.payment_id)
            .add(c.amount.minor())
            .add(c.amount.currency())
            .add(c.decline_code)
            .add(c.sequence_id)
            .add(c.sequence_hash)
            .add(to_string(c.state))
            .add(iso(c.opened_at))
            .add(c.next_step)
            .add(opt_iso(c.next_due_at))
            .add(c.attempt_count)
            .add(c.holdout ? 1 : 0));
    return r.int64(0, 0);
  });
}

void PgCases::record_expiry_case(const ExpiringCard& card, std::int64_t case_id) {
  guard("record_expiry_case", [&] {
    db_.query(sql::kRecordExpiryCase,
              Params().add(card.id).add(card.exp_year).add(card.exp_month).add(case_id));
  });
}

std::optional<CaseRecord> PgCases::get(std::int64_t id) {
  return guard("get_case", [&]() -> std::optional<CaseRecord> {
    static const std::string kSql = select_cases("WHERE id = ?");
    auto s = db_.query(kSql, Params().add(id));
    if (s.empty()) return std::nullopt;
    return read_case(s, 0);
  });
}

std::optional<CaseRecord> PgCases::open_for_invoice(const std::string& invoice_id) {
  return guard("open_case_for_invoice", [&]() -> std::optional<CaseRecord> {
    static const std::string kSql =
        select_cases("WHERE invoice_id = ? AND state IN ('open', 'paused')");
    auto s = db_.query(kSql, Params().add(invoice_id));
    if (s.empty()) return std::nullopt;
    return read_case(s, 0);
  });
}

std::optional<CaseRecord> PgCases::latest_for_invoice(const std::string& invoice_id) {
  return guard("latest_case_for_invoice", [&]() -> std::optional<CaseRecord> {
    static const std::string kSql = select_cases("WHERE invoice_id = ? ORDER BY id DESC LIMIT 1");
    auto s = db_.query(kSql, Params().add(invoice_id));
    if (s.empty()) return std::nullopt;
    return read_case(s, 0);
  });
}

std::vector<CaseRecord> PgCases::open_for_customer(const std::string& customer_id) {
  return guard("open_cases_for_customer", [&] {
    static const std::string kSql =
        select_cases("WHERE customer_id = ? AND state IN ('open', 'paused') ORDER BY id");
    return read_cases(db_.query(kSql, Params().add(customer_id)));
  });
}

std::vector<CaseRecord> PgCases::open_for_subscription(const std::string& subscription_id) {
  return guard("open_cases_for_subscription", [&] {
    static const std::string kSql =
        select_cases("WHERE subscription_id = ? AND state IN ('open', 'paused') ORDER BY id");
    return read_cases(db_.query(kSql, Params().add(subscription_id)));
  });
}

std::vector<CaseRecord> PgCases::due(TimePoint now, int limit) {
  return guard("due_cases", [&] {
    static const std::string kSql = select_cases(
        "WHERE state = 'open' AND next_due_at IS NOT NULL AND next_due_at <= ? "
        "ORDER BY next_due_at, id LIMIT ?");
    auto s = db_.query(kSql, Params().add(iso(now)).add(limit));
    std::vector<CaseRecord> out;
    for (int i = 0; i < s.size(); ++i) read_or_skip(reported_, s, i, "cases", read_case, out);
    return out;
  });
}

std::vector<CaseRecord> PgCases::find(const CaseFilter& filter) {
  return guard("find_cases", [&] {
    static const std::string kSql = select_cases(
        "WHERE (?1 = '' OR state = ?1) AND (?2 = '' OR customer_id = ?2) "
        "AND (?4 = '' OR customer_id IN (SELECT id FROM customers WHERE lower(email) = lower(?4))) "
        "AND (?5 = '' OR sequence_id = ?5) AND (?6 = '' OR decline_code = ?6) "
        "AND (?7 = '' OR currency = ?7) AND id > ?8 ORDER BY id LIMIT ?3");
    return read_cases(db_.query(kSql, Params()
                                          .add(filter.state)
                                          .add(filter.customer_id)
                                          .add(filter.limit)
                                          .add(filter.customer_email)
                                          .add(filter.sequence_id)
                                          .add(filter.decline_code)
                                          .add(filter.currency)
                                          .add(filter.after_id)));
  });
}

void PgCases::set_progress(std::int64_t id, int next_step, std::optional<TimePoint> next_due_at) {
  guard("set_case_progress", [&] {
    db_.query(sql::kSetCaseProgress, Params().add(next_step).add(opt_iso(next_due_at)).add(id));
  });
}

void PgCases::set_sequence(std::int64_t id, const std::string& sequence_id,
                           const std::string& sequence_hash) {
  guard("set_case_sequence", [&] {
    db_.query(sql::kSetCaseSequence, Params().add(sequence_id).add(sequence_hash).add(id));
  });
}

bool PgCases::change_state(std::int64_t id, CaseState from, CaseState to) {
  return guard("change_case_state", [&] {
    auto r =
        db_.query(sql::kChangeCaseState, Params().add(to_string(to)).add(id).add(to_string(from)));
    return r.affected() == 1;
  });
}

void PgCases::close(std::int64_t id, CaseState state, TimePoint at, const std::string& reason) {
  guard("close_case", [&] {
    db_.query(sql::kCloseCase, Params().add(to_string(state)).add(iso(at)).add(reason).add(id));
  });
}

void PgCases::increment_attempt_count(std::int64_t id) {
  guard("increment_attempt_count",
        [&] { db_.query(sql::kIncrementAttemptCount, Params().add(id)); });
}

void PgCases::add_paid(std::int64_t id, std::int64_t minor) {
  guard("add_paid", [&] { db_.query(sql::kAddPaid, Params().add(minor).add(id)); });
}

void PgCases::set_card_updated(std::int64_t id, TimePoint at) {
  guard("set_card_updated",
        [&] { db_.query(sql::kSetCardUpdated, Params().add(iso(at)).add(id)); });
}

void PgCases::add_event(std::int64_t case_id, TimePoint at, const std::string& kind,
                        const std::string& detail) {
  guard("add_case_event", [&] {
    db_.query(sql::kAddCaseEvent, Params().add(case_id).add(iso(at)).add(kind).add(detail));
  });
}

std::vector<CaseEvent> PgCases::events(std::int64_t case_id) {
  return guard("case_events", [&] {
    return read_events(db_.query(sql::kCaseEventsOfCase, Params().add(case_id)));
  });
}

int PgCases::count_events(std::int64_t case_id, const std::string& kind) {
  return guard("count_case_events", [&] {
    auto s = db_.query(sql::kCountCaseEvents, Params().add(case_id).add(kind));
    return static_cast<int>(s.int64(0, 0));
  });
}

std::vector<CaseEvent> PgCases::events_after(std::int64_t after_id,
                                             std::span<const std::string> kinds, int limit) {
  return guard("case_events_after", [&] {
    std::vector<CaseEvent> out;
    if (kinds.empty()) return out;
    // A followed feed (outbound webhooks): only ids every writer is done with.
    const std::int64_t upto = db_.horizon("case_events_id_seq");
    if (upto <= after_id) return out;
    Params p;
    p.add(after_id).add(limit).add(upto);
    for (const auto& k : kinds) p.add(k);
    return read_events(db_.query(
        "SELECT id, case_id, at, kind, detail FROM case_events WHERE id > ?1 AND id <= ?3 "
        "AND kind IN (" +
            placeholders(4, kinds.size()) + ") ORDER BY id LIMIT ?2",
        p));
  });
}

bool PgCases::record_click(std::int64_t case_id, const std::string& customer_id, TimePoint at,
                           Seconds window) {
  return guard("record_click", [&] {
    auto r = db_.query(sql::kRecordClick,
                       Params().add(case_id).add(customer_id).add(iso(at)).add(iso(at - window)));
    return r.affected() == 1;
  });
}

bool PgCases::clicked(std::int64_t case_id) {
  return guard("case_clicked",
               [&] { return !db_.query(sql::kCaseClicked, Params().add(case_id)).empty(); });
}

}  // namespace dunning::store::postgres
