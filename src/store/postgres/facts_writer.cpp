#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

// The SQLite engine's upserts, with two differences of dialect: IS DISTINCT FROM for SQLite's
// `IS NOT` between values, and the target table named in DO UPDATE (PostgreSQL reads a bare
// column there as ambiguous between the row and `excluded`).

namespace dunning::store::postgres {

bool PgFactsWriter::record_event(const std::string& id, const std::string& source,
                                 const std::string& type, const std::string& payload,
                                 TimePoint received_at) {
  return guard("record_event", [&] {
    auto r = db_.query(sql::kRecordEvent,
                       Params().add(id).add(source).add(type).add(payload).add(iso(received_at)));
    return r.affected() == 1;
  });
}

std::optional<std::string> PgFactsWriter::event_payload(const std::string& id) {
  return guard("event_payload", [&]() -> std::optional<std::string> {
    auto s = db_.query(sql::kEventPayload, Params().add(id));
    if (s.empty()) return std::nullopt;
    return s.text(0, 0);
  });
}

bool PgFactsWriter::upsert_customer(const CustomerRow& c) {
  return guard("upsert_customer", [&] {
    // Only a real change touches the row, so a replay or a re-import changes nothing.
    auto r = db_.query(
        "INSERT INTO customers AS t(id, email, name, locale, time_zone, phone, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
        "email = COALESCE(excluded.email, t.email), name = COALESCE(excluded.name, t.name), "
        "locale = COALESCE(excluded.locale, t.locale), "
        "time_zone = COALESCE(excluded.time_zone, t.time_zone), "
        "phone = COALESCE(excluded.phone, t.phone), "
        "created_at = COALESCE(t.created_at, excluded.created_at) WHERE "
        "(excluded.email IS NOT NULL AND excluded.email IS DISTINCT FROM t.email) OR "
        "(excluded.name IS NOT NULL AND excluded.name IS DISTINCT FROM t.name) OR "
        "(excluded.locale IS NOT NULL AND excluded.locale IS DISTINCT FROM t.locale) OR "
        "(excluded.time_zone IS NOT NULL AND excluded.time_zone IS DISTINCT FROM t.time_zone) "
        "OR (excluded.phone IS NOT NULL AND excluded.phone IS DISTINCT FROM t.phone) OR "
        "(t.created_at IS NULL AND excluded.created_at IS NOT NULL)",
        Params()
            .add(c.id)
            .add(c.email)
            .add(c.name)
            .add(c.locale)
            .add(c.time_zone)
            .add(c.phone)
            .add(opt_iso(c.created_at)));
    return r.affected() == 1;
  });
}

bool PgFactsWriter::upsert_payment_method(const PaymentMethodRow& m) {
  return guard("upsert_payment_method", [&] {
    std::optional<int> is_default;
    if (m.is_default) is_default = *m.is_default ? 1 : 0;
    auto r = db_.query(
        "INSERT INTO payment_methods AS t(id, customer_id, brand, last4, exp_month, exp_year, "
        "is_default, updated_at) VALUES (?1, ?2, ?3, ?4, ?5::int, ?6::int, "
        "COALESCE(?7::int, 0), ?8) "
        "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
        "brand = COALESCE(excluded.brand, t.brand), last4 = COALESCE(excluded.last4, t.last4), "
        "exp_month = COALESCE(excluded.exp_month, t.exp_month), "
        "exp_year = COALESCE(excluded.exp_year, t.exp_year), "
        "is_default = COALESCE(?7::int, t.is_default), updated_at = excluded.updated_at WHERE "
        "t.customer_id IS DISTINCT FROM excluded.customer_id OR "
        "(excluded.brand IS NOT NULL AND excluded.brand IS DISTINCT FROM t.brand) OR "
        "(excluded.last4 IS NOT NULL AND excluded.last4 IS DISTINCT FROM t.last4) OR "
        "(excluded.exp_month IS NOT NULL AND excluded.exp_month IS DISTINCT FROM t.exp_month) "
        "OR (excluded.exp_year IS NOT NULL AND excluded.exp_year IS DISTINCT FROM t.exp_year) "
        "OR (?7::int IS NOT NULL AND ?7::int IS DISTINCT FROM t.is_default)",
        Params()
            .add(m.id)
            .add(m.customer_id)
            .add(m.brand)
            .add(m.last4)
            .add(m.exp_month)
            .add(m.exp_year)
            .add(is_default)
            .add(iso(m.updated_at)));
    bool changed = r.affected() == 1;
    if (m.is_default.value_or(false)) {
      auto clear = db_.query(sql::kClearOtherDefaultCards,
                             Params().add(iso(m.updated_at)).add(m.customer_id).add(m.id));
      changed = changed || clear.affected() > 0;
    }
    return changed;
  });
}

bool PgFactsWriter::set_default_card(const DefaultCardRow& d) {
  PaymentMethodRow m;
  m.id = d.payment_method_id;
  m.customer_id = d.customer_id;
  m.is_default = true;
  m.updated_at = d.updated_at;
  return upsert_payment_method(m);
}

bool PgFactsWriter::upsert_subscription(const SubscriptionRow& s) {
  return guard("upsert_subscription", [&] {
    auto r = db_.query(
        "INSERT INTO subscriptions AS t(id, customer_id, plan, status, amount_minor, currency, "
        "interval, updated_at) VALUES (?1, ?2, ?3, ?4, ?5::bigint, ?6, ?7, ?8) "
        "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
        "plan = COALESCE(excluded.plan, t.plan), status = COALESCE(excluded.status, t.status), "
        "amount_minor = COALESCE(excluded.amount_minor, t.amount_minor), "
        "currency = COALESCE(excluded.currency, t.currency), "
        "interval = COALESCE(excluded.interval, t.interval), updated_at = excluded.updated_at "
        "WHERE t.customer_id IS DISTINCT FROM excluded.customer_id OR "
        "(excluded.plan IS NOT NULL AND excluded.plan IS DISTINCT FROM t.plan) OR "
        "(excluded.status IS NOT NULL AND excluded.status IS DISTINCT FROM t.status) OR "
        "(excluded.amount_minor IS NOT NULL AND "
        " excluded.amount_minor IS DISTINCT FROM t.amount_minor) OR "
        "(excluded.currency IS NOT NULL AND excluded.currency IS DISTINCT FROM t.currency) OR "
        "(excluded.interval IS NOT NULL AND excluded.interval IS DISTINCT FROM t.interval)",
        Params()
            .add(s.id)
            .add(s.customer_id)
            .add(s.plan)
            .add(s.status)
            .add(s.amount_minor)
            .add(s.currency)
            .add(s.interval)
            .add(iso(s.updated_at)));
    return r.affected() == 1;
  });
}

bool PgFactsWriter::append_payment(const PaymentRow& p) {
  return guard("append_payment", [&] {
    auto r = db_.query(sql::kAppendPayment, Params()
                                                .add(p.id)
                                                .add(p.customer_id)
                                                .add(p.subscription_id)
                                                .add(p.invoice_id)
                                                .add(p.amount_minor)
                                                .add(p.currency)
                                                .add(to_string(p.status))
                                                .add(p.decline_code)
                                                .add(p.message)
                                                .add(iso(p.occurred_at)));
    return r.affected() == 1;
  });
}

namespace {

std::vector<StripeAttempt> read_attempts(const Rows& s) {
  std::vector<StripeAttempt> out;
  for (int i = 0; i < s.size(); ++i) out.push_back(decode_stripe_attempt(RowAt{s, i}));
  return out;
}

}  // namespace

std::vector<StripeAttempt> PgFactsWriter::stripe_attempts(
    const std::optional<std::string>& invoice_id, const std::optional<std::string>& intent_id,
    const std::optional<std::string>& charge_id) {
  return guard("stripe_attempts", [&] {
    return read_attempts(
        db_.query(std::string(sql::kStripeAttemptSelect) + std::string(sql::kStripeAttemptsNaming),
                  Params().add(invoice_id).add(intent_id).add(charge_id)));
  });
}

std::vector<StripeAttempt> PgFactsWriter::stripe_attempts_like(const std::string& customer_id,
                                                               const std::string& currency,
                                                               std::int64_t amount_minor,
                                                               PaymentStatus status, TimePoint from,
                                                               TimePoint to) {
  return guard("stripe_attempts_like", [&] {
    return read_attempts(
        db_.query(std::string(sql::kStripeAttemptSelect) + std::string(sql::kStripeAttemptsLike),
                  Params()
                      .add(customer_id)
                      .add(currency)
                      .add(amount_minor)
                      .add(to_string(status))
                      .add(iso(from))
                      .add(iso(to))));
  });
}

void PgFactsWriter::save_stripe_attempt(const StripeAttempt& a) {
  guard("save_stripe_attempt", [&] {
    db_.query(sql::kSaveStripeAttempt, Params()
                                           .add(a.key)
                                           .add(to_string(a.status))
                                           .add(a.invoice_id)
                                           .add(a.payment_intent_id)
                                           .add(a.charge_id)
                                           .add(a.customer_id)
                                           .add(a.currency)
                                           .add(a.amount_minor)
                                           .add(a.decline_code)
                                           .add(a.message)
                                           .add(iso(a.occurred_at))
                                           .add(a.payment_id));
  });
}

DeclineFill PgFactsWriter::fill_decline(const std::string& payment_id, const std::string& code,
                                        const std::optional<std::string>& message, TimePoint at,
                                        const std::string& why) {
  return guard("fill_decline", [&] {
    auto row = db_.query(sql::kFillPaymentDecline, Params().add(payment_id).add(code).add(message));
    if (row.affected() == 1) return DeclineFill::kPaymentRow;
    auto c = db_.query(sql::kFillCaseDecline, Params().add(payment_id).add(code));
    if (c.empty()) return DeclineFill::kNothing;
    db_.query(sql::kAddCaseEvent,
              Params().add(c.int64(0, 0)).add(iso(at)).add("decline_code").add(why));
    return DeclineFill::kOpenCase;
  });
}

}  // namespace dunning::store::postgres
