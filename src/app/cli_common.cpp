#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
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

namespace {

// Before SQLite creates the database: its folder must exist (said in so many words, with the
// folder and the config that named it), and the file is created here, 0600 whatever the umask,
// because it holds customers' names and addresses. SQLite gives the -wal and -shm files it
// creates next to it the database file's permissions.
bool prepare_database_file(const config::Config& cfg) {
  namespace fs = std::filesystem;
  const fs::path& db = cfg.daemon.database;
  const fs::path dir = db.has_parent_path() ? db.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    std::cerr << "dunningd: cannot create the database " << db.string() << ": the directory "
              << dir.string() << " does not exist. Create it (mkdir -p " << dir.string()
              << ", writable by the user running dunningd; under systemd the unit's "
                 "StateDirectory= makes /var/lib/dunningd) or point 'database:' in "
              << cfg.daemon.file.string() << " elsewhere\n";
    return false;
  }
  const int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)::fchmod(fd, 0600);  // the umask may have taken bits away
    ::close(fd);
  } else if (errno != EEXIST) {
    std::cerr << "dunningd: cannot create the database " << db.string() << ": "
              << std::strerror(errno) << '\n';
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<store::Engine> open_store(const config::Config& cfg, store::OpenMode mode) {
  // The file checks are SQLite's; a PostgreSQL database is the server's to create.
  if (mode == store::OpenMode::kCreate && !store::is_postgres(cfg.daemon.database.string()) &&
      !prepare_database_file(cfg))
    return nullptr;
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

void check_period(const std::optional<TimePoint>& from, const std::optional<TimePoint>& to) {
  if (from && to && *to <= *from) {
    throw CLI::ValidationError("--to", "must be after --from (" + format_iso8601(*from) + " .. " +
                                           format_iso8601(*to) + " is empty or reversed)");
  }
}

}  // namespace dunning::app
