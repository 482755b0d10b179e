// A migrated SQLite engine on a file, for the tests of what only the SQLite engine does.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <string>

#include "store/sqlite/engine.hpp"

namespace dunning::testing {

inline std::unique_ptr<store::sqlite::SqliteEngine> open_sqlite_file(
    const std::filesystem::path& file) {
  auto opened = store::sqlite::open_sqlite(file, store::OpenMode::kCreate);
  INFO((opened.ok() ? std::string() : opened.error().message));
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

}  // namespace dunning::testing
