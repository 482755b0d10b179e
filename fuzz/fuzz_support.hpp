// Shared by the libFuzzer targets in fuzz/: splitting an input into fields, a fixed clock, a
// scratch folder per process, and FUZZ_CHECK, which aborts (a crash libFuzzer records) when an
// invariant of the code under test does not hold. The same sources build a replay binary with
// g++ (fuzz_replay) that ctest runs over fuzz/regressions/ and the seed corpora.
#pragma once

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"

#define FUZZ_CHECK(cond, what)                                                     \
  do {                                                                             \
    if (!(cond)) {                                                                 \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n", __FILE__, __LINE__, \
                   std::string(what).c_str());                                     \
      std::abort();                                                                \
    }                                                                              \
  } while (0)

namespace dunning::fuzz {

// 2026-11-22T10:00:00Z: every target runs at the same instant.
inline TimePoint now() { return TimePoint(Seconds(1795341600)); }

inline std::string_view view(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each `sep` into at most `n` fields (the last keeps the rest); missing
// fields are empty.
inline std::vector<std::string> split(std::string_view in, std::size_t n, char sep = '\0') {
  std::vector<std::string> out;
  while (out.size() + 1 < n) {
    auto cut = in.find(sep);
    if (cut == std::string_view::npos) break;
    out.emplace_back(in.substr(0, cut));
    in.remove_prefix(cut + 1);
  }
  out.emplace_back(in);
  out.resize(n);
  return out;
}

// Logging off (the code under test logs what it refuses) once per process.
inline void quiet() {
  static const bool done = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)done;
}

// A folder of this process's own, on tmpfs when there is one (SQLite's fsyncs cost nothing),
// removed at exit.
inline const std::filesystem::path& scratch() {
  // Never destroyed, so the exit handler can still read it.
  static const std::filesystem::path* dir = [] {
    std::filesystem::path base = std::filesystem::exists("/dev/shm")
                                     ? std::filesystem::path("/dev/shm")
                                     : std::filesystem::temp_directory_path();
    auto* d = new std::filesystem::path(base / ("dunning-fuzz-" + std::to_string(::getpid())));
    std::filesystem::create_directories(*d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch(), ec);
    });
    return d;
  }();
  return *dir;
}

inline void write_file(const std::filesystem::path& p, std::string_view text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

}  // namespace dunning::fuzz
