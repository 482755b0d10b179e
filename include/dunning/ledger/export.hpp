// Raw ledger export for reconciliation: one line per ledger row, amounts as integer minor units
// plus the ISO 4217 code (and the exact major-unit decimal), times in ISO 8601 UTC, and the ids
// (customer, subscription, invoice, payment) that join with the billing system. Totals are per
// currency; different currencies are never added together.
#pragma once

#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/store/ledger_book.hpp"

namespace dunning::ledger {

struct Totals {
  // kind's name (store::to_string) → currency → minor units
  std::map<std::string, std::map<std::string, std::int64_t>> amount;
  std::map<std::string, int> count;  // kind → rows
};

// Writes the ledger rows with occurred_at in [from, to) and returns their totals.
Totals write_csv(store::LedgerBook& ledger, std::optional<TimePoint> from,
                 std::optional<TimePoint> to, std::ostream& out);
Totals write_json(store::LedgerBook& ledger, std::optional<TimePoint> from,
                  std::optional<TimePoint> to, std::ostream& out);

// RFC 4180 field quoting.
std::string csv_field(const std::string& s);

// A JSON document {"<key>": [rows...], more fields...} written one row at a time, laid out as
// nlohmann's dump(2) lays it out: a listing's memory does not grow with its rows.
class JsonRowsWriter {
 public:
  JsonRowsWriter(std::ostream& out, const std::string& key);  // writes up to the rows' `[`
  void row(const nlohmann::json& row);
  // The rows' closing `]`, then one more top-level field per call; finish() ends the document.
  void field(const std::string& key, const nlohmann::json& value);
  void finish();

 private:
  void close_rows();
  std::ostream& out_;
  bool rows_open_ = true;
  bool any_row_ = false;
};

}  // namespace dunning::ledger
