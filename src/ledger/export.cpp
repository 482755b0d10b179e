#include "dunning/ledger/export.hpp"

#include <nlohmann/json.hpp>

namespace dunning::ledger {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

namespace {

void add(Totals& t, const store::LedgerEntry& e) {
  const std::string kind(store::to_string(e.kind));
  t.amount[kind][e.amount.currency()] += e.amount.minor();
  t.count[kind] += 1;
}

std::string opt_time(const std::optional<TimePoint>& t) {
  return t ? format_iso8601(*t) : std::string();
}

// `j` as dump(2) lays it out `depth` spaces into a document (its first line continues one).
std::string nested(const nlohmann::json& j, int depth) {
  const std::string pad(static_cast<std::size_t>(depth), ' ');
  std::string out;
  for (char c : j.dump(2)) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}
}  // namespace

Totals write_csv(store::LedgerBook& ledger, std::optional<TimePoint> from,
                 std::optional<TimePoint> to, std::ostream& out) {
  Totals t;
  out << "ledger_id,case_id,kind,customer_id,subscription_id,invoice_id,payment_id,amount_minor,"
         "currency,amount,sequence_id,step,channel,template,attribution,clicked_at,decline_code,"
         "opened_at,occurred_at,days_to_recover,recorded_at,corrects,note\n";
  ledger.for_each(from, to, [&](const store::LedgerEntry& e) {
    add(t, e);
    out << e.id << ',' << e.case_id << ',' << store::to_string(e.kind) << ','
        << csv_field(e.customer_id) << ',' << csv_field(e.subscription_id.value_or("")) << ','
        << csv_field(e.invoice_id.value_or("")) << ',' << csv_field(e.payment_id.value_or(""))
        << ',' << e.amount.minor() << ',' << e.amount.currency() << ',' << e.amount.major_string()
        << ',' << csv_field(e.sequence_id) << ','
        << (e.step_index ? std::to_string(*e.step_index + 1) : "") << ',' << csv_field(e.channel)
        << ',' << csv_field(e.template_name) << ',' << store::to_string(e.attribution) << ','
        << opt_time(e.clicked_at) << ',' << csv_field(e.decline_code) << ','
        << format_iso8601(e.opened_at) << ',' << format_iso8601(e.occurred_at) << ','
        << (e.days_to_recover ? std::to_string(*e.days_to_recover) : "") << ','
        << format_iso8601(e.recorded_at) << ',' << (e.corrects ? std::to_string(*e.corrects) : "")
        << ',' << csv_field(e.note) << '\n';
  });
  return t;
}

Totals write_json(store::LedgerBook& ledger, std::optional<TimePoint> from,
                  std::optional<TimePoint> to, std::ostream& out) {
  Totals t;
  JsonRowsWriter doc(out, "rows");
  ledger.for_each(from, to, [&](const store::LedgerEntry& e) {
    add(t, e);
    doc.row({{"ledger_id", e.id},
             {"case_id", e.case_id},
             {"kind", store::to_string(e.kind)},
             {"customer_id", e.customer_id},
             {"invoice_id", e.invoice_id.value_or("")},
             {"payment_id", e.payment_id.value_or("")},
             {"amount_minor", e.amount.minor()},
             {"currency", e.amount.currency()},
             {"amount", e.amount.major_string()},
             {"sequence_id", e.sequence_id},
             {"step", e.step_index ? nlohmann::json(*e.step_index + 1) : nlohmann::json()},
             {"channel", e.channel},
             {"template", e.template_name},
             {"decline_code", e.decline_code},
             {"opened_at", format_iso8601(e.opened_at)},
             {"occurred_at", format_iso8601(e.occurred_at)},
             {"recorded_at", format_iso8601(e.recorded_at)},
             {"subscription_id", e.subscription_id.value_or("")},
             {"attribution", store::to_string(e.attribution)},
             {"clicked_at", opt_time(e.clicked_at)},
             {"days_to_recover",
              e.days_to_recover ? nlohmann::json(*e.days_to_recover) : nlohmann::json()},
             {"corrects", e.corrects ? nlohmann::json(*e.corrects) : nlohmann::json()},
             {"note", e.note}});
  });
  // The totals come after the rows: they are known once every row is written.
  nlohmann::json totals = nlohmann::json::object();
  for (const auto& [kind, per_currency] : t.amount) {
    for (const auto& [currency, minor] : per_currency) {
      totals[kind][currency] = {{"amount_minor", minor},
                                {"amount", Money(minor, currency).major_string()}};
    }
  }
  doc.field("totals", totals);
  doc.field("counts", t.count);
  doc.finish();
  return t;
}

JsonRowsWriter::JsonRowsWriter(std::ostream& out, const std::string& key) : out_(out) {
  out_ << "{\n  " << nlohmann::json(key).dump() << ": [";
}

void JsonRowsWriter::row(const nlohmann::json& row) {
  out_ << (any_row_ ? ",\n    " : "\n    ") << nested(row, 4);
  any_row_ = true;
}

void JsonRowsWriter::close_rows() {
  if (!rows_open_) return;
  out_ << (any_row_ ? "\n  ]" : "]");
  rows_open_ = false;
}

void JsonRowsWriter::field(const std::string& key, const nlohmann::json& value) {
  close_rows();
  out_ << ",\n  " << nlohmann::json(key).dump() << ": " << nested(value, 2);
}

void JsonRowsWriter::finish() {
  close_rows();
  out_ << "\n}\n";
}

}  // namespace dunning::ledger
