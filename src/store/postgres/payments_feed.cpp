#include "store/postgres/engine.hpp"
#include "store/postgres/rows.hpp"
#include "store/shared_sql.hpp"

namespace dunning::store::postgres {

std::int64_t PgPaymentsFeed::cursor(const std::string& name) {
  return guard("cursor", [&] {
    auto r = db_.query(sql::kCursor, Params().add(name));
    return r.empty() ? std::int64_t{0} : r.int64(0, 0);
  });
}

void PgPaymentsFeed::set_cursor(const std::string& name, std::int64_t value) {
  guard("set_cursor", [&] { db_.query(sql::kSetCursor, Params().add(name).add(value)); });
}

PaymentBatch PgPaymentsFeed::payments_after(std::int64_t after_rowid, int limit) {
  return guard("payments_after", [&] {
    PaymentBatch out;
    out.last_rowid = after_rowid;
    // Only positions every writer is done with (see PgDatabase::horizon).
    const std::int64_t upto = db_.horizon("payments_rowid_seq");
    if (upto <= after_rowid) return out;
    auto s = db_.query("SELECT " + std::string(kPaymentColumns) +
                           " FROM payments "
                           "WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid LIMIT ?3",
                       Params().add(after_rowid).add(upto).add(limit));
    for (int i = 0; i < s.size(); ++i) {
      out.last_rowid = s.int64(i, 0);
      out.rows.push_back({s.int64(i, 0), s.text(i, 1), decode_payment(RowAt{s, i})});
    }
    return out;
  });
}

void PgPaymentsFeed::record_rejected(const RejectedRow& row, TimePoint at) {
  guard("record_rejected", [&] {
    db_.query(sql::kRecordRejected,
              Params().add(row.table).add(row.rowid).add(row.id).add(row.reason).add(iso(at)));
  });
}

std::vector<CardChange> PgPaymentsFeed::card_changes_after(std::int64_t seq, int limit) {
  return guard("card_changes_after", [&] {
    std::vector<CardChange> out;
    const std::int64_t upto = db_.horizon("card_changes_seq_seq");
    if (upto <= seq) return out;
    auto s = db_.query(
        "SELECT seq, payment_method_id, customer_id FROM card_changes WHERE seq > ?1 "
        "AND seq <= ?2 ORDER BY seq LIMIT ?3",
        Params().add(seq).add(upto).add(limit));
    for (int i = 0; i < s.size(); ++i) out.push_back({s.int64(i, 0), s.text(i, 1), s.text(i, 2)});
    return out;
  });
}

std::vector<SubscriptionChange> PgPaymentsFeed::subscription_changes_after(std::int64_t seq,
                                                                           int limit) {
  return guard("subscription_changes_after", [&] {
    std::vector<SubscriptionChange> out;
    const std::int64_t upto = db_.horizon("subscription_changes_seq_seq");
    if (upto <= seq) return out;
    auto s = db_.query(
        "SELECT seq, subscription_id, status FROM subscription_changes WHERE seq > ?1 "
        "AND seq <= ?2 ORDER BY seq LIMIT ?3",
        Params().add(seq).add(upto).add(limit));
    for (int i = 0; i < s.size(); ++i) out.push_back({s.int64(i, 0), s.text(i, 1), s.text(i, 2)});
    return out;
  });
}

std::vector<ExpiringCard> PgPaymentsFeed::expiring_cards(int from_month_index, int to_month_index,
                                                         int limit) {
  return guard("expiring_cards", [&] {
    const int y1 = from_month_index / 12, m1 = from_month_index % 12 + 1;
    const int y2 = to_month_index / 12, m2 = to_month_index % 12 + 1;
    auto s = db_.query(sql::kExpiringCards, Params().add(y1).add(m1).add(y2).add(m2).add(limit));
    std::vector<ExpiringCard> out;
    for (int i = 0; i < s.size(); ++i) {
      out.push_back({s.text(i, 0), s.text(i, 1), static_cast<int>(s.int64(i, 2)),
                     static_cast<int>(s.int64(i, 3))});
    }
    return out;
  });
}

std::optional<Customer> PgPaymentsFeed::customer(const std::string& id) {
  return guard("customer", [&]() -> std::optional<Customer> {
    auto s = db_.query(sql::kCustomer, Params().add(id));
    if (s.empty()) return std::nullopt;
    return Customer{s.text(0, 0), s.text(0, 1), s.text(0, 2),
                    s.text(0, 3), s.text(0, 4), s.text(0, 5)};
  });
}

std::optional<Card> PgPaymentsFeed::default_card(const std::string& customer_id) {
  return guard("default_card", [&]() -> std::optional<Card> {
    // NULLS LAST: SQLite sorts NULL first ascending, so last descending.
    auto s = db_.query(
        "SELECT id, COALESCE(brand, ''), COALESCE(last4, ''), COALESCE(exp_month, 0), "
        "COALESCE(exp_year, 0) FROM payment_methods WHERE customer_id = ? AND is_default = 1 "
        "ORDER BY updated_at DESC NULLS LAST LIMIT 1",
        Params().add(customer_id));
    if (s.empty()) return std::nullopt;
    return Card{s.text(0, 0), s.text(0, 1), s.text(0, 2), static_cast<int>(s.int64(0, 3)),
                static_cast<int>(s.int64(0, 4))};
  });
}

std::optional<std::string> PgPaymentsFeed::subscription_plan(const std::string& subscription_id) {
  return guard("subscription_plan", [&]() -> std::optional<std::string> {
    auto s = db_.query(sql::kSubscriptionPlan, Params().add(subscription_id));
    if (s.empty()) return std::nullopt;
    return s.text(0, 0);
  });
}

std::optional<Payment> PgPaymentsFeed::paid_since(const std::string& invoice_id, TimePoint at) {
  return guard("paid_since", [&]() -> std::optional<Payment> {
    // COLLATE "C": the billing system's own payments table may compare text by its locale.
    auto s = db_.query("SELECT " + std::string(kPaymentColumns) +
                           " FROM payments WHERE invoice_id = ? AND "
                           "status = 'succeeded' AND occurred_at COLLATE \"C\" >= ? "
                           "ORDER BY occurred_at COLLATE \"C\" LIMIT 1",
                       Params().add(invoice_id).add(iso(at)));
    if (s.empty()) return std::nullopt;
    auto p = decode_payment(RowAt{s, 0});
    if (!p) return std::nullopt;  // an unreadable row is reported when the feed reaches it
    return std::move(p).value();
  });
}

std::optional<SubscriptionInfo> PgPaymentsFeed::customer_subscription(
    const std::string& customer_id, std::span<const std::string_view> ended_statuses) {
  return guard("customer_subscription", [&]() -> std::optional<SubscriptionInfo> {
    const std::string ended =
        ended_statuses.empty() ? "" : " NOT IN (" + placeholders(2, ended_statuses.size()) + ")";
    Params p;
    p.add(customer_id);
    for (auto st : ended_statuses) p.add(st);
    auto s = db_.query(
        "SELECT id, COALESCE(plan, ''), amount_minor, currency FROM subscriptions "
        "WHERE customer_id = ?1" +
            (ended.empty() ? std::string() : " AND COALESCE(status, '')" + ended) +
            " ORDER BY updated_at DESC NULLS LAST, id LIMIT 1",
        p);
    if (s.empty()) return std::nullopt;
    SubscriptionInfo info{s.text(0, 0), s.text(0, 1), std::nullopt};
    auto minor = s.opt_int64(0, 2);
    auto currency = s.text(0, 3);
    if (minor && currency_exponent(currency) >= 0) info.amount = Money(*minor, currency);
    return info;
  });
}

}  // namespace dunning::store::postgres
