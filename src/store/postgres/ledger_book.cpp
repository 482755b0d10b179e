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
            .add(e.kind)
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
            .add(text_or_null(e.attribution))
            .add(opt_iso(e.clicked_at))
            .add(e.corrects)
            .add(text_or_null(e.note)));
    return r.int64(0, 0);
  });
}

void PgLedgerBook::for_each(std::optional<TimePoint> from, std::optional<TimePoint> to,
                            const std::function<void(const LedgerEntry&)>& fn) {
  guard("for_each_ledger", [&] {
    db_.stream(
        "SELECT id, case_id, kind, customer_id, subscription_id, invoice_id, payment_id, "
        "amount_minor, currency, step_index, COALESCE(channel, ''), COALESCE(template, ''), "
        "COALESCE(sequence_id, ''), COALESCE(decline_code, ''), opened_at, occurred_at, "
        "recorded_at, days_to_recover, COALESCE(attribution, ''), clicked_at, corrects, "
        "COALESCE(note, '') FROM ledger WHERE (?1::text IS NULL OR occurred_at >= ?1) AND "
        "(?2::text IS NULL OR occurred_at < ?2) ORDER BY occurred_at, id",
        Params().add(opt_iso(from)).add(opt_iso(to)), [&](const Rows& s) {
          LedgerEntry e;
          e.id = s.int64(0, 0);
          e.case_id = s.int64(0, 1);
          e.kind = s.text(0, 2);
          e.customer_id = s.text(0, 3);
          e.subscription_id = s.opt_text(0, 4);
          e.invoice_id = s.opt_text(0, 5);
          e.payment_id = s.opt_text(0, 6);
          e.amount = money(s.int64(0, 7), s.text(0, 8), "ledger.currency");
          if (auto st = s.opt_int64(0, 9)) e.step_index = static_cast<int>(*st);
          e.channel = s.text(0, 10);
          e.template_name = s.text(0, 11);
          e.sequence_id = s.text(0, 12);
          e.decline_code = s.text(0, 13);
          e.opened_at = parse_time(s.text(0, 14), "ledger.opened_at");
          e.occurred_at = parse_time(s.text(0, 15), "ledger.occurred_at");
          e.recorded_at = parse_time(s.text(0, 16), "ledger.recorded_at");
          if (auto d = s.opt_int64(0, 17)) e.days_to_recover = static_cast<int>(*d);
          e.attribution = s.text(0, 18);
          e.clicked_at = parse_opt_time(s.opt_text(0, 19), "ledger.clicked_at");
          e.corrects = s.opt_int64(0, 20);
          e.note = s.text(0, 21);
          fn(e);
        });
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
