#include "dunning/store/leadership.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "dunning/store/engine.hpp"
#include "store/sqlite/engine.hpp"

// One process per SQLite file. Two `dunningd run` on one file would both tick: SQLite's locking
// keeps each statement whole, but nothing elects one poller, and a second daemon is also a
// second set of timers racing for the same write lock. So the first holds an exclusive lock on
// "<file>.run.lock" for its life and the second refuses to start, saying who holds it.

namespace dunning::store::sqlite {

namespace {

class SqliteLeadership final : public Leadership {
 public:
  SqliteLeadership(int fd, std::string instance) : fd_(fd), instance_(std::move(instance)) {}
  ~SqliteLeadership() override { ::close(fd_); }  // the kernel drops the lock with the fd

  bool try_lead() override { return true; }
  bool leading() const override { return true; }
  std::string holder() override { return instance_; }
  const std::string& instance() const override { return instance_; }

 private:
  int fd_;
  std::string instance_;
};

}  // namespace

Result<std::unique_ptr<Leadership>> open_sqlite_leadership(const std::filesystem::path& db_file,
                                                           const std::string& instance_id) {
  const std::string lock_file = db_file.string() + ".run.lock";
  const int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) {
    return Error::unavailable("cannot open " + lock_file + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char holder[256] = {};
    const auto n = ::pread(fd, holder, sizeof holder - 1, 0);
    ::close(fd);
    const std::string who = n > 0 ? std::string(holder, static_cast<std::size_t>(n)) : "?";
    return Error::conflict("database " + db_file.string() +
                           " is in use by another `dunningd run` (" + who +
                           "): one SQLite file serves one daemon; several instances need "
                           "PostgreSQL (see docs/instances.md)");
  }
  // Who holds it, for the message above (the lock itself is what counts).
  if (::ftruncate(fd, 0) == 0) {
    const auto written = ::pwrite(fd, instance_id.data(), instance_id.size(), 0);
    static_cast<void>(written);
  }
  return std::unique_ptr<Leadership>(std::make_unique<SqliteLeadership>(fd, instance_id));
}

}  // namespace dunning::store::sqlite
