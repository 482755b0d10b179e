// Signed tokens for the card-update link in messages: HMAC-SHA256 over customer, case and expiry,
// so the click redirect (GET /r/{token}) can trust them without a database lookup.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dunning/core/clock.hpp"

namespace dunning {

struct LinkClaims {
  std::string customer_id;
  std::int64_t case_id = 0;
  TimePoint expires;
};

// URL-safe token "<case>.<expires unix>.<hex customer id>.<hmac hex>".
// REQUIRES: secret is not empty.
std::string make_link_token(const LinkClaims& claims, std::string_view secret);

// The claims when the signature is valid and the token has not expired at `now`; nullopt
// otherwise (compares signatures in constant time).
std::optional<LinkClaims> verify_link_token(std::string_view token, std::string_view secret,
                                            TimePoint now);

}  // namespace dunning
