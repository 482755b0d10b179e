// Leadership: which of several `dunningd run` instances sharing one database is the poller (the
// one that runs the scheduler's tick: opens, advances and closes cases). Every instance
// dispatches; only the poller ticks. On PostgreSQL the role is a session-held advisory lock on a
// connection of its own, so it ends when its holder dies (the server drops the session) and
// another instance takes it at its next try. On SQLite there is one process: it always leads.
//
// Thread safety: one thread at a time (the daemon's worker). Never throws: a lost connection is
// "not leading", and the next try_lead() connects again.
#pragma once

#include <memory>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/core/result.hpp"

namespace dunning::store {

struct EngineOptions;

class Leadership {
 public:
  Leadership() = default;
  Leadership(const Leadership&) = delete;
  Leadership& operator=(const Leadership&) = delete;
  virtual ~Leadership() = default;

  // Takes the poller role when it is free, or checks that this instance still holds it; true
  // while this instance is the poller. Call it before every tick: the answer is only good
  // until the next call (a holder whose session was lost learns it here and steps down).
  virtual bool try_lead() = 0;
  // The answer of the last try_lead() (false before the first).
  virtual bool leading() const = 0;
  // The instance id of the poller ("host:pid"), "" when no instance holds the role or it cannot
  // be read right now.
  virtual std::string holder() = 0;
  // This instance's id, as holder() reports it.
  virtual const std::string& instance() const = 0;
};

// The election for the config's `database:` value. PostgreSQL: a dedicated session connection
// (opened here; an error names the server). `poll_interval` is the longest time between two
// try_lead() calls: a session silent for about three of them is ended by the server, which
// frees the role of an instance whose host vanished. SQLite: always the leader, but refuses (an
// Error saying so) when another `dunningd run` already holds the file's run lock
// (<file>.run.lock): several instances on one SQLite file are not supported.
Result<std::unique_ptr<Leadership>> open_leadership(const std::string& database,
                                                    const EngineOptions& options,
                                                    const std::string& instance_id,
                                                    Seconds poll_interval);

// "hostname:pid" of this process.
std::string this_instance_id();

}  // namespace dunning::store
