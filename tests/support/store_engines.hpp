// The engines the store contract suite runs against, each on a fresh database in a TempDir.
// An engine joins the suite by adding a factory here; the suite only ever sees store::Engine
// and plain SQL that every engine accepts (the billing system's own writes).
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "dunning/store/engine.hpp"
#include "store/sqlite/sqlite.hpp"
#include "support/temp_dir.hpp"

namespace dunning::testing {

// An engine under test and a second connection standing in for the billing system.
struct EngineUnderTest {
  std::unique_ptr<store::Engine> engine;
  std::function<void(const std::string& sql)> billing_sql;
};

struct EngineFactory {
  std::string name;
  std::function<EngineUnderTest(const std::filesystem::path& dir)> make;
};

inline std::vector<EngineFactory> store_engines() {
  return {
      {"sqlite",
       [](const std::filesystem::path& dir) {
         const auto file = dir / "dunningd.db";
         auto opened = store::open_engine(file, store::OpenMode::kCreate);
         INFO((opened.ok() ? std::string() : opened.error().message));
         REQUIRE(opened.ok());
         auto billing = std::make_shared<store::sqlite::Db>(file.string(), false);
         return EngineUnderTest{std::move(opened).value(),
                                [billing](const std::string& sql) { billing->exec(sql); }};
       }},
  };
}

// Runs `body(engine, billing_sql)` once per engine, each in its own Catch section and database.
template <typename Body>
void on_every_engine(Body&& body) {
  for (const auto& factory : store_engines()) {
    DYNAMIC_SECTION("engine " << factory.name) {
      TempDir dir;
      auto e = factory.make(dir.path());
      body(*e.engine, e.billing_sql);
    }
  }
}

}  // namespace dunning::testing
