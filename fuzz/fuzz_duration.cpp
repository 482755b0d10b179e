// parse_duration: no signed overflow (UBSan), at most kMaxDuration, and format -> parse gives the
// same length back.
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  if (auto d = parse_duration(fuzz::view(data, size))) {
    FUZZ_CHECK(d->count() >= 0 && *d <= kMaxDuration, "duration out of range");
    auto back = parse_duration(format_duration(*d));
    FUZZ_CHECK(back && *back == *d, "format/parse round trip");
  }
  return 0;
}
