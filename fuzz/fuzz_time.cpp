// parse_iso8601 and format_iso8601: no undefined behaviour on any text (UBSan), everything
// accepted lies in the ISO range and survives format -> parse unchanged, and formatting any
// instant at all gives 20 characters that parse back.
#include <cstring>

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  auto text = fuzz::view(data, size);
  if (auto t = parse_iso8601(text)) {
    FUZZ_CHECK(*t >= kFirstIsoTime && *t <= kLastIsoTime, "parsed time out of range");
    auto back = parse_iso8601(format_iso8601(*t));
    FUZZ_CHECK(back && *back == *t, "format/parse round trip");
  }
  if (size >= 8) {
    long long raw = 0;
    std::memcpy(&raw, data, sizeof raw);
    const std::string s = format_iso8601(TimePoint(Seconds(raw)));
    FUZZ_CHECK(s.size() == 20 && parse_iso8601(s), "format_iso8601 of " + std::to_string(raw));
  }
  return 0;
}
