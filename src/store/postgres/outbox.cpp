#include <algorithm>

#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

namespace dunning::store::postgres {

namespace {

std::vector<OutboxRow> read_rows(const Rows& s) {
  std::vector<OutboxRow> out;
  for (int i = 0; i < s.size(); ++i) out.push_back(read_outbox(s, i));
  return out;
}

std::vector<TimePoint> read_times(const Rows& s, const char* what) {
  std::vector<TimePoint> out;
  for (int i = 0; i < s.size(); ++i) out.push_back(parse_time(s.text(i, 0), what));
  return out;
}

}  // namespace

bool PgOutbox::enqueue(const OutboxRow& r) {
  return guard("enqueue_outbox", [&] {
    auto s = db_.query(sql::kEnqueueOutbox, Params()
                                                .add(r.case_id)
                                                .add(r.step_index)
                                                .add(std::string(to_string(r.channel)))
                                                .add(r.template_name)
                                                .add(std::string(to_string(r.action)))
                                                .add(r.message_key)
                                                .add(to_string(r.state))
                                                .add(iso(r.due_at))
                                                .add(iso(r.due_at))
                                                .add(iso(r.created_at))
                                                .add(r.card_id));
    return s.affected() == 1;
  });
}

int PgOutbox::cancel_pending(std::int64_t case_id, TimePoint at, const std::string& reason) {
  return guard("cancel_pending_outbox", [&] {
    return db_
        .query(
            "UPDATE outbox SET state = 'cancelled', sent_at = ?, lease_until = NULL, "
            "last_error = ? WHERE case_id = ? AND state = 'pending'",
            Params().add(iso(at)).add(reason).add(case_id))
        .affected();
  });
}

int PgOutbox::cancel_pending_contacts(std::int64_t case_id, TimePoint at,
                                      const std::string& reason) {
  return guard("cancel_pending_contacts", [&] {
    return db_
        .query(
            "UPDATE outbox SET state = 'cancelled', sent_at = ?, lease_until = NULL, "
            "last_error = ? WHERE case_id = ? AND state = 'pending' AND channel IN "
            "('email', 'sms')",
            Params().add(iso(at)).add(reason).add(case_id))
        .affected();
  });
}

std::vector<OutboxRow> PgOutbox::claim(TimePoint now, Seconds lease, int limit,
                                       std::span<const Channel> skip_channels) {
  return guard("claim_outbox", [&] {
    // Several instances claim at once: each locks the rows it leases (FOR UPDATE) and passes
    // over rows another claimer holds (SKIP LOCKED) instead of waiting for them. A row a
    // concurrent claim just leased and committed is re-checked on its latest version (READ
    // COMMITTED) and is no longer free. Not serialized by the writer lock (database.hpp).
    const std::string skip =
        skip_channels.empty()
            ? std::string()
            : "AND channel NOT IN (" + placeholders(4, skip_channels.size()) + ") ";
    Params p;
    p.add(iso(now + lease)).add(iso(now)).add(limit);
    for (const Channel c : skip_channels) p.add(to_string(c));
    auto s = db_.query_unserialized(
        "UPDATE outbox SET lease_until = ?1, attempts = attempts + 1 WHERE id IN ("
        "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 "
        "AND (lease_until IS NULL OR lease_until <= ?2) " +
            skip + "ORDER BY next_attempt_at, id LIMIT ?3 FOR UPDATE SKIP LOCKED) RETURNING " +
            std::string(kOutboxColumns),
        p);
    std::vector<OutboxRow> out;
    for (int i = 0; i < s.size(); ++i) read_or_skip(reported_, s, i, "outbox", read_outbox, out);
    for (auto& row : out) row.leased_until = now + lease;
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  });
}

void PgOutbox::release(std::int64_t id, TimePoint leased_until) {
  guard("release_outbox", [&] {
    db_.query(
        "UPDATE outbox SET lease_until = NULL, attempts = GREATEST(attempts - 1, 0) "
        "WHERE id = ? AND state = 'pending' AND lease_until = ?",
        Params().add(id).add(iso(leased_until)));
  });
}

void PgOutbox::mark_sent(std::int64_t id, TimePoint at) {
  guard("mark_outbox_sent",
        [&] { db_.query(sql::kMarkOutboxSent, Params().add(iso(at)).add(id)); });
}

void PgOutbox::defer(std::int64_t id, TimePoint leased_until, TimePoint until,
                     const std::string& reason) {
  guard("defer_outbox", [&] {
    // SQLite's two-argument MAX is GREATEST here.
    db_.query(
        "UPDATE outbox SET due_at = ?1, next_attempt_at = ?1, lease_until = NULL, "
        "attempts = GREATEST(attempts - 1, 0), last_error = ?2 WHERE id = ?3 AND state = 'pending' "
        "AND lease_until = ?4",
        Params().add(iso(until)).add(reason).add(id).add(iso(leased_until)));
  });
}

void PgOutbox::mark_retry(std::int64_t id, TimePoint next_attempt_at, const std::string& error) {
  guard("mark_outbox_retry", [&] {
    db_.query(sql::kMarkOutboxRetry, Params().add(iso(next_attempt_at)).add(error).add(id));
  });
}

void PgOutbox::mark_final(std::int64_t id, OutboxState state, TimePoint at,
                          const std::string& error) {
  guard("mark_outbox_final", [&] {
    db_.query(sql::kMarkOutboxFinal,
              Params().add(to_string(state)).add(iso(at)).add(error).add(id));
  });
}

std::vector<OutboxRow> PgOutbox::for_case(std::int64_t case_id) {
  return guard("outbox_for_case", [&] {
    static const std::string kSql = "SELECT " + std::string(kOutboxColumns) +
                                    " FROM outbox WHERE case_id = ? ORDER BY step_index";
    return read_rows(db_.query(kSql, Params().add(case_id)));
  });
}

std::optional<OutboxRow> PgOutbox::last_delivered(std::int64_t case_id, TimePoint at) {
  return guard("last_delivered", [&]() -> std::optional<OutboxRow> {
    static const std::string kSql = "SELECT " + std::string(kOutboxColumns) +
                                    " FROM outbox WHERE case_id = ? AND state = 'sent' AND "
                                    "sent_at <= ? ORDER BY sent_at DESC, step_index DESC LIMIT 1";
    auto s = db_.query(kSql, Params().add(case_id).add(iso(at)));
    if (s.empty()) return std::nullopt;
    return read_outbox(s, 0);
  });
}

std::optional<OutboxRow> PgOutbox::unconfirmed_contact(std::int64_t case_id, TimePoint at) {
  return guard("unconfirmed_contact", [&]() -> std::optional<OutboxRow> {
    static const std::string kSql =
        "SELECT " + std::string(kOutboxColumns) +
        " FROM outbox WHERE case_id = ? AND state = 'pending' AND lease_until IS NOT NULL AND "
        "attempts > 0 AND channel IN ('email', 'sms') AND next_attempt_at <= ? "
        "ORDER BY step_index DESC LIMIT 1";
    auto s = db_.query(kSql, Params().add(case_id).add(iso(at)));
    if (s.empty()) return std::nullopt;
    return read_outbox(s, 0);
  });
}

// The two queries below read the customer's cases first and then each case's rows through the
// outbox's (case_id, step_index) key: a LATERAL subquery behind OFFSET 0 (which the planner does
// not flatten) fixes that order, as CROSS JOIN does on SQLite. Left to the planner, a table whose
// statistics lag behind its growth (a fresh database, a bulk load, autovacuum not there yet) was
// read through outbox_due instead: every pending and sent row, for each case (1.8 ms a call at
// 2,000 rows, growing with the outbox).

std::vector<TimePoint> PgOutbox::contact_times(const std::string& customer_id, TimePoint since) {
  return guard("contact_times", [&] {
    return read_times(
        db_.query(
            "SELECT o.t FROM cases c CROSS JOIN LATERAL (SELECT CASE WHEN x.state = 'sent' "
            "THEN x.sent_at ELSE x.due_at END AS t FROM outbox x WHERE x.case_id = c.id "
            "AND x.channel IN ('email', 'sms') AND x.state IN ('pending', 'sent') OFFSET 0) o "
            "WHERE c.customer_id = ?1 AND o.t >= ?2 ORDER BY o.t",
            Params().add(customer_id).add(iso(since))),
        "outbox.due_at");
  });
}

std::vector<TimePoint> PgOutbox::sent_contact_times(const std::string& customer_id,
                                                    TimePoint since) {
  return guard("sent_contact_times", [&] {
    return read_times(
        db_.query("SELECT o.sent_at FROM cases c CROSS JOIN LATERAL (SELECT x.sent_at FROM outbox "
                  "x WHERE x.case_id = c.id AND x.state = 'sent' AND x.channel IN ('email', 'sms') "
                  "AND x.sent_at >= ?2 OFFSET 0) o WHERE c.customer_id = ?1 ORDER BY o.sent_at",
                  Params().add(customer_id).add(iso(since))),
        "outbox.sent_at");
  });
}

std::vector<TimePoint> PgOutbox::retries_made(const std::string& card_id, TimePoint since) {
  return guard("retries_made", [&] {
    return read_times(db_.query(sql::kRetriesMade, Params().add(card_id).add(iso(since))),
                      "outbox.sent_at");
  });
}

std::int64_t PgOutbox::pending_due(Channel channel, TimePoint now) {
  return guard("pending_due", [&] {
    return db_
        .query(
            "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND channel = ? AND due_at <= ?",
            Params().add(to_string(channel)).add(iso(now)))
        .int64(0, 0);
  });
}

std::vector<TimePoint> PgOutbox::retry_times(const std::string& card_id, TimePoint from,
                                             TimePoint to) {
  return guard("retry_times", [&] {
    return read_times(
        db_.query(sql::kRetryTimes, Params().add(card_id).add(iso(from)).add(iso(to))),
        "outbox.due_at");
  });
}

}  // namespace dunning::store::postgres
