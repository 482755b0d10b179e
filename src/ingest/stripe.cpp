#include "dunning/ingest/stripe.hpp"

#include <charconv>

#include "dunning/core/crypto.hpp"
#include "dunning/core/integers.hpp"
#include "dunning/core/money.hpp"
#include "dunning/ingest/json_screen.hpp"
#include "ingest/json_fields.hpp"

namespace dunning::ingest {

using nlohmann::json;
using store::PaymentStatus;

Status verify_stripe_signature(std::string_view header, std::string_view body,
                               const std::vector<std::string>& secrets, TimePoint now,
                               Seconds tolerance) {
  if (secrets.empty()) return Error::denied("no Stripe webhook secret is configured");
  std::optional<std::int64_t> t;
  std::vector<std::string_view> v1s;
  while (!header.empty()) {
    auto comma = header.find(',');
    auto item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    auto key = item.substr(0, eq);
    auto value = item.substr(eq + 1);
    if (key == "t") {
      // Unix seconds of a real signing time: no sign, at most year 9999, so the age below
      // cannot overflow.
      const auto n = parse_integer(value, 0, kLastIsoTime.time_since_epoch().count());
      if (!n) {
        return Error::invalid("Stripe-Signature has an unreadable timestamp");
      }
      t = n;
    } else if (key == "v1") {
      v1s.push_back(value);
    }
  }
  if (!t) return Error::invalid("Stripe-Signature has no timestamp (t=)");
  if (v1s.empty()) return Error::invalid("Stripe-Signature has no v1 signature");
  const auto age = std::chrono::abs(now - TimePoint(Seconds(*t)));
  if (age > tolerance) {
    return Error::denied("Stripe-Signature timestamp is outside the tolerance");
  }
  std::string signed_payload = std::to_string(*t) + "." + std::string(body);
  bool match = false;
  for (const auto& secret : secrets) {
    auto expected = hmac_sha256_hex(secret, signed_payload);
    // Every candidate is compared, in constant time, without stopping at the first match.
    for (auto v : v1s) match = constant_time_equal(expected, v) || match;
  }
  if (!match) return Error::denied("Stripe-Signature does not match");
  return Status::success();
}

std::string stripe_signature_header(std::string_view body, std::string_view secret, TimePoint t) {
  auto ts = std::to_string(t.time_since_epoch().count());
  return "t=" + ts + ",v1=" + hmac_sha256_hex(secret, ts + "." + std::string(body));
}

namespace {

// A field that is either an id string or an expanded object with an "id".
std::optional<std::string> id_of(const json& obj, const char* field) {
  auto it = obj.find(field);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto id = it->find("id");
    if (id != it->end() && id->is_string()) return id->get<std::string>();
  }
  return std::nullopt;
}

std::optional<std::string> str_at(const json& obj, std::initializer_list<const char*> path) {
  const json* cur = &obj;
  for (const char* key : path) {
    if (!cur->is_object()) return std::nullopt;
    auto it = cur->find(key);
    if (it == cur->end()) return std::nullopt;
    cur = &*it;
  }
  if (cur->is_string() && !cur->get_ref<const std::string&>().empty())
    return cur->get<std::string>();
  return std::nullopt;
}

bool generic_decline(const std::optional<std::string>& code) {
  return code && (*code == "card_declined" || *code == "generic_decline");
}

// The most specific of the codes Stripe gives for a failure, in this order: the issuer's
// decline code (payment intent), the charge's outcome reason, then the error or failure code.
// "card_declined" / "generic_decline" say less than any other: kept only as a last resort.
// The case event of a decline code that reached an open case after the case opened.
std::string late_decline_why(const std::string& code, const std::string& payment_id) {
  return "decline code '" + code + "' of payment " + payment_id +
         " arrived after the case opened (Stripe sent the payment intent's or charge's failure "
         "after the invoice's)";
}

std::optional<std::string> best_code(std::initializer_list<std::optional<std::string>> codes) {
  std::optional<std::string> fallback;
  for (const auto& c : codes) {
    if (!c) continue;
    if (!generic_decline(c)) return c;
    if (!fallback) fallback = c;
  }
  return fallback;
}

// Decline code and message of a payment intent's last error and of a charge's failure.
void decline_of_intent(const json& pi, std::optional<std::string>& code,
                       std::optional<std::string>& message) {
  code = best_code({str_at(pi, {"last_payment_error", "decline_code"}),
                    str_at(pi, {"last_payment_error", "code"})});
  message = str_at(pi, {"last_payment_error", "message"});
}

void decline_of_charge(const json& ch, std::optional<std::string>& code,
                       std::optional<std::string>& message) {
  code = best_code({str_at(ch, {"outcome", "reason"}), str_at(ch, {"failure_code"})});
  message = str_at(ch, {"failure_message"});
}

// An id (string or expanded object) at a path of nested objects.
std::optional<std::string> id_at(const json& obj, std::initializer_list<const char*> path,
                                 const char* field) {
  const json* cur = &obj;
  for (const char* key : path) {
    if (!cur->is_object()) return std::nullopt;
    auto it = cur->find(key);
    if (it == cur->end()) return std::nullopt;
    cur = &*it;
  }
  if (!cur->is_object()) return std::nullopt;
  return id_of(*cur, field);
}

// The amount at `field` in ISO 4217 minor units of `currency`, or an error naming the field.
std::optional<std::int64_t> amount_of(detail::Fields& f, const char* field, bool required,
                                      const std::string& currency) {
  auto raw = f.integer(field, required, 0, 1'000'000'000'000);
  if (!raw || currency.empty()) return std::nullopt;
  auto minor = stripe_amount_to_minor(*raw, currency);
  if (!minor) {
    f.fail(field, minor.error().message);
    return std::nullopt;
  }
  return *minor;
}

// An invoice.payment_failed (kInvoiceFailed) or invoice.paid (kInvoicePaid) object.
Result<std::vector<Fact>> invoice_facts(const json& inv, StripeSignal::Kind kind, TimePoint at) {
  detail::Fields f(inv, "data.object");
  StripeSignal s;
  s.kind = kind;
  s.invoice_id = f.str("id", true);
  s.customer_id = id_of(inv, "customer").value_or("");
  if (s.customer_id.empty() && inv.contains("customer") && !inv["customer"].is_null()) {
    f.fail("customer", "must be a customer id or a customer object");
  } else if (s.customer_id.empty()) {
    f.fail("customer", "is required");
  }
  s.currency = f.currency("currency", true).value_or("");
  // Subscription: on the invoice (API versions before 2025-03-31.basil) or under its parent.
  s.subscription_id = id_of(inv, "subscription");
  if (!s.subscription_id) {
    s.subscription_id = id_at(inv, {"parent", "subscription_details"}, "subscription");
  }
  // Payment intent and charge: ids or expanded objects on older versions; on basil only through
  // `payments` (InvoicePayment objects), when the event includes them.
  s.payment_intent_id = id_of(inv, "payment_intent");
  s.charge_id = id_of(inv, "charge");
  if (auto payments = inv.find("payments"); payments != inv.end() && payments->is_object()) {
    auto data = payments->find("data");
    if (data != payments->end() && data->is_array()) {
      for (const auto& ip : *data) {  // newest first, as Stripe lists them
        if (!ip.is_object()) continue;
        if (!s.payment_intent_id) s.payment_intent_id = id_at(ip, {"payment"}, "payment_intent");
        if (!s.charge_id) s.charge_id = id_at(ip, {"payment"}, "charge");
        break;
      }
    }
  }
  if (inv.contains("attempt_count") && inv["attempt_count"].is_number_integer())
    s.attempt_count = inv["attempt_count"].get<std::int64_t>();
  if (kind == StripeSignal::Kind::kInvoiceFailed) {
    s.amount_minor = amount_of(f, "amount_due", true, s.currency).value_or(0);
    // Expanded objects (a webhook never sends them, an API fetch may) carry the decline inline.
    if (auto pi = inv.find("payment_intent"); pi != inv.end() && pi->is_object())
      decline_of_intent(*pi, s.decline_code, s.message);
    if (auto ch = inv.find("charge"); ch != inv.end() && ch->is_object()) {
      std::optional<std::string> code, message;
      decline_of_charge(*ch, code, message);
      s.decline_code = best_code({s.decline_code, code});
      if (!s.message) s.message = message;
    }
    s.occurred_at = at;
  } else {
    s.amount_minor = amount_of(f, "amount_paid", true, s.currency).value_or(0);
    if (s.amount_minor == 0)
      s.amount_minor = amount_of(f, "amount_due", false, s.currency).value_or(0);
    s.occurred_at = at;
    if (auto st = inv.find("status_transitions"); st != inv.end() && st->is_object()) {
      detail::Fields transitions(*st, "data.object.status_transitions");  // range-checked
      if (auto paid = transitions.time("paid_at", false)) s.occurred_at = *paid;
      if (transitions.failed()) return transitions.error();
    }
  }
  if (f.failed()) return f.error();
  return std::vector<Fact>{Fact{std::move(s)}};
}

// payment_intent.payment_failed / charge.failed: the attempt's decline code, and (before
// 2025-03-31.basil) its invoice.
Result<std::vector<Fact>> attempt_failed_facts(const json& obj, bool intent, TimePoint at) {
  detail::Fields f(obj, "data.object");
  StripeSignal s;
  s.kind = StripeSignal::Kind::kAttemptFailed;
  auto id = f.str("id", true);
  s.customer_id = id_of(obj, "customer").value_or("");
  s.currency = f.currency("currency", true).value_or("");
  s.amount_minor = amount_of(f, "amount", true, s.currency).value_or(0);
  s.invoice_id = id_of(obj, "invoice");
  if (intent) {
    s.payment_intent_id = id;
    s.charge_id = id_of(obj, "latest_charge");
    if (!s.charge_id) s.charge_id = id_at(obj, {"last_payment_error"}, "charge");
    decline_of_intent(obj, s.decline_code, s.message);
  } else {
    s.charge_id = id;
    s.payment_intent_id = id_of(obj, "payment_intent");
    decline_of_charge(obj, s.decline_code, s.message);
  }
  s.occurred_at = at;
  if (f.failed()) return f.error();
  return std::vector<Fact>{Fact{std::move(s)}};
}

// invoice_payment.paid (2025-03-31.basil and later): which payment intent or charge paid which
// invoice, so that a later refund of that charge finds its invoice.
Result<std::vector<Fact>> invoice_payment_facts(const json& obj, TimePoint at) {
  detail::Fields f(obj, "data.object");
  StripeSignal s;
  s.kind = StripeSignal::Kind::kInvoicePayment;
  s.invoice_id = id_of(obj, "invoice");
  if (!s.invoice_id) f.fail("invoice", "is required");
  s.payment_intent_id = id_at(obj, {"payment"}, "payment_intent");
  s.charge_id = id_at(obj, {"payment"}, "charge");
  s.currency = f.currency("currency", true).value_or("");
  s.amount_minor = amount_of(f, "amount_paid", false, s.currency).value_or(0);
  s.occurred_at = at;
  if (auto st = obj.find("status_transitions"); st != obj.end() && st->is_object()) {
    detail::Fields transitions(*st, "data.object.status_transitions");  // range-checked
    if (auto paid = transitions.time("paid_at", false)) s.occurred_at = *paid;
    if (transitions.failed()) return transitions.error();
  }
  if (f.failed()) return f.error();
  return std::vector<Fact>{Fact{std::move(s)}};
}

Result<std::vector<Fact>> charge_refunded_facts(const json& obj, const json* previous,
                                                TimePoint at) {
  detail::Fields f(obj, "data.object");
  StripeSignal s;
  s.kind = StripeSignal::Kind::kChargeRefunded;
  s.charge_id = f.str("id", true);
  s.customer_id = id_of(obj, "customer").value_or("");
  s.currency = f.currency("currency", true).value_or("");
  s.amount_minor = amount_of(f, "amount", false, s.currency).value_or(0);
  s.refunded_minor = amount_of(f, "amount_refunded", true, s.currency).value_or(0);
  if (previous && previous->is_object() && previous->contains("amount_refunded")) {
    detail::Fields pf(*previous, "data.previous_attributes");
    s.refunded_before_minor = amount_of(pf, "amount_refunded", false, s.currency).value_or(0);
    if (pf.failed()) return pf.error();
  }
  s.invoice_id = id_of(obj, "invoice");
  s.payment_intent_id = id_of(obj, "payment_intent");
  s.charged_at = f.time("created", false);
  s.occurred_at = at;
  if (f.failed()) return f.error();
  return std::vector<Fact>{Fact{std::move(s)}};
}

Result<std::vector<Fact>> payment_method_facts(const json& pm, bool automatically_updated,
                                               TimePoint at) {
  detail::Fields f(pm, "data.object");
  store::PaymentMethodRow m;
  m.id = f.str("id", true).value_or("");
  m.customer_id = id_of(pm, "customer").value_or("");
  if (f.failed()) return f.error();
  if (m.customer_id.empty()) return std::vector<Fact>{};  // detached: nothing to record
  if (auto card = pm.find("card"); card != pm.end() && card->is_object()) {
    detail::Fields c(*card, "data.object.card");
    m.brand = c.str("brand", false, 32);
    m.last4 = c.last4("last4", false);
    if (auto v = c.integer("exp_month", false, 1, 12)) m.exp_month = static_cast<int>(*v);
    if (auto v = c.integer("exp_year", false, 2000, 2200)) m.exp_year = static_cast<int>(*v);
    if (c.failed()) return c.error();
  }
  // An automatic update (new expiry/number from the network) keeps the card's default flag;
  // a newly attached card is not the default until customer.updated says so.
  (void)automatically_updated;
  m.updated_at = at;
  return std::vector<Fact>{Fact{std::move(m)}};
}

Result<std::vector<Fact>> customer_facts(const json& cu, TimePoint at) {
  detail::Fields f(cu, "data.object");
  store::CustomerRow c;
  c.id = f.str("id", true).value_or("");
  c.email = f.str("email", false, 320);
  c.name = f.str("name", false, 200);
  if (auto locales = cu.find("preferred_locales"); locales != cu.end() && locales->is_array() &&
                                                   !locales->empty() && (*locales)[0].is_string()) {
    c.locale = (*locales)[0].get<std::string>();
  }
  if (f.failed()) return f.error();
  std::vector<Fact> facts{Fact{c}};
  std::optional<std::string> pm;
  if (auto settings = cu.find("invoice_settings"); settings != cu.end() && settings->is_object()) {
    pm = id_of(*settings, "default_payment_method");
  }
  if (!pm) pm = id_of(cu, "default_source");
  if (pm) facts.emplace_back(store::DefaultCardRow{c.id, *pm, at});
  return facts;
}

Result<std::vector<Fact>> subscription_facts(const json& sub, TimePoint at) {
  detail::Fields f(sub, "data.object");
  store::SubscriptionRow s;
  s.id = f.str("id", true).value_or("");
  s.customer_id = id_of(sub, "customer").value_or("");
  if (s.customer_id.empty()) f.fail("customer", "is required");
  s.status = "cancelled";
  s.updated_at = f.time("canceled_at", false).value_or(at);
  if (f.failed()) return f.error();
  if (auto items = sub.find("items"); items != sub.end() && items->is_object()) {
    auto data = items->find("data");
    if (data != items->end() && data->is_array() && !data->empty() && (*data)[0].is_object()) {
      const auto& price = (*data)[0].value("price", json::object());
      if (price.is_object()) {
        s.plan = str_at(price, {"lookup_key"});
        if (!s.plan) s.plan = str_at(price, {"nickname"});
        if (!s.plan) s.plan = id_of(price, "product");
        if (price.contains("unit_amount") && price["unit_amount"].is_number_integer())
          s.amount_minor = price["unit_amount"].get<std::int64_t>();
        detail::Fields pf(price, "data.object.items.data[0].price");
        s.currency = pf.currency("currency", false);
        if (s.currency && s.amount_minor) {
          auto minor = stripe_amount_to_minor(*s.amount_minor, *s.currency);
          if (!minor) pf.fail("unit_amount", minor.error().message);
          s.amount_minor = minor ? std::optional<std::int64_t>(*minor) : std::nullopt;
        }
        if (pf.failed()) return pf.error();
        s.interval = str_at(price, {"recurring", "interval"});
      }
    }
  }
  return std::vector<Fact>{Fact{std::move(s)}};
}

}  // namespace

