#include "dunning/ingest/stripe.hpp"

#include <charconv>

#include "dunning/core/crypto.hpp"
#include "dunning/ingest/json_screen.hpp"
#include "ingest/json_fields.hpp"

namespace dunning::ingest {

using nlohmann::json;

Status verify_stripe_signature(std::string_view header, std::string_view body,
                               const std::vector<std::string>& secrets, TimePoint now,
                               Seconds tolerance) {
  if (secrets.empty()) return Error::permanent("no Stripe webhook secret is configured");
  std::optional<long long> t;
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
      long long n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      // Unix seconds of a real signing time: no sign, at most year 9999, so the age below
      // cannot overflow.
      if (ec != std::errc() || p != value.data() + value.size() || n < 0 ||
          n > kLastIsoTime.time_since_epoch().count()) {
        return Error::permanent("Stripe-Signature has an unreadable timestamp");
      }
      t = n;
    } else if (key == "v1") {
      v1s.push_back(value);
    }
  }
  if (!t) return Error::permanent("Stripe-Signature has no timestamp (t=)");
  if (v1s.empty()) return Error::permanent("Stripe-Signature has no v1 signature");
  const auto age = std::chrono::abs(now - TimePoint(Seconds(*t)));
  if (age > tolerance) {
    return Error::permanent("Stripe-Signature timestamp is outside the tolerance");
  }
  std::string signed_payload = std::to_string(*t) + "." + std::string(body);
  bool match = false;
  for (const auto& secret : secrets) {
    auto expected = hmac_sha256_hex(secret, signed_payload);
    // Every candidate is compared, in constant time, without stopping at the first match.
    for (auto v : v1s) match = constant_time_equal(expected, v) || match;
  }
  if (!match) return Error::permanent("Stripe-Signature does not match");
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

// Decline code and message of a failed invoice, from what the event carries: the expanded
// payment intent's last_payment_error, else the expanded charge's outcome / failure code.
void decline_of(const json& invoice, store::PaymentRow& p) {
  std::optional<std::string> code, message;
  if (auto pi = invoice.find("payment_intent"); pi != invoice.end() && pi->is_object()) {
    code = str_at(*pi, {"last_payment_error", "decline_code"});
    if (!code) code = str_at(*pi, {"last_payment_error", "code"});
    message = str_at(*pi, {"last_payment_error", "message"});
  }
  if (auto ch = invoice.find("charge"); ch != invoice.end() && ch->is_object()) {
    if (!code) code = str_at(*ch, {"outcome", "reason"});
    if (!code) code = str_at(*ch, {"failure_code"});
    if (!message) message = str_at(*ch, {"failure_message"});
  }
  // The generic "card_declined" says less than a decline code; keep it only as a last resort.
  p.decline_code = code;
  p.message = message;
}

Parsed<std::vector<Fact>> invoice_facts(const json& inv, const std::string& status, TimePoint at) {
  detail::Fields f(inv, "data.object");
  store::PaymentRow p;
  p.status = status;
  auto invoice_id = f.str("id", true).value_or("");
  p.customer_id = id_of(inv, "customer").value_or("");
  if (p.customer_id.empty()) f.fail("customer", "is required");
  p.invoice_id = invoice_id;
  p.subscription_id = id_of(inv, "subscription");
  auto amount_field = status == "failed" ? "amount_due" : "amount_paid";
  p.amount_minor = f.integer(amount_field, true, 0, 1'000'000'000'000).value_or(0);
  if (status == "succeeded" && p.amount_minor == 0) {
    p.amount_minor = f.integer("amount_due", false, 0, 1'000'000'000'000).value_or(0);
  }
  p.currency = f.currency("currency", true).value_or("");
  if (f.failed()) return f.error();
  // Each attempt is its own payment row: the charge id, else the payment intent and attempt.
  auto attempt = inv.contains("attempt_count") && inv["attempt_count"].is_number_integer()
                     ? std::to_string(inv["attempt_count"].get<long long>())
                     : std::string("0");
  if (auto charge = id_of(inv, "charge")) {
    p.id = *charge;
  } else {
    p.id = invoice_id + ":" + status + ":" + attempt;
  }
  if (status == "failed") decline_of(inv, p);
  p.occurred_at = at;
  if (auto st = inv.find("status_transitions");
      status == "succeeded" && st != inv.end() && st->is_object()) {
    detail::Fields transitions(*st, "data.object.status_transitions");  // range-checked
    if (auto paid = transitions.time("paid_at", false)) p.occurred_at = *paid;
    if (transitions.failed()) return transitions.error();
  }
  return std::vector<Fact>{Fact{std::move(p)}};
}

Parsed<std::vector<Fact>> payment_method_facts(const json& pm, bool automatically_updated,
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

Parsed<std::vector<Fact>> customer_facts(const json& cu, TimePoint at) {
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

Parsed<std::vector<Fact>> subscription_facts(const json& sub, TimePoint at) {
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
        if (auto cur = str_at(price, {"currency"})) {
          std::string up;
          for (char ch : *cur) up += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
          if (up.size() == 3) s.currency = up;
        }
        s.interval = str_at(price, {"recurring", "interval"});
      }
    }
  }
  return std::vector<Fact>{Fact{std::move(s)}};
}

}  // namespace

Parsed<Event> map_stripe_event(std::string_view body, TimePoint received_at) {
  // Depth, control characters and card numbers are refused on the raw text, before parsing.
  if (auto problem = screen_json(body)) return *problem;
  json doc = json::parse(body, nullptr, false);
  if (doc.is_discarded()) return FieldError{"(body)", "is not valid JSON"};
  if (!doc.is_object()) return FieldError{"(body)", "must be a JSON object"};
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
  Parsed<std::vector<Fact>> facts = std::vector<Fact>{};
  const auto& t = e.type;
  bool known = t == "invoice.payment_failed" || t == "invoice.paid" ||
               t == "invoice.payment_succeeded" || t == "payment_method.attached" ||
               t == "payment_method.automatically_updated" || t == "customer.updated" ||
               t == "customer.created" || t == "customer.subscription.deleted";
  if (!known) return e;  // acknowledged and ignored; the event id is still recorded
  if (!obj) return FieldError{"data.object", "is required"};
  if (t == "invoice.payment_failed") {
    facts = invoice_facts(*obj, "failed", at);
  } else if (t == "invoice.paid" || t == "invoice.payment_succeeded") {
    facts = invoice_facts(*obj, "succeeded", at);
  } else if (t == "payment_method.attached" || t == "payment_method.automatically_updated") {
    facts = payment_method_facts(*obj, t == "payment_method.automatically_updated", at);
  } else if (t == "customer.updated" || t == "customer.created") {
    facts = customer_facts(*obj, at);
  } else {
    facts = subscription_facts(*obj, at);
  }
  if (auto* err = std::get_if<FieldError>(&facts)) return *err;
  e.facts = std::get<std::vector<Fact>>(std::move(facts));
  for (const auto& fact : e.facts) {
    if (auto err = check_fact(fact, "data.object.")) return *err;
  }
  return e;
}

}  // namespace dunning::ingest
