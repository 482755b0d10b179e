// dunningd: the command line. Each subcommand loads and validates the config first; expected
// failures print one line and exit non-zero, nothing here throws past main().
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "dunning/app/daemon.hpp"
#include "dunning/config/config.hpp"
#include "dunning/ledger/report.hpp"
#include "dunning/sender/smtp_transport.hpp"
#include "dunning/store/store.hpp"

namespace {

using namespace dunning;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("dunningd");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

// Loads and validates; prints every error (file:line:col) and returns nullptr when invalid.
std::shared_ptr<const config::Config> load_or_report(const std::string& file,
                                                     const std::string& templates_override = "") {
  auto all = config::load_config(
      file, templates_override.empty() ? std::nullopt
                                       : std::optional<std::filesystem::path>(templates_override));
  for (const auto& e : all.errors) std::cerr << e.to_string() << '\n';
  if (!all.ok()) return nullptr;
  return std::make_shared<const config::Config>(std::move(all.value));
}

std::unique_ptr<store::Store> open_store(const config::Config& cfg, store::Store::Mode mode) {
  auto s = store::Store::open(cfg.daemon.database, mode);
  if (!s) {
    std::cerr << "dunningd: " << s.error().message << '\n';
    return nullptr;
  }
  return std::move(s).value();
}

std::optional<TimePoint> parse_time_option(const std::string& value, const char* name) {
  if (value.empty()) return std::nullopt;
  auto t = parse_iso8601(value);
  if (!t) throw CLI::ValidationError(name, "not an ISO 8601 time: " + value);
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dunningd — self-hosted dunning and failed-payment recovery"};
  app.set_version_flag("--version", std::string("dunningd ") + DUNNINGD_VERSION);
  app.require_subcommand(1);
  std::string config_file = "/etc/dunningd/dunningd.yaml";

  auto* run = app.add_subcommand("run", "poll the payments database and send due messages");
  bool once = false;
  std::string now_text;
  run->add_option("-c,--config", config_file, "daemon config file")->capture_default_str();
  run->add_flag("--once", once, "do one full poll (read facts, queue and send due steps) and exit");
  run->add_option("--now", now_text, "with --once: act as if it were this UTC time (ISO 8601)");

  auto* check = app.add_subcommand("check", "validate the config, sequences and templates");
  std::string templates_dir;
  check->add_option("-c,--config", config_file, "daemon config file")->capture_default_str();
  check->add_option("--templates", templates_dir, "check against this templates folder instead");

  auto* report = app.add_subcommand("report", "print the recovery ledger");
  std::string format = "csv";
  std::string from_text;
  std::string to_text;
  report->add_option("-c,--config", config_file, "daemon config file")->capture_default_str();
  report->add_option("--format", format, "csv or json")
      ->check(CLI::IsMember({"csv", "json"}))
      ->capture_default_str();
  report->add_option("--from", from_text, "first day (inclusive, ISO 8601)");
  report->add_option("--to", to_text, "end (exclusive, ISO 8601)");

  auto* migrate = app.add_subcommand("migrate", "create or upgrade the database schema");
  migrate->add_option("-c,--config", config_file, "daemon config file")->capture_default_str();

  auto* cases = app.add_subcommand("cases", "list cases or show one case's timeline");
  std::string state;
  std::int64_t case_id = 0;
  cases->add_option("-c,--config", config_file, "daemon config file")->capture_default_str();
  cases->add_option("--state", state, "only cases in this state (open, recovered, lost, ...)");
  cases->add_option("--show", case_id, "print the timeline of this case");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  setup_logging("info");
  try {
    auto cfg = load_or_report(config_file, check->parsed() ? templates_dir : "");
    if (!cfg) {
      std::cerr << "dunningd: " << config_file << " is not valid (errors above)\n";
      return kExitConfig;
    }
    spdlog::set_level(spdlog::level::from_str(cfg->daemon.log_level));

    if (check->parsed()) {
      std::cout << config_file << ": OK (" << cfg->sequences.sequences.size() << " sequences)\n";
      return kExitOk;
    }
    auto mode = (run->parsed() || migrate->parsed()) ? store::Store::Mode::kCreate
                                                     : store::Store::Mode::kExisting;
    auto store = open_store(*cfg, mode);
    if (!store) return kExitFailure;

    if (migrate->parsed()) {
      std::cout << cfg->daemon.database.string() << ": schema version " << store->schema_version()
                << '\n';
      return kExitOk;
    }
    if (run->parsed()) {
      if (once) {
        std::unique_ptr<Clock> clock;
        if (auto now = parse_time_option(now_text, "--now")) {
          clock = std::make_unique<FixedClock>(*now);
        } else {
          clock = std::make_unique<SystemClock>();
        }
        sender::SmtpTransport email(cfg->daemon.smtp);
        auto r = app::poll_once(*store, *cfg, *clock, email);
        return r.ok ? kExitOk : kExitFailure;
      }
      if (!now_text.empty()) {
        std::cerr << "dunningd: --now only makes sense with --once\n";
        return kExitConfig;
      }
      SystemClock clock;
      return app::run_daemon(config_file, cfg, *store, clock);
    }
    if (report->parsed()) {
      auto from = parse_time_option(from_text, "--from");
      auto to = parse_time_option(to_text, "--to");
      if (format == "json") {
        (void)ledger::write_json(*store, from, to, std::cout);
      } else {
        (void)ledger::write_csv(*store, from, to, std::cout);
      }
      return kExitOk;
    }
    if (cases->parsed()) {
      if (case_id > 0) {
        auto c = store->get_case(case_id);
        if (!c) {
          std::cerr << "dunningd: no case " << case_id << '\n';
          return kExitFailure;
        }
        std::cout << "case " << c->id << ": " << store::to_string(c->state) << ", customer "
                  << c->customer_id << ", invoice " << c->invoice_id.value_or("-") << ", "
                  << c->amount.to_string() << ", sequence " << c->sequence_id << " ("
                  << c->sequence_hash << ")\n";
        if (c->next_due_at) {
          std::cout << "next step #" << c->next_step + 1 << " due " << format_iso8601(*c->next_due_at)
                    << '\n';
        }
        for (const auto& e : store->case_events(case_id)) {
          std::cout << "  " << format_iso8601(e.at) << "  " << e.kind << ": " << e.detail << '\n';
        }
        return kExitOk;
      }
      std::cout << "id,state,customer_id,invoice_id,amount_minor,currency,sequence_id,next_step,"
                   "next_due_at\n";
      for (const auto& c : store->list_cases(state, 100000)) {
        std::cout << c.id << ',' << store::to_string(c.state) << ',' << c.customer_id << ','
                  << c.invoice_id.value_or("") << ',' << c.amount.minor() << ','
                  << c.amount.currency() << ',' << c.sequence_id << ',' << c.next_step + 1 << ','
                  << (c.next_due_at ? format_iso8601(*c.next_due_at) : "") << '\n';
      }
      return kExitOk;
    }
  } catch (const CLI::Error& e) {
    std::cerr << "dunningd: " << e.what() << '\n';
    return kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "dunningd: " << e.what() << '\n';
    return kExitFailure;
  }
  return kExitOk;
}
