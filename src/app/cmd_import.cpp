#include <algorithm>
#include <fstream>
#include <iostream>

#include "app/commands.hpp"
#include "dunning/ingest/csv.hpp"

namespace dunning::app {

namespace {

// " (did you mean 'time_zone'?)" when a known column is close to `name`, else "".
std::string closest_hint(const std::string& name, const std::vector<std::string>& known) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
      std::size_t diagonal = row[0];
      row[0] = i;
      for (std::size_t j = 1; j <= b.size(); ++j) {
        const std::size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    return row[b.size()];
  };
  std::string best;
  std::size_t best_distance = 4;
  for (const auto& k : known) {
    // An abbreviation (tz: time_zone) or a misspelling (emial: email).
    const bool initials = name.size() >= 2 && k.find('_') != std::string::npos &&
                          k.front() == name.front() && k[k.find('_') + 1] == name.back();
    const std::size_t d = initials ? 1 : distance(name, k);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean '" + best + "'?)";
}

struct ImportStats {
  int rows = 0;
  int changed = 0;
  int rejected = 0;
};

// Streams one CSV file into the store: header-mapped columns, one transaction per batch, every
// rejected row reported with its line number. Rows are upserts / appended facts keyed by id, so
// importing the same file again changes nothing.
bool import_file(store::Database& db, store::FactsWriter& facts, const std::string& path,
                 ingest::CsvKind kind, int batch_size, ImportStats& stats) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "dunningd: cannot read " << path << '\n';
    return false;
  }
  ingest::CsvReader reader(in);
  auto header_row = reader.next();
  if (!header_row) {
    std::cerr << path << ": empty file (a header line is required)\n";
    return false;
  }
  std::map<std::string, std::size_t> header;
  for (std::size_t i = 0; i < header_row->size(); ++i) {
    std::string name = (*header_row)[i];
    if (i == 0 && name.rfind("\xEF\xBB\xBF", 0) == 0) name = name.substr(3);  // BOM
    while (!name.empty() && name.back() == ' ') name.pop_back();
    while (!name.empty() && name.front() == ' ') name.erase(0, 1);
    header[name] = i;
  }
  // A column dunningd does not know is refused, not ignored: `tz` for `time_zone` would import
  // every customer without a time zone.
  const auto known = ingest::csv_known_columns(kind);
  for (const auto& [name, index] : header) {
    if (std::find(known.begin(), known.end(), name) != known.end()) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    std::cerr << path << ":1: unknown column '" << name << "'" << closest_hint(name, known)
              << " (the columns are " << list << "); nothing was imported from this file\n";
    return false;
  }
  for (const auto& col : ingest::csv_required_columns(kind)) {
    if (!header.count(col)) {
      std::cerr << path << ":1: the header has no '" << col << "' column\n";
      return false;
    }
  }
  SystemClock clock;
  auto now = clock.now();
  std::vector<ingest::Fact> batch;
  auto flush = [&] {
    if (batch.empty()) return;
    store::Tx tx(db);
    for (const auto& f : batch) stats.changed += ingest::apply_fact(facts, f) ? 1 : 0;
    tx.commit();
    batch.clear();
  };
  while (auto row = reader.next()) {
    ++stats.rows;
    auto fact = ingest::csv_fact(kind, header, *row, now);
    if (!fact) {
      ++stats.rejected;
      std::cerr << path << ":" << reader.line() << ": rejected: " << fact.error().field << " "
                << fact.error().message << '\n';
      continue;
    }
    batch.push_back(std::move(fact).value());
    if (static_cast<int>(batch.size()) >= batch_size) flush();
  }
  flush();
  return true;
}

}  // namespace

Command add_import_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("import", "import customers, cards and payments from CSV files");
  add_config_option(sub, cli);
  struct Options {
    std::string customers, cards, payments;
    int batch = 1000;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("--customers", opt->customers,
                  "CSV with id,email,name,locale,time_zone,phone,created_at");
  sub->add_option("--cards", opt->cards,
                  "CSV with id,customer_id,brand,last4,exp_month,exp_year,is_default,updated_at");
  sub->add_option("--payments", opt->payments,
                  "CSV with id,customer_id,subscription_id,invoice_id,amount_minor,currency,"
                  "status,decline_code,message,occurred_at");
  sub->add_option("--batch", opt->batch, "rows per transaction")->capture_default_str();
  return {sub, [&cli, opt]() -> int {
            if (opt->customers.empty() && opt->cards.empty() && opt->payments.empty()) {
              std::cerr << "dunningd: nothing to import (--customers, --cards, --payments)\n";
              return kExitConfig;
            }
            auto cfg = load_or_report(cli.config_file);
            if (!cfg) return kExitConfig;
            auto store = open_store(*cfg, store::OpenMode::kCreate);
            if (!store) return kExitFailure;
            bool ok = true;
            int rejected = 0;
            // Customers first, then their cards, then payments.
            const std::pair<const std::string*, ingest::CsvKind> files[] = {
                {&opt->customers, ingest::CsvKind::kCustomers},
                {&opt->cards, ingest::CsvKind::kCards},
                {&opt->payments, ingest::CsvKind::kPayments}};
            for (const auto& [path, kind] : files) {
              if (path->empty()) continue;
              ImportStats stats;
              ok = import_file(store->db(), store->facts(), *path, kind, std::max(1, opt->batch),
                               stats) &&
                   ok;
              rejected += stats.rejected;
              std::cout << *path << ": " << stats.rows << " rows, " << stats.changed << " changed, "
                        << stats.rejected << " rejected\n";
            }
            if (!ok) return kExitFailure;
            return rejected > 0 ? kExitConfig : kExitOk;
          }};
}

}  // namespace dunning::app
