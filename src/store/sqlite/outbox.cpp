#include <algorithm>

#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

bool SqliteOutbox::enqueue(const OutboxRow& r) {
  return guard("enqueue_outbox", [&] {
    auto s = db_.prepare(sql::kEnqueueOutbox);
    s.bind(1, r.case_id)
        .bind(2, r.step_index)
        .bind(3, to_string(r.channel))
        .bind(4, r.template_name);
    s.bind(5, to_string(r.action)).bind(6, r.message_key).bind(7, to_string(r.state));
    s.bind(8, iso(r.due_at)).bind(9, iso(r.due_at)).bind(10, iso(r.created_at));
    s.bind(11, r.card_id);
    s.run();
    return db_.raw().changes() == 1;
  });
}

int SqliteOutbox::cancel_pending(std::int64_t case_id, TimePoint at, const std::string& reason) {
  return guard("cancel_pending_outbox", [&] {
    auto s = db_.prepare(
        "UPDATE outbox SET state = 'cancelled', sent_at = ?, lease_until = NULL, "
        "last_error = ? WHERE case_id = ? AND state = 'pending'");
    s.bind(1, iso(at)).bind(2, reason).bind(3, case_id).run();
    return db_.raw().changes();
  });
}

int SqliteOutbox::cancel_pending_contacts(std::int64_t case_id, TimePoint at,
                                          const std::string& reason) {
  return guard("cancel_pending_contacts", [&] {
    auto s = db_.prepare(
        "UPDATE outbox SET state = 'cancelled', sent_at = ?, lease_until = NULL, "
        "last_error = ? WHERE case_id = ? AND state = 'pending' AND channel IN ('email', 'sms')");
    s.bind(1, iso(at)).bind(2, reason).bind(3, case_id).run();
    return db_.raw().changes();
  });
}

std::vector<OutboxRow> SqliteOutbox::claim(TimePoint now, Seconds lease, int limit,
                                           std::span<const Channel> skip_channels) {
  return guard("claim_outbox", [&] {
    // One statement: the rows are leased as they are read, so two claimers never share a row.
    const std::string skip =
        skip_channels.empty()
            ? std::string()
            : "AND channel NOT IN (" + placeholders(4, skip_channels.size()) + ") ";
    auto s = db_.prepare(
        "UPDATE outbox SET lease_until = ?1, attempts = attempts + 1 WHERE id IN ("
        "SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?2 "
        "AND (lease_until IS NULL OR lease_until <= ?2) " +
        skip + "ORDER BY next_attempt_at, id LIMIT ?3) RETURNING " + std::string(kOutboxColumns));
    s.bind(1, iso(now + lease)).bind(2, iso(now)).bind(3, limit);
    for (std::size_t i = 0; i < skip_channels.size(); ++i)
      s.bind(static_cast<int>(i) + 4, to_string(skip_channels[i]));
    std::vector<OutboxRow> out;
    while (s.step()) read_or_skip(reported_, *s, "outbox", read_outbox, out);
    for (auto& row : out) row.leased_until = now + lease;
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    return out;
  });
}

void SqliteOutbox::release(std::int64_t id, TimePoint leased_until) {
  guard("release_outbox", [&] {
    auto s = db_.prepare(
        "UPDATE outbox SET lease_until = NULL, attempts = MAX(attempts - 1, 0) "
        "WHERE id = ? AND state = 'pending' AND lease_until = ?");
    s.bind(1, id).bind(2, iso(leased_until)).run();
  });
}

void SqliteOutbox::mark_sent(std::int64_t id, TimePoint at) {
  guard("mark_outbox_sent", [&] {
    auto s = db_.prepare(sql::kMarkOutboxSent);
    s.bind(1, iso(at)).bind(2, id).run();
  });
}

void SqliteOutbox::defer(std::int64_t id, TimePoint leased_until, TimePoint until,
                         const std::string& reason) {
  guard("defer_outbox", [&] {
    auto s = db_.prepare(
        "UPDATE outbox SET due_at = ?1, next_attempt_at = ?1, lease_until = NULL, "
        "attempts = MAX(attempts - 1, 0), last_error = ?2 WHERE id = ?3 AND state = 'pending' "
        "AND lease_until = ?4");
    s.bind(1, iso(until)).bind(2, reason).bind(3, id).bind(4, iso(leased_until)).run();
  });
}

void SqliteOutbox::mark_retry(std::int64_t id, TimePoint next_attempt_at,
                              const std::string& error) {
  guard("mark_outbox_retry", [&] {
    auto s = db_.prepare(sql::kMarkOutboxRetry);
    s.bind(1, iso(next_attempt_at)).bind(2, error).bind(3, id).run();
  });
}

void SqliteOutbox::mark_final(std::int64_t id, OutboxState state, TimePoint at,
                              const std::string& error) {
  guard("mark_outbox_final", [&] {
    auto s = db_.prepare(sql::kMarkOutboxFinal);
    s.bind(1, to_string(state)).bind(2, iso(at)).bind(3, error).bind(4, id).run();
  });
}

