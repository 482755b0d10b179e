#include "store/decode.hpp"

namespace dunning::store {

TimePoint parse_time(const std::string& s, const char* what) {
  auto t = parse_iso8601(s);
  if (!t) throw StoreError(std::string("bad timestamp in ") + what + ": \"" + s + "\"");
  return *t;
}

std::optional<TimePoint> parse_opt_time(const std::optional<std::string>& s, const char* what) {
  if (!s || s->empty()) return std::nullopt;
  return parse_time(*s, what);
}

bool currency_code(std::string_view c) {
  auto upper = [](char ch) { return ch >= 'A' && ch <= 'Z'; };
  return c.size() == 3 && upper(c[0]) && upper(c[1]) && upper(c[2]);
}

Money money(std::int64_t minor, const std::string& currency, const char* what) {
  if (!currency_code(currency)) {
    throw StoreError(std::string("bad currency in ") + what + ": \"" + currency + "\"");
  }
  return Money(minor, currency);
}

std::string placeholders(int first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += (i ? ", ?" : "?") + std::to_string(first + static_cast<int>(i));
  }
  return out;
}

}  // namespace dunning::store