Result<Event> map_stripe_event(std::string_view body, TimePoint received_at) {
  // Depth, control characters and card numbers are refused on the raw text, before parsing.
  if (auto problem = screen_json(body)) return *problem;
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return Error::invalid("is not valid JSON", "(body)");
  if (!doc.is_object()) return Error::invalid("must be a JSON object", "(body)");
  detail::Fields top(doc, "");
  Event e;
  e.source = "stripe";
  e.received_at = received_at;
  e.payload = std::string(body);
  e.id = top.str("id", true).value_or("");
  e.type = top.str("type", true, 100).value_or("");
  auto at = top.time("created", false).value_or(received_at);
  if (top.failed()) return top.error();
  const json* obj = nullptr;
  if (auto data = doc.find("data"); data != doc.end() && data->is_object()) {
    if (auto o = data->find("object"); o != data->end() && o->is_object()) obj = &*o;
  }
  Result<std::vector<Fact>> facts = std::vector<Fact>{};
  const auto& t = e.type;
  bool known = t == "invoice.payment_failed" || t == "invoice.paid" ||
               t == "invoice.payment_succeeded" || t == "payment_intent.payment_failed" ||
               t == "charge.failed" || t == "charge.refunded" || t == "invoice_payment.paid" ||
               t == "payment_method.attached" || t == "payment_method.automatically_updated" ||
               t == "customer.updated" || t == "customer.created" ||
               t == "customer.subscription.deleted";
  if (!known) return e;  // acknowledged and ignored; the event id is still recorded
  if (!obj) return Error::invalid("is required", "data.object");
  if (t == "invoice.payment_failed") {
    facts = invoice_facts(*obj, StripeSignal::Kind::kInvoiceFailed, at);
  } else if (t == "invoice.paid" || t == "invoice.payment_succeeded") {
    facts = invoice_facts(*obj, StripeSignal::Kind::kInvoicePaid, at);
  } else if (t == "payment_intent.payment_failed" || t == "charge.failed") {
    facts = attempt_failed_facts(*obj, t == "payment_intent.payment_failed", at);
  } else if (t == "invoice_payment.paid") {
    facts = invoice_payment_facts(*obj, at);
  } else if (t == "charge.refunded") {
    const json* previous = nullptr;
    if (auto pa = doc["data"].find("previous_attributes"); pa != doc["data"].end()) previous = &*pa;
    facts = charge_refunded_facts(*obj, previous, at);
  } else if (t == "payment_method.attached" || t == "payment_method.automatically_updated") {
    facts = payment_method_facts(*obj, t == "payment_method.automatically_updated", at);
  } else if (t == "customer.updated" || t == "customer.created") {
    facts = customer_facts(*obj, at);
  } else {
    facts = subscription_facts(*obj, at);
  }
  if (!facts) return facts.error();
  e.facts = std::move(facts).value();
  for (const auto& fact : e.facts) {
    if (auto err = check_fact(fact, "data.object.")) return *err;
  }
  return e;
}

