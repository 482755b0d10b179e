// Stripe webhooks: the signature scheme (checked on the raw bytes before any parsing) and the
// mapping of Stripe events to facts. Unknown event types map to no facts (acknowledged, ignored).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/result.hpp"
#include "dunning/ingest/event.hpp"

namespace dunning::ingest {

// Checks `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`: HMAC-SHA256 of "<t>.<body>" under
// any of `secrets` (several during a rotation) must equal one v1 (constant-time compares), and
// |now - t| <= tolerance. The error message says which check failed.
Status verify_stripe_signature(std::string_view header, std::string_view body,
                               const std::vector<std::string>& secrets, TimePoint now,
                               Seconds tolerance);

// The header value for `body` signed at `t` (for tests and tools).
std::string stripe_signature_header(std::string_view body, std::string_view secret, TimePoint t);

Parsed<Event> map_stripe_event(std::string_view body, TimePoint received_at);

}  // namespace dunning::ingest
