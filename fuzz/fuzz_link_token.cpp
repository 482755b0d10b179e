// Signed card-update link tokens: any text is verified without crashing, and a token made from
// claims taken out of the input verifies to exactly those claims.
#include <cstring>
#include <limits>

#include "dunning/core/signed_link.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  const std::string secret = "fuzz-link-secret";
  auto text = fuzz::view(data, size);
  (void)verify_link_token(text, secret, fuzz::now());
  (void)verify_link_token(text, secret, TimePoint{});
  (void)verify_link_token(text, "", fuzz::now());
  if (size >= 16) {
    LinkClaims c;
    std::int64_t id = 0, expires = 0;
    std::memcpy(&id, data, 8);
    std::memcpy(&expires, data + 8, 8);
    c.case_id = id;
    c.expires = TimePoint(Seconds(expires));
    c.customer_id = std::string(text.substr(16));
    const std::string token = make_link_token(c, secret);
    if (expires > std::numeric_limits<std::int64_t>::min()) {  // a second before it expires
      auto back = verify_link_token(token, secret, TimePoint(Seconds(expires - 1)));
      FUZZ_CHECK(back && back->case_id == c.case_id && back->customer_id == c.customer_id &&
                     back->expires == c.expires,
                 "make/verify round trip");
    }
    FUZZ_CHECK(!verify_link_token(token, "other-secret", TimePoint{}), "a wrong secret verified");
    (void)percent_encode(c.customer_id);
    (void)expand_link_pattern("https://x.example/u?c={customer}&k={case}", c.customer_id,
                              c.case_id);
  }
  return 0;
}
