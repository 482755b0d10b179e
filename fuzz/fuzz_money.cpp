// Money::parse as it stands (its rules are not changed here): no crash or undefined behaviour,
// and an accepted amount prints as text that parses back to the same amount.
#include "dunning/core/money.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  auto m = Money::parse(fuzz::view(data, size));
  if (m) {
    auto back = Money::parse(m.value().to_string());
    FUZZ_CHECK(back && back.value() == m.value(),
               "to_string/parse round trip: " + m.value().to_string());
    (void)m.value().major_string();
  }
  return 0;
}
