#include "store/postgres/engine.hpp"

// `dunningd simulate` replays a disposable copy that it empties first; a shared PostgreSQL
// database is never that copy. Simulate stays with SQLite: export the PostgreSQL data into a
// SQLite file first (docs/instances.md), or run it on the SQLite database before moving.

namespace dunning::store::postgres {

namespace {

[[noreturn]] void unsupported() {
  throw StoreError(
      "simulate runs on a SQLite copy only, never on a shared PostgreSQL database "
      "(see docs/instances.md)");
}

}  // namespace

void PgSimulation::prepare() { unsupported(); }

int PgSimulation::release_payments(TimePoint) { unsupported(); }

}  // namespace dunning::store::postgres
