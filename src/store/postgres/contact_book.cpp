#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

namespace dunning::store::postgres {

void PgContactBook::mark_unreachable(const std::string& customer_id, Channel channel,
                                     const std::string& address, const std::string& reason,
                                     TimePoint at) {
  guard("mark_unreachable", [&] {
    db_.query(
        sql::kMarkUnreachable,
        Params().add(customer_id).add(to_string(channel)).add(address).add(reason).add(iso(at)));
  });
}

std::optional<ContactStatus> PgContactBook::contact_status(const std::string& customer_id,
                                                           Channel channel,
                                                           const std::string& address) {
  return guard("contact_status", [&]() -> std::optional<ContactStatus> {
    auto s = db_.query(sql::kContactStatus,
                       Params().add(customer_id).add(to_string(channel)).add(address));
    if (s.empty()) return std::nullopt;
    return decode_contact_status(RowAt{s, 0});
  });
}

void PgContactBook::pause_channel(Channel channel, const std::string& reason, TimePoint since,
                                  TimePoint retry_at) {
  guard("pause_channel", [&] {
    // `since` keeps the start of an ongoing pause; the reason and next probe are refreshed.
    db_.query(sql::kPauseChannel,
              Params().add(to_string(channel)).add(reason).add(iso(since)).add(iso(retry_at)));
  });
}

void PgContactBook::resume_channel(Channel channel) {
  guard("resume_channel",
        [&] { db_.query(sql::kResumeChannel, Params().add(to_string(channel))); });
}

std::vector<ChannelPause> PgContactBook::channel_pauses() {
  return guard("channel_pauses", [&] {
    auto s = db_.query(sql::kChannelPauses);
    std::vector<ChannelPause> out;
    for (int i = 0; i < s.size(); ++i) out.push_back(decode_channel_pause(RowAt{s, i}));
    return out;
  });
}

}  // namespace dunning::store::postgres
