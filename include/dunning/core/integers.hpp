// One way to read an integer from text, for every door (URL paths and queries, CSV cells,
// signature headers, config values): the whole text is a decimal number — an optional '-' and
// digits, what std::from_chars reads; no '+', space, suffix or leading text — in [min, max].
// With min >= 0 no sign at all is accepted (not "-0"). Anything else, overflow included, is
// nullopt; the caller says what was expected.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace dunning {

std::optional<std::int64_t> parse_integer(
    std::string_view text, std::int64_t min = std::numeric_limits<std::int64_t>::min(),
    std::int64_t max = std::numeric_limits<std::int64_t>::max());

}  // namespace dunning
