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

// Percent-encodes every byte but the unreserved ones (ALPHA DIGIT - . _ ~), RFC 3986.
std::string percent_encode(std::string_view bytes);

// A URL pattern from the config with {customer} and {case} replaced by their percent-encoded
// values, so no id can end the URL, add a query parameter or start a header line.
std::string expand_link_pattern(std::string pattern, std::string_view customer_id,
                                std::int64_t case_id);

}  // namespace dunning
