// CSV import: a streaming RFC 4180 reader (quoted fields, doubled quotes, CRLF) and the mapping of
// customers / cards / payments rows (by header name) to facts.
#pragma once

#include <istream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dunning/ingest/event.hpp"

namespace dunning::ingest {

class CsvReader {
 public:
  explicit CsvReader(std::istream& in) : in_(in) {}
  // The next record; nullopt at the end. `line()` is the line the record started on.
  std::optional<std::vector<std::string>> next();
  int line() const { return record_line_; }

 private:
  std::istream& in_;
  int line_ = 1;
  int record_line_ = 0;
};

enum class CsvKind { kCustomers, kCards, kPayments };

// Maps one record to a fact using `header` (column name -> index). `now` fills missing
// updated_at values.
Result<Fact> csv_fact(CsvKind kind, const std::map<std::string, std::size_t>& header,
                      const std::vector<std::string>& row, TimePoint now);

// The column names a kind requires (reported when the header lacks them).
std::vector<std::string> csv_required_columns(CsvKind kind);
// Every column csv_fact reads for a kind; a header naming another one is refused by the import
// (a misspelt `tz` would otherwise be dropped without a word).
std::vector<std::string> csv_known_columns(CsvKind kind);

}  // namespace dunning::ingest
