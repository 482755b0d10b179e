#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

bool SqliteFactsWriter::record_event(const std::string& id, const std::string& source,
                                     const std::string& type, const std::string& payload,
                                     TimePoint received_at) {
  return guard("record_event", [&] {
    auto s = db_.prepare(sql::kRecordEvent);
    s.bind(1, id).bind(2, source).bind(3, type).bind(4, payload).bind(5, iso(received_at)).run();
    return db_.raw().changes() == 1;
  });
}

std::optional<std::string> SqliteFactsWriter::event_payload(const std::string& id) {
  return guard("event_payload", [&]() -> std::optional<std::string> {
    auto s = db_.prepare(sql::kEventPayload);
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  });
}

bool SqliteFactsWriter::upsert_customer(const CustomerRow& c) {
  return guard("upsert_customer", [&] {
    // Only a real change touches the row, so a replay or a re-import changes nothing.
    auto s = db_.prepare(
        "INSERT INTO customers(id, email, name, locale, time_zone, phone, created_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO UPDATE SET "
        "email = COALESCE(excluded.email, email), name = COALESCE(excluded.name, name), "
        "locale = COALESCE(excluded.locale, locale), "
        "time_zone = COALESCE(excluded.time_zone, time_zone), "
        "phone = COALESCE(excluded.phone, phone), "
        "created_at = COALESCE(created_at, excluded.created_at) WHERE "
        "(excluded.email IS NOT NULL AND excluded.email IS NOT email) OR "
        "(excluded.name IS NOT NULL AND excluded.name IS NOT name) OR "
        "(excluded.locale IS NOT NULL AND excluded.locale IS NOT locale) OR "
        "(excluded.time_zone IS NOT NULL AND excluded.time_zone IS NOT time_zone) OR "
        "(excluded.phone IS NOT NULL AND excluded.phone IS NOT phone) OR "
        "(created_at IS NULL AND excluded.created_at IS NOT NULL)");
    s.bind(1, c.id).bind(2, c.email).bind(3, c.name).bind(4, c.locale).bind(5, c.time_zone);
    s.bind(6, c.phone);
    bind_time(s, 7, c.created_at);
    s.run();
    return db_.raw().changes() == 1;
  });
}

bool SqliteFactsWriter::upsert_payment_method(const PaymentMethodRow& m) {
  return guard("upsert_payment_method", [&] {
    auto s = db_.prepare(
        "INSERT INTO payment_methods(id, customer_id, brand, last4, exp_month, exp_year, "
        "is_default, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, COALESCE(?7, 0), ?8) "
        "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
        "brand = COALESCE(excluded.brand, brand), last4 = COALESCE(excluded.last4, last4), "
        "exp_month = COALESCE(excluded.exp_month, exp_month), "
        "exp_year = COALESCE(excluded.exp_year, exp_year), "
        "is_default = COALESCE(?7, is_default), updated_at = excluded.updated_at WHERE "
        "customer_id IS NOT excluded.customer_id OR "
        "(excluded.brand IS NOT NULL AND excluded.brand IS NOT brand) OR "
        "(excluded.last4 IS NOT NULL AND excluded.last4 IS NOT last4) OR "
        "(excluded.exp_month IS NOT NULL AND excluded.exp_month IS NOT exp_month) OR "
        "(excluded.exp_year IS NOT NULL AND excluded.exp_year IS NOT exp_year) OR "
        "(?7 IS NOT NULL AND ?7 IS NOT is_default)");
    s.bind(1, m.id).bind(2, m.customer_id).bind(3, m.brand).bind(4, m.last4);
    s.bind(5, m.exp_month).bind(6, m.exp_year);
    if (m.is_default) {
      s.bind(7, *m.is_default ? 1 : 0);
    } else {
      s.bind(7, std::nullopt);
    }
    s.bind(8, iso(m.updated_at));
    s.run();
    bool changed = db_.raw().changes() == 1;
    if (m.is_default.value_or(false)) {
      auto clear = db_.prepare(sql::kClearOtherDefaultCards);
      clear.bind(1, iso(m.updated_at)).bind(2, m.customer_id).bind(3, m.id).run();
      changed = changed || db_.raw().changes() > 0;
    }
    return changed;
  });
}

bool SqliteFactsWriter::set_default_card(const DefaultCardRow& d) {
  PaymentMethodRow m;
  m.id = d.payment_method_id;
  m.customer_id = d.customer_id;
  m.is_default = true;
  m.updated_at = d.updated_at;
  return upsert_payment_method(m);
}

