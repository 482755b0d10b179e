// `dunningd simulate`: replays the payments data with a virtual clock against the current
// sequences, on a copy of the database, with every channel (email, SMS, billing, webhooks)
// replaced by one that records instead of sending: no simulation can reach a customer or a
// billing system, whatever the config says.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <map>

#include "app/commands.hpp"
#include "dunning/app/poller.hpp"
#include "dunning/config/config.hpp"
#include "dunning/rules/rules.hpp"

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

// Answers every POST without a network: a retry is "declined" (the replayed payments say what
// really happened), anything else is accepted.
class RecordingHttp final : public sender::HttpTransport {
 public:
  sender::HttpReply post_json(const std::string& url, const std::string&,
                              const std::vector<std::string>&) override {
    ++posts_;
    sender::HttpReply r;
    r.status = 200;
    const bool retry = url.size() >= 6 && url.compare(url.size() - 6, 6, "/retry") == 0;
    r.body = retry ? R"({"status": "declined", "decline_code": "simulated"})" : "{}";
    return r;
  }

 private:
  int posts_ = 0;
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
    std::string sequences;
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
  sub->add_option("--sequences", opt->sequences,
                  "replay with this sequences file instead of the configured one (what a change "
                  "would have done: run once with it and once without, and compare the totals)");
  return {sub, [&cli, opt]() -> int {
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            if (!opt->sequences.empty()) {
              // Checked as a reload checks it: any error and nothing is simulated.
              auto seqs = config::load_sequences(opt->sequences);
              if (seqs.ok()) {
                auto findings = rules::check_sequences(seqs.value);
                seqs.errors.insert(seqs.errors.end(), findings.begin(), findings.end());
              }
              for (const auto& e : seqs.errors) std::cerr << e.to_string() << '\n';
              if (!seqs.ok()) {
                std::cerr << "dunningd: " << opt->sequences << " is not valid (errors above)\n";
                return kExitConfig;
              }
              auto changed = std::make_shared<config::Config>(*cfg);
              changed->sequences = std::move(seqs.value);
              cfg = std::move(changed);
            }
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
            if (auto st = store::snapshot_database(real.string(), copy); !st) {
              std::cerr << "dunningd: " << st.error().message << '\n';
              return kExitFailure;
            }
            auto store = store::open_engine(copy, store::OpenMode::kExisting);
            if (!store) {
              std::cerr << "dunningd: " << store.error().message << '\n';
              return kExitFailure;
            }
            auto& db = **store;
            db.simulation().prepare();
            const auto started = std::chrono::steady_clock::now();
            ChannelSet channels;
            auto email = std::make_unique<RecordingTransport>();
            auto& transport = *email;
            channels.email = std::move(email);
            channels.sms = std::make_unique<RecordingHttp>();
            channels.billing = std::make_unique<RecordingHttp>();
            channels.webhooks = std::make_unique<RecordingHttp>();
            FixedClock clock(*from);
            Poller poller(db, cfg, clock, std::move(channels), std::nullopt);
            int ticks = 0;
            int payments = 0;
            for (TimePoint t = *from; t <= *to; t += *step) {
              clock.set(t);
              {
                store::Tx tx(db.db());
                payments += db.simulation().release_payments(t);
                tx.commit();
              }
              if (!poller.drain().ok) return kExitFailure;
              ++ticks;
            }
            const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - started);

            std::map<std::string, int> by_state;
            std::map<std::string, int> messages_per_customer;
            std::map<std::string, int> retries_per_card;
            // Per sequence: cases, their outcomes, messages sent and retries made.
            struct PerSequence {
              int cases = 0;
              std::map<std::string, int> states;
              int messages = 0;
              int retries = 0;
            };
            std::map<std::string, PerSequence> per_sequence;
            int steps = 0;
            // Every case the year opened, in id order, a page at a time (memory stays flat).
            std::int64_t case_count = 0;
            store::for_each_case(db.cases(), {}, [&](const store::CaseRecord& c) {
              ++case_count;
              ++by_state[std::string(store::to_string(c.state))];
              auto& seq = per_sequence[c.sequence_id.empty() ? "-" : c.sequence_id];
              ++seq.cases;
              ++seq.states[std::string(store::to_string(c.state))];
              messages_per_customer.try_emplace(c.customer_id, 0);
              const auto rows = db.outbox().for_case(c.id);
              steps += static_cast<int>(rows.size());
              for (const auto& row : rows) {
                if (row.channel != Channel::kAction && row.state == store::OutboxState::kSent) {
                  ++messages_per_customer[c.customer_id];
                  ++seq.messages;
                }
                if (row.action == Action::kRetry && row.state != store::OutboxState::kCancelled) {
                  ++retries_per_card[row.card_id.value_or("?")];
                  ++seq.retries;
                }
              }
              if (opt->totals_only) return;
              std::cout << "case " << c.id << " " << store::to_string(c.state) << " customer "
                        << c.customer_id << " invoice " << c.invoice_id.value_or("-") << " "
                        << c.amount.to_string() << " sequence " << c.sequence_id << '\n';
              for (const auto& e : db.cases().events(c.id)) {
                std::cout << "  " << format_iso8601(e.at) << "  " << e.kind << ": " << e.detail
                          << '\n';
              }
            });
            std::cout << "simulated " << format_iso8601(*from) << " .. " << format_iso8601(*to)
                      << ": " << ticks << " ticks, " << payments << " payments, " << case_count
                      << " cases, " << steps << " steps, " << transport.sent()
                      << " messages recorded (none sent) in " << elapsed.count() << " ms\n";
            std::cout << "total cases " << case_count << '\n';
            for (const auto& [state, n] : by_state)
              std::cout << "total outcome " << state << " " << n << '\n';
            for (const auto& [id, seq] : per_sequence) {
              std::cout << "total sequence " << id << " cases " << seq.cases << " messages "
                        << seq.messages << " retries " << seq.retries;
              for (const auto& [state, n] : seq.states) std::cout << ' ' << state << ' ' << n;
              std::cout << '\n';
            }
            if (!opt->totals_only) {
              for (const auto& [customer, n] : messages_per_customer)
                std::cout << "customer " << customer << " messages " << n << '\n';
              for (const auto& [card, n] : retries_per_card)
                std::cout << "card " << card << " retries " << n << '\n';
            }
            if (keep) std::cout << "simulation database kept at " << copy.string() << '\n';
            return kExitOk;
          }};
}

}  // namespace dunning::app
