// Stripe webhook bodies (as if validly signed): map_stripe_event never crashes, recurses or
// overflows, and what it accepts is clean (see fact_checks.hpp).
#include "dunning/ingest/stripe.hpp"
#include "fact_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  fuzz::check_accepted(ingest::map_stripe_event(fuzz::view(data, size), fuzz::now()));
  return 0;
}