// ---- Stripe's amounts

namespace {

// Stripe's zero-decimal and three-decimal currencies (its "Supported currencies" page: "Zero-
// decimal currencies", "Three-decimal currencies"); every other currency has two decimals in
// Stripe's API. Where these differ from ISO 4217 (ISK: ISO 0, Stripe 2 for backwards
// compatibility; MGA: ISO 2, Stripe 0), stripe_amount_to_minor converts. HUF and TWD are
// zero-decimal only for Stripe *payouts*, which dunningd never reads; UGX is zero-decimal in both.
constexpr std::string_view kStripeZeroDecimal[] = {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF",
                                                   "KRW", "MGA", "PYG", "RWF", "UGX", "VND",
                                                   "VUV", "XAF", "XOF", "XPF"};
constexpr std::string_view kStripeThreeDecimal[] = {"BHD", "JOD", "KWD", "OMR", "TND"};

std::int64_t pow10(int n) {
  std::int64_t r = 1;
  while (n-- > 0) r *= 10;
  return r;
}

}  // namespace

int stripe_decimals(std::string_view currency) {
  for (auto c : kStripeZeroDecimal)
    if (c == currency) return 0;
  for (auto c : kStripeThreeDecimal)
    if (c == currency) return 3;
  return 2;
}

Result<std::int64_t> stripe_amount_to_minor(std::int64_t amount, std::string_view currency) {
  const int iso = currency_exponent(currency);
  if (iso < 0) {
    return Error::invalid("is in \"" + std::string(currency) +
                          "\", which is not an ISO 4217 currency");
  }
  const int stripe = stripe_decimals(currency);
  if (iso >= stripe) {
    std::int64_t out = 0;
    if (__builtin_mul_overflow(amount, pow10(iso - stripe), &out)) {
      return Error::invalid("is out of range");
    }
    return out;
  }
  const std::int64_t unit = pow10(stripe - iso);
  if (amount % unit != 0) {
    return Error::invalid("must be a whole number of " + std::string(currency) +
                          " minor units: Stripe sends " + std::string(currency) + " with " +
                          std::to_string(stripe) + " decimals, ISO 4217 has " +
                          std::to_string(iso) + " (" + std::to_string(amount) +
                          " is not a multiple of " + std::to_string(unit) + ")");
  }
  return amount / unit;
}

