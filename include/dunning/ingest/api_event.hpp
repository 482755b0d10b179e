// The JSON events of POST /v1/events (documented in docs/integration.md):
//   {"id": "evt_1", "type": "payment.failed", "occurred_at": "2026-11-22T10:00:00Z",
//    "data": {...}}
// with types payment.failed, payment.succeeded, payment_method.updated, customer.upserted,
// subscription.cancelled. Validation names the first offending field.
#pragma once

#include <string_view>

#include "dunning/ingest/event.hpp"

namespace dunning::ingest {

Result<Event> parse_api_event(std::string_view body, TimePoint received_at);

}  // namespace dunning::ingest
