#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/postgres/engine.hpp"

namespace dunning::store::postgres {

namespace {

// The poller's lock is (key, 2) on a session of its own; `application_name` of that session is
// "dunningd <instance>", which is how any instance reads who holds it (pg_locks joined to
// pg_stat_activity): the answer is the server's, so it is never stale.
constexpr std::string_view kNamePrefix = "dunningd ";

class PgLeadership final : public Leadership {
 public:
  PgLeadership(ConnectSpec spec, std::string instance, Seconds poll_interval)
      : spec_(std::move(spec)), instance_(std::move(instance)), poll_interval_(poll_interval) {
    spec_.application_name = std::string(kNamePrefix) + instance_;
    if (spec_.application_name.size() > 63) spec_.application_name.resize(63);
  }

  bool try_lead() override {
    try {
      if (!conn_ || !conn_->healthy()) connect();
      if (leading_) {
        // The lock lasts as long as the session: a session that still answers still holds it.
        conn_->query("SELECT 1");
        return true;
      }
      auto r = conn_->query("SELECT pg_try_advisory_lock(?1::int, 2)", Params().add(key_));
      leading_ = r.text(0, 0) == "t";
      if (leading_) spdlog::info("this instance ({}) is now the poller", instance_);
    } catch (const PgError& e) {
      if (leading_) spdlog::error("poller role lost (its session is gone): {}", e.what());
      leading_ = false;
      conn_.reset();
    }
    return leading_;
  }

  bool leading() const override { return leading_; }

  std::string holder() override {
    try {
      if (!conn_ || !conn_->healthy()) connect();
      auto r = conn_->query(
          "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
          "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2 AND l.objid = 2 "
          "AND l.classid = ((?1::int)::bigint & 4294967295)::oid "
          "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
          Params().add(key_));
      if (r.empty()) return "";
      std::string name = r.text(0, 0);
      if (name.rfind(kNamePrefix, 0) == 0) name.erase(0, kNamePrefix.size());
      return name;
    } catch (const PgError&) {
      leading_ = false;
      conn_.reset();
      return "";
    }
  }

  const std::string& instance() const override { return instance_; }

 private:
  void connect() {
    conn_ = std::make_unique<Conn>(spec_);
    // An instance whose host vanished cannot close its session; the server ends a session that
    // stays idle this long (every instance asks at every poll), which frees the role.
    const auto idle = std::max<std::int64_t>(3 * poll_interval_.count() + 10, 30);
    conn_->exec("SET idle_session_timeout = '" + std::to_string(idle) + "s'");
    auto k = conn_->query("SELECT hashtext('dunningd:' || current_schema())");
    key_ = static_cast<std::int32_t>(k.int64(0, 0));
  }

  ConnectSpec spec_;
  std::string instance_;
  std::unique_ptr<Conn> conn_;
  Seconds poll_interval_;
  std::int32_t key_ = 0;
  bool leading_ = false;
};

}  // namespace

Result<std::unique_ptr<Leadership>> open_pg_leadership(const ConnectSpec& spec,
                                                       const std::string& instance_id,
                                                       Seconds poll_interval) {
  auto l = std::make_unique<PgLeadership>(spec, instance_id, poll_interval);
  // Connecting now turns a wrong URI or password into a start-up error, not a silent sender.
  try {
    Conn probe(spec);
  } catch (const PgError& e) {
    return Error::unavailable(e.what());
  }
  return std::unique_ptr<Leadership>(std::move(l));
}

}  // namespace dunning::store::postgres
