#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

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

void bind_time(StatementCache::Lease& s, int i, const std::optional<TimePoint>& t) {
  if (t) {
    s.bind(i, iso(*t));
  } else {
    s.bind(i, std::nullopt);
  }
}

std::string placeholders(int first, std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += (i ? ", ?" : "?") + std::to_string(first + static_cast<int>(i));
  }
  return out;
}

CaseRecord read_case(const Stmt& s) {
  CaseRecord c;
  c.id = s.int64(0);
  c.trigger = s.text(1);
  c.customer_id = s.text(2);
  c.subscription_id = s.opt_text(3);
  c.invoice_id = s.opt_text(4);
  c.payment_id = s.opt_text(5);
  c.amount = money(s.int64(6), s.text(7), "cases.currency");
  c.decline_code = s.text(8);
  c.sequence_id = s.text(9);
  c.sequence_hash = s.text(10);
  auto state = parse_case_state(s.text(11));
  if (!state) throw StoreError("bad state in cases.state: \"" + s.text(11) + "\"");
  c.state = *state;
  c.opened_at = parse_time(s.text(12), "cases.opened_at");
  c.closed_at = parse_opt_time(s.opt_text(13), "cases.closed_at");
  c.next_step = static_cast<int>(s.int64(14));
  c.next_due_at = parse_opt_time(s.opt_text(15), "cases.next_due_at");
  c.attempt_count = static_cast<int>(s.int64(16));
  c.holdout = s.int64(17) != 0;
  c.paid_minor = s.int64(18);
  c.card_updated_at = parse_opt_time(s.opt_text(19), "cases.card_updated_at");
  return c;
}

OutboxRow read_outbox(const Stmt& s) {
  OutboxRow r;
  r.id = s.int64(0);
  r.case_id = s.int64(1);
  r.step_index = static_cast<int>(s.int64(2));
  r.channel = s.text(3);
  r.template_name = s.text(4);
  r.action = s.text(5);
  r.message_key = s.text(6);
  auto state = parse_outbox_state(s.text(7));
  if (!state) throw StoreError("bad state in outbox.state: \"" + s.text(7) + "\"");
  r.state = *state;
  r.attempts = static_cast<int>(s.int64(8));
  r.due_at = parse_time(s.text(9), "outbox.due_at");
  r.created_at = parse_time(s.text(10), "outbox.created_at");
  r.sent_at = parse_opt_time(s.opt_text(11), "outbox.sent_at");
  r.last_error = s.text(12);
  r.card_id = s.opt_text(13);
  return r;
}

std::vector<Count> read_counts(StatementCache::Lease& s) {
  std::vector<Count> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2)});
  return out;
}

}  // namespace dunning::store::sqlite
