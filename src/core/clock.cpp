#include "dunning/core/clock.hpp"

#include <date/date.h>

#include <cctype>
#include <charconv>
#include <sstream>

namespace dunning {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
}

std::string format_iso8601(TimePoint t) { return date::format("%Y-%m-%dT%H:%M:%SZ", t); }

std::optional<TimePoint> parse_iso8601(std::string_view text) {
  std::string s(text);
  if (s.size() == 10) s += "T00:00:00Z";
  if (s.size() > 10 && s[10] == ' ') s[10] = 'T';
  // Drop fractional seconds: "...:SS.123Z" → "...:SSZ".
  if (s.size() > 19 && s[19] == '.') {
    std::size_t end = 20;
    while (end < s.size() && std::isdigit(static_cast<unsigned char>(s[end]))) ++end;
    s.erase(19, end - 19);
  }
  if (s.size() == 19) s += 'Z';
  std::istringstream in(s);
  date::sys_seconds tp;
  if (s.size() == 20 && s.back() == 'Z') {
    in >> date::parse("%Y-%m-%dT%H:%M:%SZ", tp);
  } else {
    in >> date::parse("%Y-%m-%dT%H:%M:%S%Ez", tp);
  }
  if (in.fail()) return std::nullopt;
  in.peek();
  if (!in.eof()) return std::nullopt;
  return tp;
}

std::optional<Seconds> parse_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  char unit = text.back();
  std::string_view number = text.substr(0, text.size() - 1);
  long long n = 0;
  auto [p, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
  if (ec != std::errc{} || p != number.data() + number.size() || n < 0) return std::nullopt;
  switch (unit) {
    case 's':
      return Seconds(n);
    case 'm':
      return Seconds(n * 60);
    case 'h':
      return Seconds(n * 3600);
    case 'd':
      return Seconds(n * 86400);
    case 'w':
      return Seconds(n * 7 * 86400);
    default:
      return std::nullopt;
  }
}

std::string format_duration(Seconds d) {
  long long s = d.count();
  if (s != 0 && s % (7 * 86400) == 0) return std::to_string(s / (7 * 86400)) + "w";
  if (s != 0 && s % 86400 == 0) return std::to_string(s / 86400) + "d";
  if (s != 0 && s % 3600 == 0) return std::to_string(s / 3600) + "h";
  if (s != 0 && s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}

}  // namespace dunning
