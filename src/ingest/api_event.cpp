#include "dunning/ingest/api_event.hpp"

#include "dunning/ingest/json_screen.hpp"
#include "ingest/json_fields.hpp"

namespace dunning::ingest {

using detail::Fields;
using nlohmann::json;

namespace {

Result<Fact> payment(Fields& d, store::PaymentStatus status, TimePoint at) {
  store::PaymentRow p;
  p.status = status;
  p.id = d.str("id", true).value_or("");
  p.customer_id = d.str("customer_id", true).value_or("");
  p.subscription_id = d.str("subscription_id", false);
  p.invoice_id = d.str("invoice_id", false);
  p.amount_minor = d.integer("amount_minor", true, 0, 1'000'000'000'000).value_or(0);
  p.currency = d.currency("currency", true).value_or("");
  if (status == store::PaymentStatus::kFailed) {
    p.decline_code = d.str("decline_code", false, 64);
    p.message = d.prose("message", false, 1000);
  }
  p.occurred_at = d.time("occurred_at", false).value_or(at);
  if (d.failed()) return d.error();
  return p;
}

Result<Fact> card(Fields& d, TimePoint at) {
  store::PaymentMethodRow m;
  m.id = d.str("id", true).value_or("");
  m.customer_id = d.str("customer_id", true).value_or("");
  m.brand = d.str("brand", false, 32);
  m.last4 = d.last4("last4", false);
  if (auto v = d.integer("exp_month", false, 1, 12)) m.exp_month = static_cast<int>(*v);
  if (auto v = d.integer("exp_year", false, 2000, 2200)) m.exp_year = static_cast<int>(*v);
  m.is_default = d.boolean("is_default").value_or(true);
  m.updated_at = d.time("updated_at", false).value_or(at);
  if (d.failed()) return d.error();
  return m;
}

Result<Fact> customer(Fields& d) {
  store::CustomerRow c;
  c.id = d.str("id", true).value_or("");
  c.email = d.str("email", false, 320);
  c.name = d.str("name", false, 200);
  c.locale = d.str("locale", false, 35);
  c.time_zone = d.str("time_zone", false, 64);
  if (c.time_zone && !c.time_zone->empty()) {
    // Checked by the rules at send time too; here only the shape.
    if (c.time_zone->find(' ') != std::string::npos) d.fail("time_zone", "must be an IANA name");
  }
  c.phone = d.str("phone", false, 32);
  c.created_at = d.time("created_at", false);
  if (d.failed()) return d.error();
  return c;
}

Result<Fact> cancelled(Fields& d, TimePoint at) {
  store::SubscriptionRow s;
  s.id = d.str("id", true).value_or("");
  s.customer_id = d.str("customer_id", true).value_or("");
  s.plan = d.str("plan", false, 100);
  s.amount_minor = d.integer("amount_minor", false, 0, 1'000'000'000'000);
  s.currency = d.currency("currency", false);
  s.interval = d.str("interval", false, 16);
  s.status = "cancelled";
  s.updated_at = d.time("cancelled_at", false).value_or(at);
  if (d.failed()) return d.error();
  return s;
}

}  // namespace

Result<Event> parse_api_event(std::string_view body, TimePoint received_at) {
  // Depth, control characters and card numbers are refused on the raw text, before parsing.
  if (auto problem = screen_json(body)) return *problem;
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return Error::invalid("is not valid JSON", "(body)");
  if (!doc.is_object()) return Error::invalid("must be a JSON object", "(body)");
  Fields top(doc, "");
  Event e;
  e.source = "api";
  e.received_at = received_at;
  e.payload = std::string(body);
  e.id = top.str("id", true).value_or("");
  e.type = top.str("type", true, 64).value_or("");
  auto at = top.time("occurred_at", false).value_or(received_at);
  if (top.failed()) return top.error();
  auto it = doc.find("data");
  if (it == doc.end() || it->is_null()) return Error::invalid("is required", "data");
  if (!it->is_object()) return Error::invalid("must be an object", "data");
  Fields d(*it, "data");
  Result<Fact> fact = Error::invalid("");
  if (e.type == "payment.failed") {
    fact = payment(d, store::PaymentStatus::kFailed, at);
  } else if (e.type == "payment.succeeded") {
    fact = payment(d, store::PaymentStatus::kSucceeded, at);
  } else if (e.type == "payment_method.updated") {
    fact = card(d, at);
  } else if (e.type == "customer.upserted") {
    fact = customer(d);
  } else if (e.type == "subscription.cancelled") {
    fact = cancelled(d, at);
  } else {
    return Error::invalid(
        "must be one of payment.failed, payment.succeeded, payment_method.updated, "
        "customer.upserted, subscription.cancelled",
        "type");
  }
  if (!fact) return fact.error();
  if (auto err = check_fact(fact.value(), "data.")) return *err;
  e.facts.push_back(std::move(fact).value());
  return e;
}

}  // namespace dunning::ingest
