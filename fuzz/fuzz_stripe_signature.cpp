// The Stripe-Signature header, checked before authentication: "<header>\n<body>". No overflow or
// crash for any header; a header made by stripe_signature_header for the body verifies.
#include "dunning/ingest/stripe.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  auto parts = fuzz::split(fuzz::view(data, size), 2, '\n');
  const std::vector<std::string> secrets{"whsec_new", "whsec_old"};
  (void)ingest::verify_stripe_signature(parts[0], parts[1], secrets, fuzz::now(), Seconds(300));
  (void)ingest::verify_stripe_signature(parts[0], parts[1], {}, fuzz::now(), Seconds(300));
  const auto good = ingest::stripe_signature_header(parts[1], "whsec_old", fuzz::now());
  FUZZ_CHECK(ingest::verify_stripe_signature(good, parts[1], secrets, fuzz::now(), Seconds(300)),
             "a good signature was refused");
  return 0;
}