bool SqliteFactsWriter::upsert_subscription(const SubscriptionRow& r) {
  return guard("upsert_subscription", [&] {
    auto s = db_.prepare(
        "INSERT INTO subscriptions(id, customer_id, plan, status, amount_minor, currency, "
        "interval, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
        "ON CONFLICT(id) DO UPDATE SET customer_id = excluded.customer_id, "
        "plan = COALESCE(excluded.plan, plan), status = COALESCE(excluded.status, status), "
        "amount_minor = COALESCE(excluded.amount_minor, amount_minor), "
        "currency = COALESCE(excluded.currency, currency), "
        "interval = COALESCE(excluded.interval, interval), updated_at = excluded.updated_at "
        "WHERE customer_id IS NOT excluded.customer_id OR "
        "(excluded.plan IS NOT NULL AND excluded.plan IS NOT plan) OR "
        "(excluded.status IS NOT NULL AND excluded.status IS NOT status) OR "
        "(excluded.amount_minor IS NOT NULL AND excluded.amount_minor IS NOT amount_minor) OR "
        "(excluded.currency IS NOT NULL AND excluded.currency IS NOT currency) OR "
        "(excluded.interval IS NOT NULL AND excluded.interval IS NOT interval)");
    s.bind(1, r.id).bind(2, r.customer_id).bind(3, r.plan).bind(4, r.status);
    s.bind(5, r.amount_minor).bind(6, r.currency).bind(7, r.interval).bind(8, iso(r.updated_at));
    s.run();
    return db_.raw().changes() == 1;
  });
}

bool SqliteFactsWriter::append_payment(const PaymentRow& p) {
  return guard("append_payment", [&] {
    auto s = db_.prepare(sql::kAppendPayment);
    s.bind(1, p.id).bind(2, p.customer_id).bind(3, p.subscription_id).bind(4, p.invoice_id);
    s.bind(5, p.amount_minor)
        .bind(6, p.currency)
        .bind(7, to_string(p.status))
        .bind(8, p.decline_code);
    s.bind(9, p.message).bind(10, iso(p.occurred_at)).run();
    return db_.raw().changes() == 1;
  });
}

std::vector<StripeAttempt> SqliteFactsWriter::stripe_attempts(
    const std::optional<std::string>& invoice_id, const std::optional<std::string>& intent_id,
    const std::optional<std::string>& charge_id) {
  return guard("stripe_attempts", [&] {
    auto s = db_.prepare(std::string(sql::kStripeAttemptSelect) +
                         std::string(sql::kStripeAttemptsNaming));
    s.bind(1, invoice_id).bind(2, intent_id).bind(3, charge_id);
    std::vector<StripeAttempt> out;
    while (s.step()) out.push_back(decode_stripe_attempt(s));
    return out;
  });
}

std::vector<StripeAttempt> SqliteFactsWriter::stripe_attempts_like(const std::string& customer_id,
                                                                   const std::string& currency,
                                                                   std::int64_t amount_minor,
                                                                   PaymentStatus status,
                                                                   TimePoint from, TimePoint to) {
  return guard("stripe_attempts_like", [&] {
    auto s =
        db_.prepare(std::string(sql::kStripeAttemptSelect) + std::string(sql::kStripeAttemptsLike));
    s.bind(1, customer_id).bind(2, currency).bind(3, amount_minor).bind(4, to_string(status));
    s.bind(5, iso(from)).bind(6, iso(to));
    std::vector<StripeAttempt> out;
    while (s.step()) out.push_back(decode_stripe_attempt(s));
    return out;
  });
}

void SqliteFactsWriter::save_stripe_attempt(const StripeAttempt& a) {
  guard("save_stripe_attempt", [&] {
    auto s = db_.prepare(sql::kSaveStripeAttempt);
    s.bind(1, a.key)
        .bind(2, to_string(a.status))
        .bind(3, a.invoice_id)
        .bind(4, a.payment_intent_id);
    s.bind(5, a.charge_id).bind(6, a.customer_id).bind(7, a.currency).bind(8, a.amount_minor);
    s.bind(9, a.decline_code).bind(10, a.message).bind(11, iso(a.occurred_at));
    s.bind(12, a.payment_id).run();
  });
}

DeclineFill SqliteFactsWriter::fill_decline(const std::string& payment_id, const std::string& code,
                                            const std::optional<std::string>& message, TimePoint at,
                                            const std::string& why) {
  return guard("fill_decline", [&] {
    // Not read yet (after the scheduler's cursor, which moves in the same kind of write
    // transaction): the row itself is completed before anything acts on it.
    auto row = db_.prepare(sql::kFillPaymentDecline);
    row.bind(1, payment_id).bind(2, code).bind(3, message).run();
    if (db_.raw().changes() == 1) return DeclineFill::kPaymentRow;
    // Already read: the case it opened (if still open) learns the code, visibly.
    auto c = db_.prepare(sql::kFillCaseDecline);
    c.bind(1, payment_id).bind(2, code);
    if (!c.step()) return DeclineFill::kNothing;
    const auto case_id = c.int64(0);
    while (c.step()) {
    }
    auto e = db_.prepare(sql::kAddCaseEvent);
    e.bind(1, case_id).bind(2, iso(at)).bind(3, "decline_code").bind(4, why).run();
    return DeclineFill::kOpenCase;
  });
}

}  // namespace dunning::store::sqlite
