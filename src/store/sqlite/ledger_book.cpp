#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

namespace {

// Empty text is stored as NULL (the column's "not applicable").
void bind_text_or_null(StatementCache::Lease& s, int i, const std::string& v) {
  if (v.empty()) {
    s.bind(i, std::nullopt);
  } else {
    s.bind(i, v);
  }
}

}  // namespace

std::int64_t SqliteLedgerBook::append(const LedgerEntry& e) {
  return guard("append_ledger", [&] {
    auto s = db_.prepare(
        "INSERT INTO ledger(case_id, kind, customer_id, subscription_id, invoice_id, "
        "payment_id, amount_minor, currency, step_index, channel, template, sequence_id, "
        "decline_code, opened_at, occurred_at, recorded_at, days_to_recover, attribution, "
        "clicked_at, corrects, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s.bind(1, e.case_id)
        .bind(2, to_string(e.kind))
        .bind(3, e.customer_id)
        .bind(4, e.subscription_id);
    s.bind(5, e.invoice_id).bind(6, e.payment_id).bind(7, e.amount.minor());
    s.bind(8, e.amount.currency()).bind(9, e.step_index).bind(10, e.channel);
    s.bind(11, e.template_name).bind(12, e.sequence_id).bind(13, e.decline_code);
    s.bind(14, iso(e.opened_at)).bind(15, iso(e.occurred_at)).bind(16, iso(e.recorded_at));
    s.bind(17, e.days_to_recover);
    bind_text_or_null(s, 18, std::string(to_string(e.attribution)));
    bind_time(s, 19, e.clicked_at);
    s.bind(20, e.corrects);
    bind_text_or_null(s, 21, e.note);
    s.run();
    return db_.raw().last_insert_rowid();
  });
}

namespace {

using sql::kLedgerSelect;

LedgerEntry read_ledger(const StatementCache::Lease& s) { return decode_ledger(s); }

}  // namespace

void SqliteLedgerBook::for_each(std::optional<TimePoint> from, std::optional<TimePoint> to,
                                const std::function<void(const LedgerEntry&)>& fn) {
  guard("for_each_ledger", [&] {
    static const std::string kSql = std::string(kLedgerSelect) +
                                    "WHERE (?1 IS NULL OR occurred_at >= ?1) AND "
                                    "(?2 IS NULL OR occurred_at < ?2) ORDER BY occurred_at, id";
    auto s = db_.prepare(kSql);
    bind_time(s, 1, from);
    bind_time(s, 2, to);
    while (s.step()) fn(read_ledger(s));
  });
}

std::vector<LedgerEntry> SqliteLedgerBook::page(const LedgerPage& page) {
  return guard("ledger_page", [&] {
    static const std::string kSql =
        std::string(kLedgerSelect) +
        "WHERE (?1 IS NULL OR occurred_at >= ?1) AND (?2 IS NULL OR occurred_at < ?2) AND "
        "(?3 IS NULL OR (occurred_at, id) > (?3, ?4)) ORDER BY occurred_at, id LIMIT ?5";
    auto s = db_.prepare(kSql);
    bind_time(s, 1, page.from);
    bind_time(s, 2, page.to);
    bind_time(s, 3, page.after_at);
    s.bind(4, page.after_id).bind(5, page.limit);
    std::vector<LedgerEntry> out;
    while (s.step()) out.push_back(read_ledger(s));
    return out;
  });
}

std::vector<LedgerEntry> SqliteLedgerBook::for_case(std::int64_t case_id) {
  return guard("ledger_for_case", [&] {
    static const std::string kSql = std::string(kLedgerSelect) + "WHERE case_id = ? ORDER BY id";
    auto s = db_.prepare(kSql);
    s.bind(1, case_id);
    std::vector<LedgerEntry> out;
    while (s.step()) out.push_back(read_ledger(s));
    return out;
  });
}

std::optional<TimePoint> SqliteLedgerBook::last_click(std::int64_t case_id, TimePoint at) {
  return guard("last_click", [&]() -> std::optional<TimePoint> {
    auto s = db_.prepare(sql::kLastClick);
    s.bind(1, case_id).bind(2, iso(at));
    if (!s.step()) return std::nullopt;
    return parse_opt_time(s.opt_text(0), "clicks.at");
  });
}

}  // namespace dunning::store::sqlite
