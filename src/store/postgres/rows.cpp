#include "store/postgres/rows.hpp"

namespace dunning::store::postgres {

TimePoint parse_time(const std::string& s, const char* what) {
  auto t = parse_iso8601(s);
  if (!t) throw StoreError(std::string("bad timestamp in ") + what + ": \"" + s + "\"");
  return *t;
}

std::optional<TimePoint> parse_opt_time(const std::optional<std::string>& s, const char* what) {
  if (!s || s->empty()) return std::nullopt;
  return parse_time(*s, what);
}

bool currency_code(std::string_view c) {
  auto upper = [](char ch) { return ch >= 'A' && ch <= 'Z'; };
  return c.size() == 3 && upper(c[0]) && upper(c[1]) && upper(c[2]);
}

Money money(std::int64_t minor, const std::string& currency, const char* what) {
  if (!currency_code(currency)) {
    throw StoreError(std::string("bad currency in ") + what + ": \"" + currency + "\"");
  }
  return Money(minor, currency);
}

std::string placeholders(int first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += (i ? ", ?" : "?") + std::to_string(first + static_cast<int>(i));
  }
  return out;
}

CaseRecord read_case(const Rows& s, int i) {
  CaseRecord c;
  c.id = s.int64(i, 0);
  c.trigger = s.text(i, 1);
  c.customer_id = s.text(i, 2);
  c.subscription_id = s.opt_text(i, 3);
  c.invoice_id = s.opt_text(i, 4);
  c.payment_id = s.opt_text(i, 5);
  c.amount = money(s.int64(i, 6), s.text(i, 7), "cases.currency");
  c.decline_code = s.text(i, 8);
  c.sequence_id = s.text(i, 9);
  c.sequence_hash = s.text(i, 10);
  auto state = parse_case_state(s.text(i, 11));
  if (!state) throw StoreError("bad state in cases.state: \"" + s.text(i, 11) + "\"");
  c.state = *state;
  c.opened_at = parse_time(s.text(i, 12), "cases.opened_at");
  c.closed_at = parse_opt_time(s.opt_text(i, 13), "cases.closed_at");
  c.next_step = static_cast<int>(s.int64(i, 14));
  c.next_due_at = parse_opt_time(s.opt_text(i, 15), "cases.next_due_at");
  c.attempt_count = static_cast<int>(s.int64(i, 16));
  c.holdout = s.int64(i, 17) != 0;
  c.paid_minor = s.int64(i, 18);
  c.card_updated_at = parse_opt_time(s.opt_text(i, 19), "cases.card_updated_at");
  return c;
}

OutboxRow read_outbox(const Rows& s, int i) {
  OutboxRow r;
  r.id = s.int64(i, 0);
  r.case_id = s.int64(i, 1);
  r.step_index = static_cast<int>(s.int64(i, 2));
  r.channel = s.text(i, 3);
  r.template_name = s.text(i, 4);
  r.action = s.text(i, 5);
  r.message_key = s.text(i, 6);
  auto state = parse_outbox_state(s.text(i, 7));
  if (!state) throw StoreError("bad state in outbox.state: \"" + s.text(i, 7) + "\"");
  r.state = *state;
  r.attempts = static_cast<int>(s.int64(i, 8));
  r.due_at = parse_time(s.text(i, 9), "outbox.due_at");
  r.created_at = parse_time(s.text(i, 10), "outbox.created_at");
  r.sent_at = parse_opt_time(s.opt_text(i, 11), "outbox.sent_at");
  r.last_error = s.text(i, 12);
  r.card_id = s.opt_text(i, 13);
  return r;
}

std::vector<Count> read_counts(const Rows& s) {
  std::vector<Count> out;
  for (int i = 0; i < s.size(); ++i) out.push_back({s.text(i, 0), s.text(i, 1), s.int64(i, 2)});
  return out;
}

}  // namespace dunning::store::postgres