std::vector<OutboxRow> SqliteOutbox::for_case(std::int64_t case_id) {
  return guard("outbox_for_case", [&] {
    static const std::string kSql = "SELECT " + std::string(kOutboxColumns) +
                                    " FROM outbox WHERE case_id = ? ORDER BY step_index";
    auto s = db_.prepare(kSql);
    s.bind(1, case_id);
    std::vector<OutboxRow> out;
    while (s.step()) out.push_back(read_outbox(*s));
    return out;
  });
}

std::optional<OutboxRow> SqliteOutbox::last_delivered(std::int64_t case_id, TimePoint at) {
  return guard("last_delivered", [&]() -> std::optional<OutboxRow> {
    static const std::string kSql = "SELECT " + std::string(kOutboxColumns) +
                                    " FROM outbox WHERE case_id = ? AND state = 'sent' AND "
                                    "sent_at <= ? ORDER BY sent_at DESC, step_index DESC LIMIT 1";
    auto s = db_.prepare(kSql);
    s.bind(1, case_id).bind(2, iso(at));
    if (!s.step()) return std::nullopt;
    return read_outbox(*s);
  });
}

std::optional<OutboxRow> SqliteOutbox::unconfirmed_contact(std::int64_t case_id, TimePoint at) {
  return guard("unconfirmed_contact", [&]() -> std::optional<OutboxRow> {
    static const std::string kSql =
        "SELECT " + std::string(kOutboxColumns) +
        " FROM outbox WHERE case_id = ? AND state = 'pending' AND lease_until IS NOT NULL AND "
        "attempts > 0 AND channel IN ('email', 'sms') AND next_attempt_at <= ? "
        "ORDER BY step_index DESC LIMIT 1";
    auto s = db_.prepare(kSql);
    s.bind(1, case_id).bind(2, iso(at));
    if (!s.step()) return std::nullopt;
    return read_outbox(*s);
  });
}

std::vector<TimePoint> SqliteOutbox::sent_contact_times(const std::string& customer_id,
                                                        TimePoint since) {
  return guard("sent_contact_times", [&] {
    auto s = db_.prepare(
        "SELECT o.sent_at FROM cases c CROSS JOIN outbox o ON o.case_id = c.id "
        "WHERE c.customer_id = ?1 AND o.state = 'sent' AND o.channel IN ('email', 'sms') "
        "AND o.sent_at >= ?2 ORDER BY o.sent_at");
    s.bind(1, customer_id).bind(2, iso(since));
    std::vector<TimePoint> out;
    while (s.step()) out.push_back(parse_time(s.text(0), "outbox.sent_at"));
    return out;
  });
}

std::vector<TimePoint> SqliteOutbox::retries_made(const std::string& card_id, TimePoint since) {
  return guard("retries_made", [&] {
    auto s = db_.prepare(sql::kRetriesMade);
    s.bind(1, card_id).bind(2, iso(since));
    std::vector<TimePoint> out;
    while (s.step()) out.push_back(parse_time(s.text(0), "outbox.sent_at"));
    return out;
  });
}

std::int64_t SqliteOutbox::pending_due(Channel channel, TimePoint now) {
  return guard("pending_due", [&] {
    auto s = db_.prepare(
        "SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND channel = ? AND due_at <= ?");
    s.bind(1, to_string(channel)).bind(2, iso(now));
    return s.step() ? s.int64(0) : std::int64_t{0};
  });
}

std::vector<TimePoint> SqliteOutbox::contact_times(const std::string& customer_id,
                                                   TimePoint since) {
  return guard("contact_times", [&] {
    auto s = db_.prepare(
        "SELECT CASE WHEN o.state = 'sent' THEN o.sent_at ELSE o.due_at END AS t "
        // CROSS JOIN keeps SQLite on the customer's cases first (cases_customer, then the
        // outbox by case_id): driven from outbox_due it read every pending and sent row of
        // the outbox's whole history for each case.
        "FROM cases c CROSS JOIN outbox o ON o.case_id = c.id WHERE c.customer_id = ?1 "
        "AND o.channel IN ('email', 'sms') AND o.state IN ('pending', 'sent') AND t >= ?2 "
        "ORDER BY t");
    s.bind(1, customer_id).bind(2, iso(since));
    std::vector<TimePoint> out;
    while (s.step()) out.push_back(parse_time(s.text(0), "outbox.due_at"));
    return out;
  });
}

std::vector<TimePoint> SqliteOutbox::retry_times(const std::string& card_id, TimePoint from,
                                                 TimePoint to) {
  return guard("retry_times", [&] {
    auto s = db_.prepare(sql::kRetryTimes);
    s.bind(1, card_id).bind(2, iso(from)).bind(3, iso(to));
    std::vector<TimePoint> out;
    while (s.step()) out.push_back(parse_time(s.text(0), "outbox.due_at"));
    return out;
  });
}

}  // namespace dunning::store::sqlite
