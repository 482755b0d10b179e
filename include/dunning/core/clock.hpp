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

// The instants dunningd can write as ISO 8601 (four-digit years): 0001-01-01T00:00:00Z ..
// 9999-12-31T23:59:59Z. Every stored timestamp lies in this range, so it always parses back.
inline constexpr TimePoint kFirstIsoTime{Seconds(-62135596800)};
inline constexpr TimePoint kLastIsoTime{Seconds(253402300799)};
// What a fact (a payment, a card change, a cancellation) may carry at a door: 1970-01-01 up to
// the end of 8999. The millennium above leaves room for every due time derived from a fact (a
// step is at most kMaxStepOffset after the opening, plus send windows and paydays), so no
// derived time can leave the ISO range.
inline constexpr TimePoint kFirstFactTime{Seconds(0)};
inline constexpr TimePoint kLastFactTime{Seconds(221845392000 - 1)};  // 8999-12-31T23:59:59Z
// The longest duration admins may write (100 years) and the latest a sequence step may be
// placed after its case opened (10 years).
inline constexpr Seconds kMaxDuration{100LL * 365 * 86400};
inline constexpr Seconds kMaxStepOffset{3650LL * 86400};

// ISO 8601 UTC "2026-11-22T10:00:00Z". Total: an instant outside [kFirstIsoTime, kLastIsoTime]
// is written as the nearer end of that range (the doors never accept one).
std::string format_iso8601(TimePoint t);
// Accepts exactly "YYYY-MM-DD" (midnight UTC) or "YYYY-MM-DD[T| ]hh:mm:ss[.f{1,9}][Z|±hh:mm|
// ±hhmm|±hh]" (no zone means UTC): years 0001-9999, real calendar dates, hours 00-23, minutes
// and seconds 00-59, offsets up to ±18:00. Fractional seconds are dropped. The result lies in
// [kFirstIsoTime, kLastIsoTime]; anything else is nullopt. The text is checked character by
// character before any arithmetic: nothing unchecked reaches a date library.
std::optional<TimePoint> parse_iso8601(std::string_view text);

// Durations as admins write them: "30m", "12h", "3d", "2w", "45s", "0h", at most kMaxDuration;
// nullopt otherwise (no sign, no spaces, no overflow).
std::optional<Seconds> parse_duration(std::string_view text);
std::string format_duration(Seconds d);

}  // namespace dunning
