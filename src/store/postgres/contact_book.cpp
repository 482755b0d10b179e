#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"

namespace dunning::store::postgres {

void PgContactBook::mark_unreachable(const std::string& customer_id, const std::string& channel,
                                     const std::string& address, const std::string& reason,
                                     TimePoint at) {
  guard("mark_unreachable", [&] {
    db_.query(
        "INSERT INTO contact_status(customer_id, channel, address, state, reason, at) "
        "VALUES (?, ?, ?, 'unreachable', ?, ?) ON CONFLICT(customer_id, channel, address) "
        "DO UPDATE SET state = excluded.state, reason = excluded.reason, at = excluded.at",
        Params().add(customer_id).add(channel).add(address).add(reason).add(iso(at)));
  });
}

std::optional<ContactStatus> PgContactBook::contact_status(const std::string& customer_id,
                                                           const std::string& channel,
                                                           const std::string& address) {
  return guard("contact_status", [&]() -> std::optional<ContactStatus> {
    auto s = db_.query(
        "SELECT customer_id, channel, address, state, reason, at FROM contact_status "
        "WHERE customer_id = ? AND channel = ? AND address = ?",
        Params().add(customer_id).add(channel).add(address));
    if (s.empty()) return std::nullopt;
    return ContactStatus{s.text(0, 0), s.text(0, 1), s.text(0, 2),
                         s.text(0, 3), s.text(0, 4), parse_time(s.text(0, 5), "contact_status.at")};
  });
}

void PgContactBook::pause_channel(const std::string& channel, const std::string& reason,
                                  TimePoint since, TimePoint retry_at) {
  guard("pause_channel", [&] {
    // `since` keeps the start of an ongoing pause; the reason and next probe are refreshed.
    db_.query(
        "INSERT INTO channel_pauses(channel, reason, since, retry_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT(channel) DO UPDATE SET reason = excluded.reason, "
        "retry_at = excluded.retry_at",
        Params().add(channel).add(reason).add(iso(since)).add(iso(retry_at)));
  });
}

void PgContactBook::resume_channel(const std::string& channel) {
  guard("resume_channel",
        [&] { db_.query("DELETE FROM channel_pauses WHERE channel = ?", Params().add(channel)); });
}

std::vector<ChannelPause> PgContactBook::channel_pauses() {
  return guard("channel_pauses", [&] {
    auto s = db_.query(
        "SELECT channel, reason, since, retry_at FROM channel_pauses ORDER BY channel COLLATE "
        "\"C\"");
    std::vector<ChannelPause> out;
    for (int i = 0; i < s.size(); ++i) {
      out.push_back({s.text(i, 0), s.text(i, 1), parse_time(s.text(i, 2), "channel_pauses.since"),
                     parse_time(s.text(i, 3), "channel_pauses.retry_at")});
    }
    return out;
  });
}

}  // namespace dunning::store::postgres
