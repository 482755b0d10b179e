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

// Maps an event to facts. Used: invoice.payment_failed, invoice.paid, invoice.payment_succeeded,
// payment_intent.payment_failed, charge.failed, charge.refunded, invoice_payment.paid,
// payment_method.attached / .automatically_updated, customer.created / .updated,
// customer.subscription.deleted; any other type maps to no facts. Both shapes of the invoice are
// read: `subscription`, `payment_intent` and `charge` on it (API versions before 2025-03-31) and
// `parent.subscription_details.subscription` / `payments` (2025-03-31.basil and later).
Result<Event> map_stripe_event(std::string_view body, TimePoint received_at);

// How many decimals Stripe's API uses for amounts in `currency` (upper case): 0 for its
// zero-decimal currencies, 3 for its three-decimal ones, 2 for every other one — ISK included,
// which Stripe keeps at two decimals for backwards compatibility although it charges whole krónur.
int stripe_decimals(std::string_view currency);
// A Stripe amount in ISO 4217 minor units (core/iso4217): ISK 50000 from Stripe is ISK 500,
// MGA 500 from Stripe is 50000 minor units. An error when `currency` is not ISO 4217 or the amount
// has a fraction the ISO 4217 unit cannot hold (ISK 12345 from Stripe: 123.45 krónur).
Result<std::int64_t> stripe_amount_to_minor(std::int64_t amount, std::string_view currency);

// Writes what a Stripe signal says, put together with what earlier events of the same attempt
// said (any order): the failed payments row of invoice.payment_failed carries the decline code
// that payment_intent.payment_failed or charge.failed gave, whichever came first; a decline that
// comes after its payments row fills it in (or the case it opened); a succeeded invoice is a
// succeeded row; a refund of an invoice's charge is a `refunded` row of the amount refunded by
// that event. True when a payments row was written or completed.
// REQUIRES: the caller's Tx (like every FactsWriter write).
bool apply_stripe(store::FactsWriter& facts, const StripeSignal& s);

}  // namespace dunning::ingest
