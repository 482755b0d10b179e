#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

namespace dunning::store::postgres {

namespace {

// Empty text is stored as NULL (the column's "not applicable").
std::optional<std::string> text_or_null(const std::string& v) {
  if (v.empty()) return std::nullopt;
  return v;
}

}  // namespace

std::int64_t PgLedgerBook::append(const LedgerEntry& e) {
  return guard("append_ledger", [&] {
    auto r = db_.query(
        "INSERT INTO ledger(case_id, kind, customer_id, subscription_id, invoice_id, "
        "payment_id, amount_minor, currency, step_index, channel, template, sequence_id, "
        "decline_code, opened_at, occurred_at, recorded_at, days_to_recover, attribution, "
        "clicked_at, corrects, note) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        Params()
            .add(e.case_id)
            .add(std::string(to_string(e.kind)))
            .add(e.customer_id)
            .add(e.subscription_id)
            .add(e.invoice_id)
            .add(e.payment_id)
            .add(e.amount.minor())
            .add(e.amount.currency())
            .add(e.step_index)
            .add(e.channel)
            .add(e.template_name)
            .add(e.sequence_id)
            .add(e.decline_code)
            .add(iso(e.opened_at))
            .add(iso(e.occurred_at))
            .add(iso(e.recorded_at))
            .add(e.days_to_recover)
            .add(text_or_null(std::string(to_string(e.attribution))))
            .add(opt_iso(e.clicked_at))
            .add(e.corrects)
            .add(text_or_null(e.note)));
    return r.int64(0, 0);
  });
}

namespace {

LedgerEntry read_ledger(const Rows& s, int i) { return decode_ledger(RowAt{s, i}); }

}  // namespace

void PgLedgerBook::for_each(std::optional<TimePoint> from, std::optional<TimePoint> to,
                            const std::function<void(const LedgerEntry&)>& fn) {
  guard("for_each_ledger", [&] {
    // The parameters' type is said: PostgreSQL cannot infer it from `IS NULL`.
    static const std::string kSql =
        std::string(sql::kLedgerSelect) +
        "WHERE (?1::text IS NULL OR occurred_at >= ?1) AND "
        "(?2::text IS NULL OR occurred_at < ?2) ORDER BY occurred_at, id";
    db_.stream(kSql, Params().add(opt_iso(from)).add(opt_iso(to)),
               [&](const Rows& s) { fn(read_ledger(s, 0)); });
  });
}

std::vector<LedgerEntry> PgLedgerBook::page(const LedgerPage& page) {
  return guard("ledger_page", [&] {
    static const std::string kSql =
        std::string(sql::kLedgerSelect) +
        "WHERE (?1::text IS NULL OR occurred_at >= ?1) AND (?2::text IS NULL OR occurred_at < ?2) "
        "AND (?3::text IS NULL OR (occurred_at, id) > (?3::text, ?4::bigint)) "
        "ORDER BY occurred_at, id LIMIT ?5";
    auto s = db_.query(kSql, Params()
                                 .add(opt_iso(page.from))
                                 .add(opt_iso(page.to))
                                 .add(opt_iso(page.after_at))
                                 .add(page.after_id)
                                 .add(static_cast<std::int64_t>(page.limit)));
    std::vector<LedgerEntry> out;
    for (int i = 0; i < s.size(); ++i) out.push_back(read_ledger(s, i));
    return out;
  });
}

std::vector<LedgerEntry> PgLedgerBook::for_case(std::int64_t case_id) {
  return guard("ledger_for_case", [&] {
    static const std::string kSql =
        std::string(sql::kLedgerSelect) + "WHERE case_id = ? ORDER BY id";
    auto s = db_.query(kSql, Params().add(case_id));
    std::vector<LedgerEntry> out;
    for (int i = 0; i < s.size(); ++i) out.push_back(read_ledger(s, i));
    return out;
  });
}

std::optional<TimePoint> PgLedgerBook::last_click(std::int64_t case_id, TimePoint at) {
  return guard("last_click", [&]() -> std::optional<TimePoint> {
    auto s = db_.query(sql::kLastClick, Params().add(case_id).add(iso(at)));
    if (s.empty()) return std::nullopt;
    return parse_opt_time(s.opt_text(0, 0), "clicks.at");
  });
}

}  // namespace dunning::store::postgres
