#include "dunning/core/clock.hpp"

#include <date/date.h>

#include <algorithm>
#include <charconv>
#include <cstdint>

#include "dunning/core/integers.hpp"

namespace dunning {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Seconds>(std::chrono::system_clock::now());
}

std::string format_iso8601(TimePoint t) {
  // date::format would overflow its year arithmetic far outside this range, and a five-digit
  // year could never be parsed back.
  t = std::clamp(t, kFirstIsoTime, kLastIsoTime);
  // Written by hand: every row the store writes carries a time, and date::format builds an
  // ostringstream (and its locale) for each one.
  const auto day = date::floor<date::days>(t);
  const date::year_month_day ymd{day};
  const date::hh_mm_ss<Seconds> hms{t - day};
  char buf[21];
  auto put = [&buf](int at, unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10)
      buf[at + i] = static_cast<char>('0' + value % 10);
  };
  put(0, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
  buf[4] = '-';
  put(5, static_cast<unsigned>(ymd.month()), 2);
  buf[7] = '-';
  put(8, static_cast<unsigned>(ymd.day()), 2);
  buf[10] = 'T';
  put(11, static_cast<unsigned>(hms.hours().count()), 2);
  buf[13] = ':';
  put(14, static_cast<unsigned>(hms.minutes().count()), 2);
  buf[16] = ':';
  put(17, static_cast<unsigned>(hms.seconds().count()), 2);
  buf[19] = 'Z';
  return std::string(buf, 20);
}

namespace {

bool digit(char c) { return c >= '0' && c <= '9'; }

// The decimal value of text[pos, pos+n) when all n characters are digits.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!digit(text[i])) return std::nullopt;
    v = v * 10 + (text[i] - '0');
  }
  return v;
}

}  // namespace

std::optional<TimePoint> parse_iso8601(std::string_view text) {
  // Date: YYYY-MM-DD, checked before any calendar arithmetic.
  auto y = digits(text, 0, 4);
  auto mo = digits(text, 5, 2);
  auto d = digits(text, 8, 2);
  if (!y || !mo || !d || text[4] != '-' || text[7] != '-' || *y == 0) return std::nullopt;
  date::year_month_day ymd{date::year{*y}, date::month{static_cast<unsigned>(*mo)},
                           date::day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;
  std::int64_t seconds = date::sys_days(ymd).time_since_epoch().count() * std::int64_t{86400};
  if (text.size() == 10) return TimePoint(Seconds(seconds));

  // Time: [T| ]hh:mm:ss
  if (text[10] != 'T' && text[10] != ' ') return std::nullopt;
  auto h = digits(text, 11, 2);
  auto mi = digits(text, 14, 2);
  auto s = digits(text, 17, 2);
  if (!h || !mi || !s || text[13] != ':' || text[16] != ':') return std::nullopt;
  if (*h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  seconds += *h * 3600 + *mi * 60 + *s;

  // Fractional seconds: 1-9 digits, dropped.
  std::size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    std::size_t start = ++i;
    while (i < text.size() && digit(text[i])) ++i;
    if (i == start || i - start > 9) return std::nullopt;
  }

  // Zone: none (UTC), Z, or ±hh[:mm] / ±hhmm up to 18:00.
  std::string_view zone = text.substr(i);
  if (zone == "Z" || zone.empty()) {
    // UTC
  } else if (zone[0] == '+' || zone[0] == '-') {
    auto oh = digits(zone, 1, 2);
    std::optional<int> om = 0;
    if (zone.size() == 6 && zone[3] == ':') {
      om = digits(zone, 4, 2);
    } else if (zone.size() == 5) {
      om = digits(zone, 3, 2);
    } else if (zone.size() != 3) {
      return std::nullopt;
    }
    if (!oh || !om || *om > 59 || *oh * 60 + *om > 18 * 60) return std::nullopt;
    const int offset = (*oh * 3600 + *om * 60) * (zone[0] == '-' ? -1 : 1);
    seconds -= offset;
  } else {
    return std::nullopt;
  }
  TimePoint t{Seconds(seconds)};
  if (t < kFirstIsoTime || t > kLastIsoTime) return std::nullopt;
  return t;
}

std::optional<Seconds> parse_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  char unit = text.back();
  std::string_view number = text.substr(0, text.size() - 1);
  const auto parsed = parse_integer(number, 0);
  if (!parsed) return std::nullopt;
  const long long n = *parsed;
  long long per = 0;
  switch (unit) {
    case 's':
      per = 1;
      break;
    case 'm':
      per = 60;
      break;
    case 'h':
      per = 3600;
      break;
    case 'd':
      per = 86400;
      break;
    case 'w':
      per = 7 * 86400;
      break;
    default:
      return std::nullopt;
  }
  // Compared before multiplying: no overflow for any number that fits in a long long.
  if (n > kMaxDuration.count() / per) return std::nullopt;
  return Seconds(n * per);
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
