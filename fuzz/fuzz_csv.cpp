// CSV import: the reader over any bytes, then every record mapped as customers, cards and
// payments by the header row; what is accepted is clean (see fact_checks.hpp).
#include <sstream>

#include "dunning/ingest/csv.hpp"
#include "fact_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  std::istringstream in{std::string(fuzz::view(data, size))};
  ingest::CsvReader reader(in);
  std::map<std::string, std::size_t> header;
  int records = 0;
  while (auto row = reader.next()) {
    if (++records > 10000) break;
    if (header.empty()) {
      for (std::size_t i = 0; i < row->size(); ++i) header.emplace((*row)[i], i);
      if (header.empty()) header.emplace("", 0);
      continue;
    }
    for (auto kind :
         {ingest::CsvKind::kCustomers, ingest::CsvKind::kCards, ingest::CsvKind::kPayments}) {
      auto fact = ingest::csv_fact(kind, header, *row, fuzz::now());
      if (auto* f = (fact.ok() ? &fact.value() : nullptr)) fuzz::check_accepted(*f);
    }
  }
  return 0;
}
