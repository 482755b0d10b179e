#include "dunning/core/integers.hpp"

#include <charconv>
#include <system_error>

namespace dunning {

std::optional<std::int64_t> parse_integer(std::string_view text, std::int64_t min,
                                          std::int64_t max) {
  if (min >= 0 && !text.empty() && text.front() == '-') return std::nullopt;  // not even "-0"
  std::int64_t n = 0;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, n);
  if (text.empty() || ec != std::errc() || p != end || n < min || n > max) return std::nullopt;
  return n;
}

}  // namespace dunning
