#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

void SqliteContactBook::mark_unreachable(const std::string& customer_id, const std::string& channel,
                                         const std::string& address, const std::string& reason,
                                         TimePoint at) {
  guard("mark_unreachable", [&] {
    auto s = db_.prepare(sql::kMarkUnreachable);
    s.bind(1, customer_id).bind(2, channel).bind(3, address).bind(4, reason).bind(5, iso(at)).run();
  });
}

std::optional<ContactStatus> SqliteContactBook::contact_status(const std::string& customer_id,
                                                               const std::string& channel,
                                                               const std::string& address) {
  return guard("contact_status", [&]() -> std::optional<ContactStatus> {
    auto s = db_.prepare(sql::kContactStatus);
    s.bind(1, customer_id).bind(2, channel).bind(3, address);
    if (!s.step()) return std::nullopt;
    return ContactStatus{s.text(0), s.text(1), s.text(2),
                         s.text(3), s.text(4), parse_time(s.text(5), "contact_status.at")};
  });
}

void SqliteContactBook::pause_channel(const std::string& channel, const std::string& reason,
                                      TimePoint since, TimePoint retry_at) {
  guard("pause_channel", [&] {
    // `since` keeps the start of an ongoing pause; the reason and next probe are refreshed.
    auto s = db_.prepare(sql::kPauseChannel);
    s.bind(1, channel).bind(2, reason).bind(3, iso(since)).bind(4, iso(retry_at)).run();
  });
}

void SqliteContactBook::resume_channel(const std::string& channel) {
  guard("resume_channel", [&] {
    auto s = db_.prepare(sql::kResumeChannel);
    s.bind(1, channel).run();
  });
}

std::vector<ChannelPause> SqliteContactBook::channel_pauses() {
  return guard("channel_pauses", [&] {
    auto s = db_.prepare(sql::kChannelPauses);
    std::vector<ChannelPause> out;
    while (s.step()) {
      out.push_back({s.text(0), s.text(1), parse_time(s.text(2), "channel_pauses.since"),
                     parse_time(s.text(3), "channel_pauses.retry_at")});
    }
    return out;
  });
}

}  // namespace dunning::store::sqlite
