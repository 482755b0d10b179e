// `dunningd simulate` replays the payments of a copy of the database in time order against the
// current sequences. Only ever used on a copy (see snapshot_database in engine.hpp): preparing
// empties dunningd's own tables.
// One instance per connection, not thread-safe. Throws StoreError only.
#pragma once

#include "dunning/core/clock.hpp"

namespace dunning::store {

class Simulation {
 public:
  Simulation() = default;
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;
  virtual ~Simulation() = default;

  // Empties dunningd's own tables and the change feeds, and stages every payment so that
  // release_payments can replay them in occurred_at order. Runs its own transaction and gives
  // up durability for this connection (a copy is disposable). REQUIRES: no Tx is open.
  virtual void prepare() = 0;
  // Appends the staged payments with occurred_at <= `until` to the feed; returns how many.
  // REQUIRES: prepare() was called, and the caller holds a Tx.
  virtual int release_payments(TimePoint until) = 0;
};

}  // namespace dunning::store
