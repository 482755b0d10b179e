#include <algorithm>

#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

void SqliteReportQueries::for_each_case_outcome(
    std::optional<TimePoint> from, std::optional<TimePoint> to,
    const std::function<void(const store::CaseOutcome&)>& fn) {
  guard("for_each_case_outcome", [&] {
    // A correction is written for its own case's row (ledger::correction_entry): looked up by
    // case and kind (index ledger_case), not by `corrects` alone, which no index serves and which
    // read the whole ledger for every case.
    auto s = db_.prepare(
        "SELECT c.id, c.customer_id, c.subscription_id, c.amount_minor, c.currency, "
        "COALESCE(c.decline_code, ''), c.sequence_id, c.opened_at, c.holdout, l.kind, "
        "l.amount_minor + COALESCE((SELECT SUM(k.amount_minor) FROM ledger k "
        "  WHERE k.case_id = l.case_id AND k.kind = 'correction' AND k.corrects = l.id "
        "  AND k.currency = l.currency), 0), "
        "l.currency, l.step_index, COALESCE(l.channel, ''), COALESCE(l.attribution, ''), "
        "l.occurred_at, l.days_to_recover, "
        "EXISTS (SELECT 1 FROM ledger m WHERE m.case_id = c.id "
        "  AND m.kind IN ('partial', 'late', 'correction')) "
        "FROM cases c LEFT JOIN ledger l ON l.case_id = c.id "
        "  AND l.kind NOT IN ('correction', 'partial', 'late') "
        "WHERE (?1 IS NULL OR c.opened_at >= ?1) AND (?2 IS NULL OR c.opened_at < ?2) "
        "ORDER BY c.opened_at, c.id");
    bind_time(s, 1, from);
    bind_time(s, 2, to);
    while (s.step()) {
      store::CaseOutcome o = decode_case_outcome(s);
      if (s.int64(17) != 0) {
        auto m = db_.prepare(sql::kCaseMoneyMoves);
        m.bind(1, o.case_id);
        while (m.step()) o.moves.push_back(decode_move(m, 0));
      }
      fn(o);
    }
  });
}

std::vector<store::StepReach> SqliteReportQueries::step_reach(std::optional<TimePoint> from,
                                                              std::optional<TimePoint> to) {
  return guard("step_reach", [&] {
    auto s = db_.prepare(
        "SELECT c.sequence_id, o.step_index, MIN(o.channel), "
        "MIN(COALESCE(NULLIF(o.template, ''), o.action, '')), COUNT(*) "
        "FROM cases c CROSS JOIN outbox o ON o.case_id = c.id AND o.state = 'sent' "
        "WHERE (?1 IS NULL OR c.opened_at >= ?1) AND (?2 IS NULL OR c.opened_at < ?2) "
        "GROUP BY c.sequence_id, o.step_index ORDER BY c.sequence_id, o.step_index");
    bind_time(s, 1, from);
    bind_time(s, 2, to);
    std::vector<store::StepReach> out;
    while (s.step()) {
      out.push_back({s.text(0), static_cast<int>(s.int64(1)), s.text(2), s.text(3), s.int64(4)});
    }
    return out;
  });
}

void SqliteReportQueries::for_each_recovery_history(
    std::optional<TimePoint> from, std::optional<TimePoint> to, TimePoint as_of,
    const std::function<void(const store::RecoveryHistory&)>& fn) {
  guard("for_each_recovery_history", [&] {
    auto s = db_.prepare(
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
    bind_time(s, 1, from);
    bind_time(s, 2, to);
    s.bind(3, iso(as_of));
    while (s.step()) {
      store::RecoveryHistory h;
      h.case_id = s.int64(0);
      h.customer_id = s.text(1);
      h.subscription_id = s.opt_text(2);
      h.currency = s.text(3);
      h.recovered_at = parse_time(s.text(4), "ledger.occurred_at");
      h.paid_sum_minor = s.int64(5);
      h.paid_count = s.int64(6);
      // The payments are the billing system's rows: an unreadable time is left out (the feed
      // reported it), not a reason to fail the report.
      if (auto first = s.opt_text(7)) h.first_paid_at = parse_iso8601(*first);
      fn(h);
    }
  });
}

void SqliteReportQueries::for_each_retention(
    TimePoint as_of, std::span<const std::string_view> ended_statuses,
    const std::function<void(const store::RetentionObservation&)>& fn) {
  guard("for_each_retention", [&] {
    const std::string ended =
        ended_statuses.empty() ? "NULL" : placeholders(2, ended_statuses.size());
    auto s = db_.prepare(
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
        "  AND l.subscription_id IS NOT NULL AND l.occurred_at <= ?1 ORDER BY l.id");
    s.bind(1, iso(as_of));
    for (std::size_t i = 0; i < ended_statuses.size(); ++i)
      s.bind(static_cast<int>(i) + 2, ended_statuses[i]);
    while (s.step()) {
      store::RetentionObservation r;
      r.recovered_at = parse_time(s.text(0), "ledger.occurred_at");
      auto a = parse_opt_time(s.opt_text(1), "ledger.occurred_at");
      // subscriptions.updated_at is the billing system's: unreadable means "not known to end".
      std::optional<TimePoint> b;
      if (auto text = s.opt_text(2)) b = parse_iso8601(*text);
      if (a && b) {
        r.ended_at = std::min(*a, *b);
      } else {
        r.ended_at = a ? a : b;
      }
      fn(r);
    }
  });
}

std::vector<store::VerifyCurrency> SqliteReportQueries::verify_recovered(
    std::vector<store::VerifyMismatch>* mismatches, int max_mismatches) {
  return guard("verify_recovered", [&] {
    std::vector<store::VerifyCurrency> out;
    {
      auto s = db_.prepare(sql::kVerifyMoneyIn);
      while (s.step()) {
        out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3), s.int64(4)});
      }
    }
    {
      auto s = db_.prepare(sql::kVerifyRefunds);
      while (s.step()) {
        out.push_back({s.text(0), s.text(1), s.int64(2), s.int64(3), s.int64(4)});
      }
      auto missing = db_.prepare(sql::kVerifyMissingRefunds);
      while (missing.step()) store::add_missing_refund(out, missing.text(0), missing.int64(1));
    }
    if (mismatches) {
      auto s = db_.prepare(sql::kVerifyMismatches);
      s.bind(1, max_mismatches);
      while (s.step()) mismatches->push_back({s.int64(0), s.text(1), s.text(2)});
    }
    return out;
  });
}

std::vector<Count> SqliteReportQueries::cases_by_state() {
  return guard("cases_by_state", [&] {
    auto s = db_.prepare(sql::kCasesByState);
    return read_counts(s);
  });
}

std::vector<Count> SqliteReportQueries::outbox_by_channel_state() {
  return guard("outbox_by_channel_state", [&] {
    auto s = db_.prepare(sql::kOutboxByChannelState);
    return read_counts(s);
  });
}

std::vector<Count> SqliteReportQueries::recovered_by_currency() {
  return guard("recovered_by_currency", [&] {
    auto s = db_.prepare(sql::kRecoveredByCurrency);
    return read_counts(s);
  });
}

std::vector<Count> SqliteReportQueries::rejected_rows_by_table() {
  return guard("rejected_rows_by_table", [&] {
    auto s = db_.prepare(sql::kRejectedRowsByTable);
    return read_counts(s);
  });
}

}  // namespace dunning::store::sqlite
