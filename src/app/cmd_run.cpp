#include <spdlog/spdlog.h>

#include <iostream>

#include "app/commands.hpp"
#include "dunning/app/daemon.hpp"
#include "dunning/app/logging.hpp"
#include "dunning/app/poller.hpp"
#include "dunning/config/secrets.hpp"

namespace dunning::app {

Command add_run_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("run", "poll the payments database and send due messages");
  add_config_option(sub, cli);
  struct Options {
    bool once = false;
    std::string now;
  };
  auto opt = std::make_shared<Options>();
  sub->add_flag("--once", opt->once,
                "do one full poll (read facts, queue and send due steps) and exit");
  sub->add_option("--now", opt->now, "with --once: act as if it were this UTC time (ISO 8601)");
  return {sub, [&cli, opt]() -> int {
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            setup_logging({cfg->daemon.log_format == "json" ? LogFormat::kJson : LogFormat::kText,
                           !cfg->daemon.log_customer_emails, cfg->daemon.log_level});
            // Said once, at start-up: what each missing secret turns off.
            for (const auto& e : config::missing_secrets(cfg->daemon, !opt->once)) {
              if (e.warning) {
                spdlog::warn("{}", e.message);
              } else {
                spdlog::error("{}", e.message);
              }
            }
            auto store = open_store(*cfg, store::OpenMode::kCreate);
            if (!store) return kExitFailure;
            if (opt->once) {
              std::unique_ptr<Clock> clock;
              if (auto now = parse_time_option(opt->now, "--now")) {
                clock = std::make_unique<FixedClock>(*now);
              } else {
                clock = std::make_unique<SystemClock>();
              }
              Poller poller(*store, cfg, *clock, real_channels(cfg->daemon),
                            link_secret_of(cfg->daemon));
              const auto r = poller.drain();
              // The poll logs what it did; an idle one says so too, so a --once never ends
              // silently.
              if (r.ok && !r.tick.any() && !r.dispatch.any()) {
                std::cout << "poll at " << format_iso8601(clock->now())
                          << ": nothing was due (no new payments, no step to send)\n";
              }
              return r.ok ? kExitOk : kExitFailure;
            }
            if (!opt->now.empty()) {
              std::cerr << "dunningd: --now only makes sense with --once\n";
              return kExitConfig;
            }
            SystemClock clock;
            return run_daemon(cli.config_file, cfg, *store, clock);
          }};
}

}  // namespace dunning::app
