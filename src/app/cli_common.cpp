#include <iostream>

#include "app/commands.hpp"
#include "dunning/app/database.hpp"

namespace dunning::app {

void add_config_option(CLI::App* sub, Cli& cli) {
  sub->add_option("-c,--config", cli.config_file, "daemon config file")->capture_default_str();
}

std::shared_ptr<const config::Config> load_or_report(const std::string& file,
                                                     const std::string& templates_override) {
  auto all = config::load_config(
      file, templates_override.empty() ? std::nullopt
                                       : std::optional<std::filesystem::path>(templates_override));
  for (const auto& e : all.errors) std::cerr << e.to_string() << '\n';
  if (!all.ok()) {
    std::cerr << "dunningd: " << file << " is not valid (errors above)\n";
    return nullptr;
  }
  return std::make_shared<const config::Config>(std::move(all.value));
}

std::unique_ptr<store::Engine> open_store(const config::Config& cfg, store::OpenMode mode) {
  auto s = open_database(cfg.daemon, mode);
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

}  // namespace dunning::app
