#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

void SqliteContactBook::mark_unreachable(const std::string& customer_id, Channel channel,
                                         const std::string& address, const std::string& reason,
                                         TimePoint at) {
  guard("mark_unreachable", [&] {
    auto s = db_.prepare(sql::kMarkUnreachable);
    s.bind(1, customer_id).bind(2, to_string(channel)).bind(3, address).bind(4, reason);
    s.bind(5, iso(at)).run();
  });
}

std::optional<ContactStatus> SqliteContactBook::contact_status(const std::string& customer_id,
                                                               Channel channel,
                                                               const std::string& address) {
  return guard("contact_status", [&]() -> std::optional<ContactStatus> {
    auto s = db_.prepare(sql::kContactStatus);
    s.bind(1, customer_id).bind(2, to_string(channel)).bind(3, address);
    if (!s.step()) return std::nullopt;
    return decode_contact_status(s);
  });
}

void SqliteContactBook::pause_channel(Channel channel, const std::string& reason, TimePoint since,
                                      TimePoint retry_at) {
  guard("pause_channel", [&] {
    // `since` keeps the start of an ongoing pause; the reason and next probe are refreshed.
    auto s = db_.prepare(sql::kPauseChannel);
    s.bind(1, to_string(channel)).bind(2, reason).bind(3, iso(since)).bind(4, iso(retry_at)).run();
  });
}

void SqliteContactBook::resume_channel(Channel channel) {
  guard("resume_channel", [&] {
    auto s = db_.prepare(sql::kResumeChannel);
    s.bind(1, to_string(channel)).run();
  });
}

std::vector<ChannelPause> SqliteContactBook::channel_pauses() {
  return guard("channel_pauses", [&] {
    auto s = db_.prepare(sql::kChannelPauses);
    std::vector<ChannelPause> out;
    while (s.step()) out.push_back(decode_channel_pause(s));
    return out;
  });
}

}  // namespace dunning::store::sqlite
