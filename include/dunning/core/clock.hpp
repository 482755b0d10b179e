// Time inside dunningd is std::chrono::sys_seconds in UTC; time zones only at the edges.
// Decision code never reads the real clock: it is handed a Clock (or a time point).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace dunning {

using TimePoint = std::chrono::sys_seconds;
using Seconds = std::chrono::seconds;

// Every implementation is thread-safe.
class Clock {
 public:
  Clock() = default;
  Clock(const Clock&) = delete;
  Clock& operator=(const Clock&) = delete;
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};

// A clock that stands still at a fixed time (used by `run --now` and by tests).
class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : t_(t) {}
  TimePoint now() const override { return t_; }
  void set(TimePoint t) { t_ = t; }
  void advance(Seconds d) { t_ += d; }

 private:
  TimePoint t_;
};

// ISO 8601 UTC "2026-11-22T10:00:00Z". Parsing also accepts "+00:00" offsets, fractional
// seconds (dropped), a space instead of 'T', and a bare date (midnight UTC).
std::string format_iso8601(TimePoint t);
std::optional<TimePoint> parse_iso8601(std::string_view text);

// Durations as admins write them: "30m", "12h", "3d", "2w", "45s", "0h"; nullopt otherwise.
std::optional<Seconds> parse_duration(std::string_view text);
std::string format_duration(Seconds d);

}  // namespace dunning
