#include "store/shared_sql.hpp"
#include "store/sqlite/engine.hpp"
#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

std::int64_t SqlitePaymentsFeed::cursor(const std::string& name) {
  return guard("cursor", [&] {
    auto s = db_.prepare(sql::kCursor);
    s.bind(1, name);
    return s.step() ? s.int64(0) : std::int64_t{0};
  });
}

void SqlitePaymentsFeed::set_cursor(const std::string& name, std::int64_t value) {
  guard("set_cursor", [&] {
    auto s = db_.prepare(sql::kSetCursor);
    s.bind(1, name).bind(2, value).run();
  });
}

PaymentBatch SqlitePaymentsFeed::payments_after(std::int64_t after_rowid, int limit) {
  return guard("payments_after", [&] {
    auto s = db_.prepare("SELECT " + std::string(kPaymentColumns) +
                         " FROM payments WHERE rowid > ? "
                         "ORDER BY rowid LIMIT ?");
    s.bind(1, after_rowid).bind(2, limit);
    PaymentBatch out;
    out.last_rowid = after_rowid;
    while (s.step()) {
      out.last_rowid = s.int64(0);
      out.rows.push_back({s.int64(0), s.text(1), decode_payment(s)});
    }
    return out;
  });
}

void SqlitePaymentsFeed::record_rejected(const RejectedRow& row, TimePoint at) {
  guard("record_rejected", [&] {
    auto s = db_.prepare(sql::kRecordRejected);
    s.bind(1, row.table).bind(2, row.rowid).bind(3, row.id).bind(4, row.reason);
    s.bind(5, iso(at)).run();
  });
}

std::vector<CardChange> SqlitePaymentsFeed::card_changes_after(std::int64_t seq, int limit) {
  return guard("card_changes_after", [&] {
    auto s = db_.prepare(
        "SELECT seq, payment_method_id, customer_id FROM card_changes WHERE seq > ? "
        "ORDER BY seq LIMIT ?");
    s.bind(1, seq).bind(2, limit);
    std::vector<CardChange> out;
    while (s.step()) out.push_back({s.int64(0), s.text(1), s.text(2)});
    return out;
  });
}

std::vector<SubscriptionChange> SqlitePaymentsFeed::subscription_changes_after(std::int64_t seq,
                                                                               int limit) {
  return guard("subscription_changes_after", [&] {
    auto s = db_.prepare(
        "SELECT seq, subscription_id, status FROM subscription_changes WHERE seq > ? "
        "ORDER BY seq LIMIT ?");
    s.bind(1, seq).bind(2, limit);
    std::vector<SubscriptionChange> out;
    while (s.step()) out.push_back({s.int64(0), s.text(1), s.text(2)});
    return out;
  });
}

std::vector<ExpiringCard> SqlitePaymentsFeed::expiring_cards(int from_month_index,
                                                             int to_month_index, int limit) {
  return guard("expiring_cards", [&] {
    const int y1 = from_month_index / 12, m1 = from_month_index % 12 + 1;
    const int y2 = to_month_index / 12, m2 = to_month_index % 12 + 1;
    auto s = db_.prepare(sql::kExpiringCards);
    s.bind(1, y1).bind(2, m1).bind(3, y2).bind(4, m2).bind(5, limit);
    std::vector<ExpiringCard> out;
    while (s.step()) {
      out.push_back(
          {s.text(0), s.text(1), static_cast<int>(s.int64(2)), static_cast<int>(s.int64(3))});
    }
    return out;
  });
}

std::optional<Customer> SqlitePaymentsFeed::customer(const std::string& id) {
  return guard("customer", [&]() -> std::optional<Customer> {
    auto s = db_.prepare(sql::kCustomer);
    s.bind(1, id);
    if (!s.step()) return std::nullopt;
    return Customer{s.text(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)};
  });
}

std::optional<Card> SqlitePaymentsFeed::default_card(const std::string& customer_id) {
  return guard("default_card", [&]() -> std::optional<Card> {
    auto s = db_.prepare(
        "SELECT id, COALESCE(brand, ''), COALESCE(last4, ''), COALESCE(exp_month, 0), "
        "COALESCE(exp_year, 0) FROM payment_methods WHERE customer_id = ? AND is_default = 1 "
        "ORDER BY updated_at DESC LIMIT 1");
    s.bind(1, customer_id);
    if (!s.step()) return std::nullopt;
    return Card{s.text(0), s.text(1), s.text(2), static_cast<int>(s.int64(3)),
                static_cast<int>(s.int64(4))};
  });
}

std::optional<Payment> SqlitePaymentsFeed::paid_since(const std::string& invoice_id, TimePoint at) {
  return guard("paid_since", [&]() -> std::optional<Payment> {
    auto s = db_.prepare("SELECT " + std::string(kPaymentColumns) +
                         " FROM payments WHERE invoice_id = ? AND "
                         "status = 'succeeded' AND occurred_at >= ? ORDER BY occurred_at LIMIT 1");
    s.bind(1, invoice_id).bind(2, iso(at));
    if (!s.step()) return std::nullopt;
    auto p = decode_payment(s);
    if (!p) return std::nullopt;  // an unreadable row is reported when the feed reaches it
    return std::move(p).value();
  });
}

std::optional<std::string> SqlitePaymentsFeed::subscription_plan(
    const std::string& subscription_id) {
  return guard("subscription_plan", [&]() -> std::optional<std::string> {
    auto s = db_.prepare(sql::kSubscriptionPlan);
    s.bind(1, subscription_id);
    if (!s.step()) return std::nullopt;
    return s.text(0);
  });
}

std::optional<SubscriptionInfo> SqlitePaymentsFeed::customer_subscription(
    const std::string& customer_id, std::span<const std::string_view> ended_statuses) {
  return guard("customer_subscription", [&]() -> std::optional<SubscriptionInfo> {
    const std::string ended =
        ended_statuses.empty() ? "" : " NOT IN (" + placeholders(2, ended_statuses.size()) + ")";
    auto s = db_.prepare(
        "SELECT id, COALESCE(plan, ''), amount_minor, currency FROM subscriptions "
        "WHERE customer_id = ?1" +
        (ended.empty() ? std::string() : " AND COALESCE(status, '')" + ended) +
        " ORDER BY updated_at DESC, id LIMIT 1");
    s.bind(1, customer_id);
    for (std::size_t i = 0; i < ended_statuses.size(); ++i)
      s.bind(static_cast<int>(i) + 2, ended_statuses[i]);
    if (!s.step()) return std::nullopt;
    SubscriptionInfo info{s.text(0), s.text(1), std::nullopt};
    auto minor = s.opt_int64(2);
    auto currency = s.text(3);
    if (minor && currency_exponent(currency) >= 0) info.amount = Money(*minor, currency);
    return info;
  });
}

}  // namespace dunning::store::sqlite
