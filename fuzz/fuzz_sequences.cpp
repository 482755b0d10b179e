// sequences.yaml: load_sequences reports mistakes with a line and column and never crashes; an
// accepted step is never placed more than kMaxStepOffset after the opening.
#include "dunning/config/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  fuzz::quiet();
  const auto file = fuzz::scratch() / "sequences.yaml";
  fuzz::write_file(file, fuzz::view(data, size));
  auto loaded = config::load_sequences(file);
  for (const auto& e : loaded.errors) (void)e.to_string();
  if (loaded.ok()) {
    for (const auto& s : loaded.value.sequences) {
      for (const auto& step : s.steps) {
        FUZZ_CHECK(step.at >= Seconds(0) && step.at <= kMaxStepOffset, "step offset unbounded");
        (void)(kLastFactTime + step.at);  // never overflows: both are bounded
      }
    }
  }
  return 0;
}
