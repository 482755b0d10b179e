#include "dunning/ingest/csv.hpp"

#include <charconv>

#include "dunning/core/integers.hpp"
#include "dunning/core/money.hpp"
#include "dunning/ingest/card_numbers.hpp"
#include "dunning/ingest/json_screen.hpp"

namespace dunning::ingest {

std::optional<std::vector<std::string>> CsvReader::next() {
  std::vector<std::string> fields;
  std::string field;
  bool quoted = false;
  bool any = false;
  record_line_ = line_;
  int c;
  while ((c = in_.get()) != EOF) {
    any = true;
    char ch = static_cast<char>(c);
    if (quoted) {
      if (ch == '"') {
        if (in_.peek() == '"') {
          in_.get();
          field += '"';
        } else {
          quoted = false;
        }
      } else {
        if (ch == '\n') ++line_;
        field += ch;
      }
      continue;
    }
    if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (ch == '\r') {
      // part of CRLF
    } else if (ch == '\n') {
      ++line_;
      fields.push_back(std::move(field));
      if (fields.size() == 1 && fields[0].empty()) {  // a blank line
        fields.clear();
        field.clear();  // moved from: valid but unspecified until assigned
        record_line_ = line_;
        any = false;
        continue;
      }
      return fields;
    } else {
      field += ch;
    }
  }
  if (!any) return std::nullopt;
  fields.push_back(std::move(field));
  if (fields.size() == 1 && fields[0].empty()) return std::nullopt;
  return fields;
}

std::vector<std::string> csv_required_columns(CsvKind kind) {
  switch (kind) {
    case CsvKind::kCustomers:
      return {"id"};
    case CsvKind::kCards:
      return {"id", "customer_id"};
    case CsvKind::kPayments:
      return {"id", "customer_id", "amount_minor", "currency", "status", "occurred_at"};
  }
  return {};
}

std::vector<std::string> csv_known_columns(CsvKind kind) {
  switch (kind) {
    case CsvKind::kCustomers:
      return {"id", "email", "name", "locale", "time_zone", "phone", "created_at"};
    case CsvKind::kCards:
      return {"id",        "customer_id", "brand",      "last4",
              "exp_month", "exp_year",    "is_default", "updated_at"};
    case CsvKind::kPayments:
      return {"id",       "customer_id", "subscription_id", "invoice_id", "amount_minor",
              "currency", "status",      "decline_code",    "message",    "occurred_at"};
  }
  return {};
}

namespace {

class Row {
 public:
  Row(const std::map<std::string, std::size_t>& header, const std::vector<std::string>& row)
      : header_(header), row_(row) {}

  std::optional<std::string> get(const char* column) const {
    auto it = header_.find(column);
    if (it == header_.end() || it->second >= row_.size() || row_[it->second].empty())
      return std::nullopt;
    return row_[it->second];
  }
  std::string required(const char* column) {
    auto v = get(column);
    if (!v) fail(column, "is required");
    return v.value_or("");
  }
  std::optional<std::int64_t> integer(const char* column, std::int64_t min, std::int64_t max) {
    auto v = get(column);
    if (!v) return std::nullopt;
    const auto n = parse_integer(*v, min, max);
    if (!n) {
      fail(column,
           "must be an integer between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return n;
  }
  std::optional<TimePoint> time(const char* column) {
    auto v = get(column);
    if (!v) return std::nullopt;
    auto t = parse_iso8601(*v);
    if (!t) fail(column, "must be an ISO 8601 UTC time");
    return t;
  }
  void fail(const std::string& column, const std::string& message) {
    if (!error_) error_ = Error::invalid(message, column);
  }
  const std::optional<Error>& error() const { return error_; }

 private:
  const std::map<std::string, std::size_t>& header_;
  const std::vector<std::string>& row_;
  std::optional<Error> error_;
};

}  // namespace

Result<Fact> csv_fact(CsvKind kind, const std::map<std::string, std::size_t>& header,
                      const std::vector<std::string>& row, TimePoint now) {
  for (const auto& [name, index] : header) {
    if (index < row.size() && contains_card_number(row[index])) {
      return Error::invalid("holds what looks like a card number; never import card numbers", name);
    }
  }
  for (const auto& [name, index] : header) {  // a number split over two neighbouring columns
    if (index > 0 && index < row.size() && split_card_number(row[index - 1], row[index])) {
      return Error::invalid(
          "and the column before it hold what looks like a card number; "
          "never import card numbers",
          name);
    }
  }
  Row r(header, row);
  Fact fact;
  if (kind == CsvKind::kCustomers) {
    store::CustomerRow c;
    c.id = r.required("id");
    c.email = r.get("email");
    c.name = r.get("name");
    c.locale = r.get("locale");
    c.time_zone = r.get("time_zone");
    c.phone = r.get("phone");
    c.created_at = r.time("created_at");
    fact = c;
  } else if (kind == CsvKind::kCards) {
    store::PaymentMethodRow m;
    m.id = r.required("id");
    m.customer_id = r.required("customer_id");
    m.brand = r.get("brand");
    m.last4 = r.get("last4");
    if (m.last4 &&
        (m.last4->size() != 4 || m.last4->find_first_not_of("0123456789") != std::string::npos)) {
      r.fail("last4", "must be exactly four digits");
    }
    if (auto v = r.integer("exp_month", 1, 12)) m.exp_month = static_cast<int>(*v);
    if (auto v = r.integer("exp_year", 2000, 2200)) m.exp_year = static_cast<int>(*v);
    if (auto v = r.get("is_default")) {
      if (*v == "1" || *v == "true") {
        m.is_default = true;
      } else if (*v == "0" || *v == "false") {
        m.is_default = false;
      } else {
        r.fail("is_default", "must be 1, 0, true or false");
      }
    }
    m.updated_at = r.time("updated_at").value_or(now);
    fact = m;
  } else {
    store::PaymentRow p;
    p.id = r.required("id");
    p.customer_id = r.required("customer_id");
    p.subscription_id = r.get("subscription_id");
    p.invoice_id = r.get("invoice_id");
    p.amount_minor = r.integer("amount_minor", 0, 1'000'000'000'000).value_or(0);
    if (!r.get("amount_minor")) r.fail("amount_minor", "is required");
    p.currency = r.required("currency");
    for (auto& ch : p.currency)
      if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 32);
    if (!p.currency.empty() && currency_exponent(p.currency) < 0) {
      r.fail("currency", "\"" + r.get("currency").value_or("") +
                             "\" is not an ISO 4217 currency code (like EUR, JPY, KWD)");
    }
    if (auto status = store::parse_payment_status(r.required("status"))) {
      p.status = *status;
    } else {
      r.fail("status", "must be failed, succeeded or refunded");
    }
    p.decline_code = r.get("decline_code");
    p.message = r.get("message");
    auto t = r.time("occurred_at");
    if (!r.get("occurred_at")) r.fail("occurred_at", "is required");
    p.occurred_at = t.value_or(now);
    fact = p;
  }
  if (r.error()) return *r.error();
  if (auto err = check_fact(fact, "")) return *err;  // control characters, locale, time range
  return fact;
}

}  // namespace dunning::ingest
