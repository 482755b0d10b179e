// Internal to the dunningd executable: one file per subcommand (cmd_<name>.cpp). Each adds its
// CLI11 subcommand and returns the function that runs it once the command line is parsed.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/store/engine.hpp"

namespace dunning::app {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitConfig = 2;

// What every subcommand shares: the config file option.
struct Cli {
  std::string config_file = "/etc/dunningd/dunningd.yaml";
};

// A subcommand and what runs it once the command line is parsed.
struct Command {
  CLI::App* sub;
  std::function<int()> run;
};

// Adds `--config` to `sub`.
void add_config_option(CLI::App* sub, Cli& cli);
// Loads and validates; prints every error (file:line:col) to stderr and returns nullptr when
// invalid. `templates_override` replaces the configured templates folder.
std::shared_ptr<const config::Config> load_or_report(const std::string& file,
                                                     const std::string& templates_override = "");
// Opens the database; prints one line and returns nullptr on failure.
std::unique_ptr<store::Engine> open_store(const config::Config& cfg, store::OpenMode mode);
// Parses an optional ISO 8601 option value; throws CLI::ValidationError when malformed.
std::optional<TimePoint> parse_time_option(const std::string& value, const char* name);

// Refuses a reversed or empty period (--to not after --from); throws CLI::ValidationError.
void check_period(const std::optional<TimePoint>& from, const std::optional<TimePoint>& to);

// One per cmd_*.cpp.
Command add_run_command(CLI::App& app, Cli& cli);
Command add_check_command(CLI::App& app, Cli& cli);
Command add_migrate_command(CLI::App& app, Cli& cli);
Command add_report_command(CLI::App& app, Cli& cli);
Command add_cases_command(CLI::App& app, Cli& cli);
Command add_ledger_command(CLI::App& app, Cli& cli);
Command add_import_command(CLI::App& app, Cli& cli);
Command add_simulate_command(CLI::App& app, Cli& cli);
Command add_preview_command(CLI::App& app, Cli& cli);

}  // namespace dunning::app
