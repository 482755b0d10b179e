// The finance report: recovered / lost / open money per currency, recovery rate and days to
// recover, a funnel per sequence, uplift against the holdout group and the lifetime value
// preserved. One document (JSON) is computed by streaming the store; every output format
// (table, csv, json, html) renders that same document, so the numbers agree by construction.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/store/report_queries.hpp"

namespace dunning::ledger {

struct ReportOptions {
  std::optional<TimePoint> from;  // cases opened at or after (inclusive)
  std::optional<TimePoint> to;    // cases opened before (exclusive)
  // Outcomes and retention are taken as recorded up to this time.
  TimePoint as_of;
  // "" (one group "all") | month | week | sequence | step | decline_code | currency | channel
  std::string by;
  // Cap on the expected remaining lifetime of a recovered subscription, in months.
  int ltv_horizon_months = 36;
};

// True when `by` is one of the grouping dimensions above.
bool valid_group_by(const std::string& by);

// Computes the report. Memory is bounded by the number of groups, currencies, weeks and distinct
// days-to-recover values, never by the number of cases.
nlohmann::json build_report(store::ReportQueries& reports, const ReportOptions& opt);

// Newcombe's hybrid score interval (method 10, from two Wilson score intervals) for the
// difference of two proportions x1/n1 - x0/n0 at 95%. REQUIRES: n1 > 0 and n0 > 0.
struct Interval {
  double low = 0;
  double high = 0;
};
Interval wilson_interval(std::int64_t x, std::int64_t n);
Interval newcombe_difference(std::int64_t x1, std::int64_t n1, std::int64_t x0, std::int64_t n0);

void write_report_json(const nlohmann::json& report, std::ostream& out);
// Long format: section,group,currency,metric,value (one line per figure of the json document).
void write_report_csv(const nlohmann::json& report, std::ostream& out);
void write_report_table(const nlohmann::json& report, std::ostream& out);
// One self-contained HTML file: inline CSS and SVG charts, no scripts, no external assets.
// Every figure carries data-key (its JSON pointer in the json report) and data-value.
void write_report_html(const nlohmann::json& report, std::ostream& out);
// The report's charts alone, as inline SVG (the same drawings as the HTML report): recovered
// revenue per week, one chart per currency, then the funnel of each sequence. For pages that
// show the report's numbers themselves (the console).
void write_report_charts(const nlohmann::json& report, std::ostream& out);

}  // namespace dunning::ledger
