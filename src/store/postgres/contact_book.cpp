#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

namespace dunning::store::postgres {

void PgContactBook::mark_unreachable(const std::string& customer_id, const std::string& channel,
                                     const std::string& address, const std::string& reason,
                                     TimePoint at) {
  guard("mark_unreachable", [&] {
    db_.query(sql::kMarkUnreachable,
              Params().add(customer_id).add(channel).add(address).add(reason).add(iso(at)));
  });
}

std::optional<ContactStatus> PgContactBook::contact_status(const std::string& customer_id,
                                                           const std::string& channel,
                                                           const std::string& address) {
  return guard("contact_status", [&]() -> std::optional<ContactStatus> {
    auto s = db_.query(sql::kContactStatus, Params().add(customer_id).add(channel).add(address));
    if (s.empty()) return std::nullopt;
    return ContactStatus{s.text(0, 0), s.text(0, 1), s.text(0, 2),
                         s.text(0, 3), s.text(0, 4), parse_time(s.text(0, 5), "contact_status.at")};
  });
}

void PgContactBook::pause_channel(const std::string& channel, const std::string& reason,
                                  TimePoint since, TimePoint retry_at) {
  guard("pause_channel", [&] {
    // `since` keeps the start of an ongoing pause; the reason and next probe are refreshed.
    db_.query(sql::kPauseChannel,
              Params().add(channel).add(reason).add(iso(since)).add(iso(retry_at)));
  });
}

void PgContactBook::resume_channel(const std::string& channel) {
  guard("resume_channel", [&] { db_.query(sql::kResumeChannel, Params().add(channel)); });
}

std::vector<ChannelPause> PgContactBook::channel_pauses() {
  return guard("channel_pauses", [&] {
    auto s = db_.query(sql::kChannelPauses);
    std::vector<ChannelPause> out;
    for (int i = 0; i < s.size(); ++i) {
      out.push_back({s.text(i, 0), s.text(i, 1), parse_time(s.text(i, 2), "channel_pauses.since"),
                     parse_time(s.text(i, 3), "channel_pauses.retry_at")});
    }
    return out;
  });
}

}  // namespace dunning::store::postgres
