// Builders for tests: sequences.yaml text loaded through the real loader (so a test's sequence
// is exactly what an admin could write), and ISO 8601 time points.
#pragma once

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"

namespace dunning::testing {

inline TimePoint at(const char* iso) {
  auto t = parse_iso8601(iso);
  REQUIRE(t);
  return *t;
}

inline config::Loaded<config::Sequences> load_sequences_yaml(const std::string& yaml) {
  static int n = 0;
  auto path = std::filesystem::temp_directory_path() /
              ("dunning-seq-" + std::to_string(::getpid()) + "-" + std::to_string(++n) + ".yaml");
  std::ofstream(path) << yaml;
  auto loaded = config::load_sequences(path);
  std::filesystem::remove(path);
  return loaded;
}

// The sequences of `yaml`; fails the test (printing every error) when they do not load.
inline config::Sequences sequences_from(const std::string& yaml) {
  auto loaded = load_sequences_yaml(yaml);
  std::string all;
  for (const auto& e : loaded.errors) all += e.to_string() + "\n";
  INFO(all);
  REQUIRE(loaded.ok());
  return loaded.value;
}

}  // namespace dunning::testing
