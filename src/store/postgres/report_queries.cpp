#include <algorithm>

#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

// The SQLite engine's report SQL; where PostgreSQL differs: an optional bound is typed
// (?1::text IS NULL) and a join has its ON (no CROSS JOIN ... ON).

namespace dunning::store::postgres {

void PgReportQueries::for_each_case_outcome(
    std::optional<TimePoint> from, std::optional<TimePoint> to,
    const std::function<void(const store::CaseOutcome&)>& fn) {
  guard("for_each_case_outcome", [&] {
    // One streamed statement (a stream leaves the connection to nobody else): a case comes as
    // one row per money move (partial, late, correction), or one row without; `o` is handed
    // on when the next case starts.
    std::optional<store::CaseOutcome> o;
    db_.stream(
        "SELECT c.id, c.customer_id, c.subscription_id, c.amount_minor, c.currency, "
        "COALESCE(c.decline_code, ''), c.sequence_id, c.opened_at, c.holdout, l.kind, "
        "l.amount_minor + COALESCE((SELECT SUM(k.amount_minor) FROM ledger k "
        "  WHERE k.case_id = l.case_id AND k.kind = 'correction' AND k.corrects = l.id "
        "  AND k.currency = l.currency), 0), "
        "l.currency, l.step_index, COALESCE(l.channel, ''), COALESCE(l.attribution, ''), "
        "l.occurred_at, l.days_to_recover, "
        "m.kind, m.amount_minor, m.currency, COALESCE(t.kind, ''), m.occurred_at "
        "FROM cases c LEFT JOIN ledger l ON l.case_id = c.id "
        "  AND l.kind NOT IN ('correction', 'partial', 'late') "
        "LEFT JOIN ledger m ON m.case_id = c.id AND m.kind IN ('partial', 'late', 'correction') "
        "LEFT JOIN ledger t ON t.id = m.corrects "
        "WHERE (?1::text IS NULL OR c.opened_at >= ?1) AND (?2::text IS NULL OR c.opened_at < ?2) "
        "ORDER BY c.opened_at, c.id, m.id",
        Params().add(opt_iso(from)).add(opt_iso(to)), [&](const Rows& s) {
          const auto case_id = s.int64(0, 0);
          if (!o || o->case_id != case_id) {
            if (o) fn(*o);
            o = decode_case_outcome(RowAt{s, 0});
          }
          if (!s.is_null(0, 17)) o->moves.push_back(decode_move(RowAt{s, 0}, 17));
        });
    if (o) fn(*o);
  });
}

std::vector<store::StepReach> PgReportQueries::step_reach(std::optional<TimePoint> from,
                                                          std::optional<TimePoint> to) {
  return guard("step_reach", [&] {
    auto s = db_.query(
        "SELECT c.sequence_id, o.step_index, MIN(o.channel), "
        "MIN(COALESCE(NULLIF(o.template, ''), o.action, '')), COUNT(*) "
        "FROM cases c JOIN outbox o ON o.case_id = c.id AND o.state = 'sent' "
        "WHERE (?1::text IS NULL OR c.opened_at >= ?1) AND (?2::text IS NULL OR c.opened_at < ?2) "
        "GROUP BY c.sequence_id, o.step_index "
        "ORDER BY c.sequence_id COLLATE \"C\", o.step_index",
        Params().add(opt_iso(from)).add(opt_iso(to)));
    std::vector<store::StepReach> out;
    for (int i = 0; i < s.size(); ++i) {
      out.push_back({s.text(i, 0), static_cast<int>(s.int64(i, 1)), s.text(i, 2), s.text(i, 3),
                     s.int64(i, 4)});
    }
    return out;
  });
}

void PgReportQueries::for_each_recovery_history(
    std::optional<TimePoint> from, std::optional<TimePoint> to, TimePoint as_of,
    const std::function<void(const store::RecoveryHistory&)>& fn) {
  guard("for_each_recovery_history", [&] {
    db_.stream(
        "SELECT l.case_id, l.customer_id, l.subscription_id, l.currency, l.occurred_at, "
        "COALESCE(SUM(p.amount_minor), 0), COUNT(p.id), MIN(p.occurred_at) "
        "FROM ledger l JOIN cases c ON c.id = l.case_id "
        "LEFT JOIN payments p ON p.customer_id = l.customer_id AND p.status = 'succeeded' "
        "  AND p.currency = l.currency AND p.occurred_at <= l.occurred_at "
        "  AND (l.subscription_id IS NULL OR p.subscription_id = l.subscription_id) "
        "WHERE l.kind IN ('recovered', 'recovered_without_contact') "
        "  AND (?1::text IS NULL OR c.opened_at >= ?1) AND (?2::text IS NULL OR c.opened_at < ?2) "
        "  AND l.occurred_at <= ?3 "
        // a later recovery of the same subscription in the period replaces this one
        "  AND (l.subscription_id IS NULL OR NOT EXISTS (SELECT 1 FROM ledger l2 "
        "    JOIN cases c2 ON c2.id = l2.case_id "
        "    WHERE l2.subscription_id = l.subscription_id AND l2.currency = l.currency "
        "      AND l2.kind IN ('recovered', 'recovered_without_contact') "
        "      AND (?1::text IS NULL OR c2.opened_at >= ?1) "
        "      AND (?2::text IS NULL OR c2.opened_at < ?2) "
        "      AND l2.occurred_at <= ?3 AND (l2.occurred_at > l.occurred_at "
        "        OR (l2.occurred_at = l.occurred_at AND l2.id > l.id)))) "
        "GROUP BY l.id ORDER BY l.id",
        Params().add(opt_iso(from)).add(opt_iso(to)).add(iso(as_of)), [&](const Rows& s) {
          store::RecoveryHistory h;
          h.case_id = s.int64(0, 0);
          h.customer_id = s.text(0, 1);
          h.subscription_id = s.opt_text(0, 2);
          h.currency = s.text(0, 3);
          h.recovered_at = parse_time(s.text(0, 4), "ledger.occurred_at");
          h.paid_sum_minor = s.int64(0, 5);
          h.paid_count = s.int64(0, 6);
          // The payments are the billing system's rows: an unreadable time is left out (the
          // feed reported it), not a reason to fail the report.
          if (auto first = s.opt_text(0, 7)) h.first_paid_at = parse_iso8601(*first);
          fn(h);
        });
  });
}

void PgReportQueries::for_each_retention(
    TimePoint as_of, std::span<const std::string_view> ended_statuses,
    const std::function<void(const store::RetentionObservation&)>& fn) {
  guard("for_each_retention", [&] {
    const std::string ended =
        ended_statuses.empty() ? "NULL" : placeholders(2, ended_statuses.size());
    Params p;
    p.add(iso(as_of));
    for (auto st : ended_statuses) p.add(st);
    db_.stream(
        "SELECT l.occurred_at, "
        "(SELECT MIN(x.occurred_at) FROM ledger x WHERE x.subscription_id = l.subscription_id "
        "   AND x.kind IN ('lost', 'cancelled') AND x.occurred_at > l.occurred_at "
        "   AND x.occurred_at <= ?1), "
        "CASE WHEN s.status IN (" +
            ended +
            ") "
            "  AND s.updated_at > l.occurred_at AND s.updated_at <= ?1 THEN s.updated_at END "
            "FROM ledger l LEFT JOIN subscriptions s ON s.id = l.subscription_id "
            "WHERE l.kind IN ('recovered', 'recovered_without_contact') "
            "  AND l.subscription_id IS NOT NULL AND l.occurred_at <= ?1 ORDER BY l.id",
        p, [&](const Rows& s) {
          store::RetentionObservation r;
          r.recovered_at = parse_time(s.text(0, 0), "ledger.occurred_at");
          auto a = parse_opt_time(s.opt_text(0, 1), "ledger.occurred_at");
          // subscriptions.updated_at is the billing system's: unreadable means "not known to
          // end".
          std::optional<TimePoint> b;
          if (auto text = s.opt_text(0, 2)) b = parse_iso8601(*text);
          if (a && b) {
            r.ended_at = std::min(*a, *b);
          } else {
            r.ended_at = a ? a : b;
          }
          fn(r);
        });
  });
}

std::vector<store::VerifyCurrency> PgReportQueries::verify_recovered(
    std::vector<store::VerifyMismatch>* mismatches, int max_mismatches) {
  return guard("verify_recovered", [&] {
    std::vector<store::VerifyCurrency> out;
    for (auto q : {sql::kVerifyMoneyIn, sql::kVerifyRefunds}) {
      auto s = db_.query(q);
      for (int i = 0; i < s.size(); ++i) {
        out.push_back({s.text(i, 0), s.text(i, 1), s.int64(i, 2), s.int64(i, 3), s.int64(i, 4)});
      }
    }
    auto missing = db_.query(sql::kVerifyMissingRefunds);
    for (int i = 0; i < missing.size(); ++i) {
      store::add_missing_refund(out, missing.text(i, 0), missing.int64(i, 1));
    }
    if (mismatches) {
      auto s = db_.query(sql::kVerifyMismatches, Params().add(max_mismatches));
      for (int i = 0; i < s.size(); ++i) {
        mismatches->push_back({s.int64(i, 0), s.text(i, 1), s.text(i, 2)});
      }
    }
    return out;
  });
}

std::vector<Count> PgReportQueries::cases_by_state() {
  return guard("cases_by_state", [&] { return read_counts(db_.query(sql::kCasesByState)); });
}

std::vector<Count> PgReportQueries::outbox_by_channel_state() {
  return guard("outbox_by_channel_state",
               [&] { return read_counts(db_.query(sql::kOutboxByChannelState)); });
}

std::vector<Count> PgReportQueries::recovered_by_currency() {
  return guard("recovered_by_currency",
               [&] { return read_counts(db_.query(sql::kRecoveredByCurrency)); });
}

std::vector<Count> PgReportQueries::rejected_rows_by_table() {
  return guard("rejected_rows_by_table",
               [&] { return read_counts(db_.query(sql::kRejectedRowsByTable)); });
}

}  // namespace dunning::store::postgres