// ---- putting an attempt's events together

namespace {

// Two events describe the same attempt when they are this close (Stripe sends an attempt's
// events within seconds; a retry of the same invoice comes hours later at the earliest).
constexpr Seconds kSameAttempt = std::chrono::hours(1);

bool near(TimePoint a, TimePoint b) { return a - b <= kSameAttempt && b - a <= kSameAttempt; }

template <typename T>
bool same(const std::optional<T>& a, const std::optional<T>& b) {
  return a && b && *a == *b;
}

// The failed attempt an invoice failure is about, from what its other events recorded.
std::optional<store::StripeAttempt> attempt_of_invoice_failure(store::FactsWriter& w,
                                                               const StripeSignal& s) {
  if (s.charge_id || s.payment_intent_id) {
    auto related = w.stripe_attempts(std::nullopt, s.payment_intent_id, s.charge_id);
    for (const auto& a : related) {
      if (a.status == PaymentStatus::kFailed && same(a.charge_id, s.charge_id)) return a;
    }
    for (const auto& a : related) {
      if (a.status == PaymentStatus::kFailed && same(a.payment_intent_id, s.payment_intent_id) &&
          !a.payment_id && (!a.charge_id || !s.charge_id) &&
          (!a.invoice_id || same(a.invoice_id, s.invoice_id)) && near(a.occurred_at, s.occurred_at))
        return a;
    }
  }
  // Without ids on either side (a payment intent without `invoice`): the same customer, currency
  // and amount within the hour, not yet an invoice's.
  for (const auto& a : w.stripe_attempts(s.invoice_id, std::nullopt, std::nullopt)) {
    if (a.status == PaymentStatus::kFailed && !a.payment_id && near(a.occurred_at, s.occurred_at))
      return a;
  }
  for (const auto& a :
       w.stripe_attempts_like(s.customer_id, s.currency, s.amount_minor, PaymentStatus::kFailed,
                              s.occurred_at - kSameAttempt, s.occurred_at + kSameAttempt)) {
    if (!a.payment_id && !a.invoice_id) return a;
  }
  return std::nullopt;
}

// The invoice failure (already written as a payments row) that a payment intent or charge
// failure is about.
std::optional<store::StripeAttempt> invoice_failure_of_attempt(store::FactsWriter& w,
                                                               const StripeSignal& s) {
  auto related = w.stripe_attempts(s.invoice_id, s.payment_intent_id, s.charge_id);
  for (const auto& a : related) {
    if (a.status == PaymentStatus::kFailed && a.payment_id && same(a.charge_id, s.charge_id))
      return a;
  }
  for (const auto& a : related) {
    if (a.status == PaymentStatus::kFailed && a.payment_id && !a.charge_id &&
        (same(a.payment_intent_id, s.payment_intent_id) || same(a.invoice_id, s.invoice_id)) &&
        near(a.occurred_at, s.occurred_at))
      return a;
  }
  if (!s.invoice_id) {
    for (const auto& a :
         w.stripe_attempts_like(s.customer_id, s.currency, s.amount_minor, PaymentStatus::kFailed,
                                s.occurred_at - kSameAttempt, s.occurred_at + kSameAttempt)) {
      if (a.payment_id && !a.charge_id && (!a.decline_code || generic_decline(a.decline_code)))
        return a;
    }
  }
  return std::nullopt;
}

std::optional<std::string> invoice_of_charge(store::FactsWriter& w, const StripeSignal& s) {
  if (s.invoice_id) return s.invoice_id;
  auto related = w.stripe_attempts(std::nullopt, s.payment_intent_id, s.charge_id);
  for (const auto& a : related)
    if (a.status == PaymentStatus::kSucceeded && a.invoice_id) return a.invoice_id;
  for (const auto& a : related)
    if (a.invoice_id) return a.invoice_id;
  // Neither the charge nor its payment intent names an invoice (2025-03-31.basil without
  // invoice_payment.paid): the invoice this customer paid with this amount when it was charged.
  if (s.charged_at && s.amount_minor > 0) {
    for (const auto& a : w.stripe_attempts_like(
             s.customer_id, s.currency, s.amount_minor, PaymentStatus::kSucceeded,
             *s.charged_at - kSameAttempt, *s.charged_at + kSameAttempt)) {
      if (a.invoice_id && !a.charge_id) return a.invoice_id;
    }
  }
  return std::nullopt;
}

}  // namespace

