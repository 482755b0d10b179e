// `dunningd simulate`: replays the payments data with a virtual clock against the current
// sequences, on a copy of the database, with a transport that records instead of sending.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "app/commands.hpp"
#include "dunning/app/daemon.hpp"

namespace dunning::app {

namespace {

namespace fs = std::filesystem;

// Accepts every message and keeps only a count: simulate never sends anything.
class RecordingTransport final : public sender::EmailTransport {
 public:
  sender::Delivery send(std::string_view, std::string_view, std::string_view) override {
    ++sent_;
    return {};
  }
  std::string name() const override { return "simulation (nothing is sent)"; }
  int sent() const { return sent_; }

 private:
  int sent_ = 0;
};

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

}  // namespace

Command add_simulate_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand(
      "simulate",
      "replay the payments data against the current sequences on a copy of the database, "
      "sending nothing, and print per-case timelines and totals");
  add_config_option(sub, cli);
  struct Options {
    std::string from;
    std::string to;
    std::string db;
    std::string step = "1d";
    bool totals_only = false;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--from", opt->from, "first virtual tick (ISO 8601 date or time, UTC)")
      ->required();
  sub->add_option("--to", opt->to, "last virtual tick (inclusive)")->required();
  sub->add_option("--db", opt->db,
                  "write the simulation copy here and keep it (default: a temporary file)");
  sub->add_option("--step", opt->step, "virtual time between two ticks")->capture_default_str();
  sub->add_flag("--totals-only", opt->totals_only, "print only the totals");
  return {sub, [&cli, opt]() -> int {
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            auto from = parse_time_option(opt->from, "--from");
            auto to = parse_time_option(opt->to, "--to");
            auto step = parse_duration(opt->step);
            if (!step || step->count() <= 0) {
              std::cerr << "dunningd: --step must be a duration like 1d or 6h\n";
              return kExitConfig;
            }
            if (*to < *from) {
              std::cerr << "dunningd: --to must not be before --from (--to is inclusive)\n";
              return kExitConfig;
            }
            spdlog::set_level(spdlog::level::warn);
            const fs::path real = cfg->daemon.database;
            fs::path copy;
            bool keep = !opt->db.empty();
            if (keep) {
              copy = opt->db;
              if (same_file(copy, real)) {
                std::cerr << "dunningd: --db must not be the real database " << real << '\n';
                return kExitConfig;
              }
            } else {
              copy = fs::temp_directory_path() /
                     ("dunningd-simulate-" + std::to_string(::getpid()) + ".db");
              fs::remove(copy);
            }
            struct Cleanup {
              fs::path p;
              bool keep;
              ~Cleanup() {
                if (keep) return;
                std::error_code ec;
                for (const char* suffix : {"", "-wal", "-shm"})
                  fs::remove(fs::path(p.string() + suffix), ec);
              }
            } cleanup{copy, keep};
            if (auto st = store::Store::snapshot(real, copy); !st) {
              std::cerr << "dunningd: " << st.error().message << '\n';
              return kExitFailure;
            }
            auto store = store::Store::open(copy, store::Store::Mode::kExisting);
            if (!store) {
              std::cerr << "dunningd: " << store.error().message << '\n';
              return kExitFailure;
            }
            auto& db = **store;
            db.prepare_simulation();
            const auto started = std::chrono::steady_clock::now();
            RecordingTransport transport;
            FixedClock clock(*from);
            int ticks = 0;
            int payments = 0;
            for (TimePoint t = *from; t <= *to; t += *step) {
              clock.set(t);
              {
                store::Store::Tx tx(db);
                payments += db.release_payments(t);
                tx.commit();
              }
              if (!poll_once(db, *cfg, clock, transport).ok) return kExitFailure;
              ++ticks;
            }
            const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);

            std::map<std::string, int> by_state;
            std::map<std::string, int> messages_per_customer;
            std::map<std::string, int> retries_per_card;
            int steps = 0;
            const auto cases = db.list_cases("", 100000000);
            for (const auto& c : cases) {
              ++by_state[std::string(store::to_string(c.state))];
              messages_per_customer.try_emplace(c.customer_id, 0);
              const auto rows = db.outbox_for_case(c.id);
              steps += static_cast<int>(rows.size());
              for (const auto& row : rows) {
                if (row.channel != "action" && row.state == store::OutboxState::kSent)
                  ++messages_per_customer[c.customer_id];
                if (row.action == "retry" && row.state != store::OutboxState::kCancelled)
                  ++retries_per_card[row.card_id.value_or("?")];
              }
              if (opt->totals_only) continue;
              std::cout << "case " << c.id << " " << store::to_string(c.state) << " customer "
                        << c.customer_id << " invoice " << c.invoice_id.value_or("-") << " "
                        << c.amount.to_string() << " sequence " << c.sequence_id << '\n';
              for (const auto& e : db.case_events(c.id)) {
                std::cout << "  " << format_iso8601(e.at) << "  " << e.kind << ": " << e.detail
                          << '\n';
              }
            }
            std::cout << "simulated " << format_iso8601(*from) << " .. " << format_iso8601(*to)
                      << ": " << ticks << " ticks, " << payments << " payments, " << cases.size()
                      << " cases, " << steps << " steps, " << transport.sent()
                      << " messages recorded (none sent) in " << elapsed.count() << " ms\n";
            std::cout << "total cases " << cases.size() << '\n';
            for (const auto& [state, n] : by_state)
              std::cout << "total outcome " << state << " " << n << '\n';
            for (const auto& [customer, n] : messages_per_customer)
              std::cout << "customer " << customer << " messages " << n << '\n';
            for (const auto& [card, n] : retries_per_card)
              std::cout << "card " << card << " retries " << n << '\n';
            if (keep) std::cout << "simulation database kept at " << copy.string() << '\n';
            return kExitOk;
          }};
}

}  // namespace dunning::app
