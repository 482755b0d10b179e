// The one boundary for work posted to asio (the io_context, the worker and API thread pools):
// an exception that reaches asio::thread_pool or io_context::run would std::terminate the daemon,
// so every posted job runs through run_guarded, which logs it and keeps the process alive.
#pragma once

#include <spdlog/spdlog.h>

#include <exception>
#include <string_view>
#include <utility>

namespace dunning {

// Runs `job`; true when it returned. An exception is logged as critical with `what` (the job's
// name) and swallowed: the caller decides what a failed job means (answer 500, count the poll as
// failed). Expected failures (a StoreError the job could retry) are the job's own to catch.
template <typename Job>
bool run_guarded(std::string_view what, Job&& job) noexcept {
  try {
    std::forward<Job>(job)();
    return true;
  } catch (const std::exception& e) {  // bad data or a bug: say so, keep the daemon alive
    try {
      spdlog::critical("{}: unexpected {}; abandoned, the daemon goes on", what, e.what());
    } catch (...) {
    }
  } catch (...) {
    try {
      spdlog::critical("{}: unexpected non-standard exception; abandoned, the daemon goes on",
                       what);
    } catch (...) {
    }
  }
  return false;
}

// `handler` wrapped so that it runs under run_guarded: for completion handlers given to asio
// (timers, signals, accepts), whose exceptions would otherwise escape io_context::run.
template <typename Handler>
auto guarded(std::string_view what, Handler handler) {
  return [what, handler = std::move(handler)](auto&&... args) mutable {
    run_guarded(what, [&] { handler(std::forward<decltype(args)>(args)...); });
  };
}

}  // namespace dunning