bool apply_stripe(store::FactsWriter& w, const StripeSignal& s) {
  using Kind = StripeSignal::Kind;
  switch (s.kind) {
    case Kind::kInvoiceFailed: {
      auto match = attempt_of_invoice_failure(w, s);
      store::PaymentRow p;
      p.status = PaymentStatus::kFailed;
      p.customer_id = s.customer_id;
      p.invoice_id = s.invoice_id;
      p.subscription_id = s.subscription_id;
      p.amount_minor = s.amount_minor;
      p.currency = s.currency;
      p.occurred_at = s.occurred_at;
      p.decline_code = best_code({s.decline_code, match ? match->decline_code : std::nullopt});
      p.message = s.message ? s.message : (match ? match->message : std::nullopt);
      auto charge = s.charge_id ? s.charge_id : (match ? match->charge_id : std::nullopt);
      // Each attempt is its own payment row: the charge id, else the invoice and attempt.
      p.id = charge ? *charge
                    : *s.invoice_id + ":failed:" + std::to_string(s.attempt_count.value_or(0));
      bool written = w.append_payment(p);
      if (!written && p.decline_code) {
        written =
            w.fill_decline(p.id, *p.decline_code, p.message, s.occurred_at,
                           late_decline_why(*p.decline_code, p.id)) != store::DeclineFill::kNothing;
      }
      store::StripeAttempt a;
      a.key = match ? match->key : p.id;
      a.status = PaymentStatus::kFailed;
      a.invoice_id = s.invoice_id;
      a.payment_intent_id = s.payment_intent_id;
      a.charge_id = charge;
      a.customer_id = s.customer_id;
      a.currency = s.currency;
      a.amount_minor = s.amount_minor;
      a.decline_code = p.decline_code;
      a.message = p.message;
      a.occurred_at = s.occurred_at;
      a.payment_id = p.id;
      w.save_stripe_attempt(a);
      return written;
    }
    case Kind::kAttemptFailed: {
      auto invoice = invoice_failure_of_attempt(w, s);
      store::StripeAttempt a;
      a.key = invoice
                  ? invoice->key
                  : (s.charge_id
                         ? *s.charge_id
                         : s.payment_intent_id.value_or("") + ":" + format_iso8601(s.occurred_at));
      a.status = PaymentStatus::kFailed;
      a.invoice_id = s.invoice_id;
      a.payment_intent_id = s.payment_intent_id;
      a.charge_id = s.charge_id;
      a.customer_id = s.customer_id;
      a.currency = s.currency;
      a.amount_minor = s.amount_minor;
      a.decline_code = s.decline_code;
      a.message = s.message;
      a.occurred_at = s.occurred_at;
      w.save_stripe_attempt(a);
      if (invoice && s.decline_code && invoice->payment_id) {
        return w.fill_decline(*invoice->payment_id, *s.decline_code, s.message, s.occurred_at,
                              late_decline_why(*s.decline_code, *invoice->payment_id)) !=
               store::DeclineFill::kNothing;
      }
      return false;
    }
    case Kind::kInvoicePaid: {
      store::PaymentRow p;
      p.status = PaymentStatus::kSucceeded;
      p.customer_id = s.customer_id;
      p.invoice_id = s.invoice_id;
      p.subscription_id = s.subscription_id;
      p.amount_minor = s.amount_minor;
      p.currency = s.currency;
      p.occurred_at = s.occurred_at;
      p.id = s.charge_id
                 ? *s.charge_id
                 : *s.invoice_id + ":succeeded:" + std::to_string(s.attempt_count.value_or(0));
      const bool written = w.append_payment(p);
      store::StripeAttempt a;
      a.key = p.id;
      a.status = PaymentStatus::kSucceeded;
      a.invoice_id = s.invoice_id;
      a.payment_intent_id = s.payment_intent_id;
      a.charge_id = s.charge_id;
      a.customer_id = s.customer_id;
      a.currency = s.currency;
      a.amount_minor = s.amount_minor;
      a.occurred_at = s.occurred_at;
      a.payment_id = p.id;
      w.save_stripe_attempt(a);
      return written;
    }
    case Kind::kInvoicePayment: {
      if (!s.payment_intent_id && !s.charge_id) return false;
      store::StripeAttempt a;
      a.key = s.charge_id ? *s.charge_id : *s.payment_intent_id;
      a.status = PaymentStatus::kSucceeded;
      a.invoice_id = s.invoice_id;
      a.payment_intent_id = s.payment_intent_id;
      a.charge_id = s.charge_id;
      a.customer_id = s.customer_id;
      a.currency = s.currency;
      if (s.amount_minor > 0) a.amount_minor = s.amount_minor;
      a.occurred_at = s.occurred_at;
      w.save_stripe_attempt(a);
      return false;
    }
    case Kind::kChargeRefunded: {
      const std::int64_t delta = s.refunded_minor - s.refunded_before_minor;
      if (delta <= 0) return false;
      auto invoice = invoice_of_charge(w, s);
      if (!invoice) return false;  // not an invoice's charge: not money a case is about
      store::PaymentRow p;
      p.status = PaymentStatus::kRefunded;
      p.customer_id = s.customer_id;
      p.invoice_id = invoice;
      p.amount_minor = delta;
      p.currency = s.currency;
      p.occurred_at = s.occurred_at;
      // One row per refund event: the charge and the total refunded after it.
      p.id = *s.charge_id + ":refunded:" + std::to_string(s.refunded_minor);
      return w.append_payment(p);
    }
  }
  return false;
}

}  // namespace dunning::ingest
