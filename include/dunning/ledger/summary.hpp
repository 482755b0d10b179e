// The finance report: recovered / lost / open money per currency, recovery rate and days to
// recover, a funnel per sequence, uplift against the holdout group and the lifetime value
// preserved. build_report computes one typed Report by streaming the store; every output format
// (json, csv, table, html) renders that same value, so the numbers agree by construction.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/names.hpp"
#include "dunning/store/report_queries.hpp"

namespace dunning::ledger {

// What a report's cases are grouped by. The command line's --by, the console's `by` and the
// report's group_by all spell it through this table, in this order.
enum class GroupBy { kMonth, kWeek, kSequence, kStep, kDeclineCode, kCurrency, kChannel };
inline constexpr Names<GroupBy, 7> kGroupByNames{{{
    {GroupBy::kMonth, "month"},
    {GroupBy::kWeek, "week"},
    {GroupBy::kSequence, "sequence"},
    {GroupBy::kStep, "step"},
    {GroupBy::kDeclineCode, "decline_code"},
    {GroupBy::kCurrency, "currency"},
    {GroupBy::kChannel, "channel"},
}}};
constexpr std::string_view to_string(GroupBy g) { return kGroupByNames.name(g); }
// nullopt for text that names no grouping.
constexpr std::optional<GroupBy> parse_group_by(std::string_view text) {
  return kGroupByNames.parse(text);
}

struct ReportOptions {
  std::optional<TimePoint> from;  // cases opened at or after (inclusive)
  std::optional<TimePoint> to;    // cases opened before (exclusive)
  // Outcomes and retention are taken as recorded up to this time.
  TimePoint as_of;
  std::optional<GroupBy> by;  // nullopt: not grouped (the one group "all")
  // Cap on the expected remaining lifetime of a recovered subscription, in months.
  int ltv_horizon_months = 36;
};

// Newcombe's hybrid score interval (method 10, from two Wilson score intervals) for the
// difference of two proportions x1/n1 - x0/n0 at 95%. REQUIRES: n1 > 0 and n0 > 0.
struct Interval {
  double low = 0;
  double high = 0;
};
Interval wilson_interval(std::int64_t x, std::int64_t n);
Interval newcombe_difference(std::int64_t x1, std::int64_t n1, std::int64_t x0, std::int64_t n0);

// ---- The report. Every Money of it is of one currency, the key of the map that holds it (or
// of the enclosing one); amounts of different currencies are never added.

// Money and how many cases or payments it is made of.
struct CountedMoney {
  std::int64_t count = 0;
  Money money;
};

// The median of the days to recover as the two middle values of the sorted days (equal when
// the count is odd or they are the same day). Kept as the pair because the report writes a
// median of one day as a whole number and a midpoint between two days as a decimal.
struct MedianDays {
  int low = 0;
  int high = 0;
  bool whole() const { return low == high; }
  double days() const { return (static_cast<double>(low) + static_cast<double>(high)) / 2.0; }
};

// One currency of a group. `cases`, `failed`, `recovery_rate` and `open` are about the cases
// whose invoice is in this currency; every other figure is money that moved in this currency
// (a USD invoice paid in EUR is a USD case and EUR money).
struct CurrencyFigures {
  std::int64_t cases = 0;
  Money failed;  // the failed amount of all cases ("amount" in the json report)
  CountedMoney recovered, recovered_without_contact, recovered_total;
  // refunded: positive amounts, already taken off the others
  CountedMoney partial, late, refunded;
  Money net_recovered;  // recovered_total + partial + late, each net of its refunds
  CountedMoney lost, cancelled, open;
  std::optional<double> recovery_rate;               // none without cases
  std::optional<MedianDays> median_days_to_recover;  // none without recoveries
};

// The figures of a group of cases, per currency; counts and days across currencies.
struct GroupFigures {
  std::int64_t cases = 0;
  std::int64_t recovered_count = 0;
  std::optional<double> recovery_rate;
  std::optional<MedianDays> median_days_to_recover;
  std::map<std::string, CurrencyFigures> currencies;  // by ISO 4217 code
};

// One step of a sequence: the cases whose message for it was sent, and those recovered after it
// (before the next step).
struct FunnelStep {
  int step = 0;  // 1-based
  std::string channel;
  std::string template_name;  // the template, or the action of an action step
  std::int64_t reached = 0;
  std::int64_t recovered_after = 0;
  std::map<std::string, Money> recovered_after_amount;  // by currency
};

struct SequenceFunnel {
  std::int64_t cases = 0;
  std::int64_t recovered_without_contact = 0;
  std::vector<FunnelStep> steps;  // in step order, only steps some case reached
};

struct UpliftSide {
  std::int64_t cases = 0;
  std::int64_t recovered = 0;
  std::optional<double> recovery_rate;
};

// Contacted minus holdout recovery rate, with its 95% interval.
struct RateDifference {
  double difference = 0;
  Interval ci95;
  bool significant = false;  // the interval excludes 0
};

// The holdout side of the revenue attributable to dunning in one currency.
struct HoldoutEstimate {
  Money holdout_failed, holdout_recovered;
  Money expected_without_dunning;  // round(holdout_recovered * contacted_failed / holdout_failed)
  Money attributable;              // contacted_recovered - expected_without_dunning
};

struct AttributableRevenue {
  Money contacted_failed, contacted_recovered;
  std::optional<HoldoutEstimate> estimate;  // none without holdout cases in the currency
  std::string note;                         // why there is no estimate
};

struct Uplift {
  std::string method;  // how the difference and its interval are computed, in words
  UpliftSide contacted, holdout;
  std::optional<RateDifference> difference;  // needs both contacted and holdout cases
  std::string note;                          // why there is no difference
  std::string attributable_formula;
  std::map<std::string, AttributableRevenue> attributable;  // by currency
};

struct LtvInputs {
  std::int64_t observed_recovered_subscriptions = 0;
  std::int64_t observed_seconds = 0;
  std::int64_t ended = 0;
  std::int64_t horizon_months = 0;
  double expected_lifetime_months = 0;
  std::int64_t recoveries_without_payment_history = 0;
};

struct LtvCurrency {
  std::int64_t subscriptions = 0;
  Money preserved;
};

struct LtvPreserved {
  std::string formula;
  LtvInputs inputs;
  std::map<std::string, LtvCurrency> currencies;  // by currency
};

struct ReportPeriod {
  std::optional<TimePoint> from;  // cases opened at or after
  std::optional<TimePoint> to;    // cases opened before
};

struct Report {
  ReportPeriod period;
  TimePoint as_of;
  std::string population;  // which cases and amounts the figures are about, in words
  std::string group_by;    // the ReportOptions' `by` by name, "all" when not grouped
  GroupFigures totals;
  // By group key; not grouped, the one group "all" (the totals).
  std::map<std::string, GroupFigures> groups;
  std::map<std::string, SequenceFunnel> funnel;  // by sequence id
  // Recovered revenue per currency, then per week of the payment (its Monday, YYYY-MM-DD).
  std::map<std::string, std::map<std::string, Money>> weekly_recovered;
  Uplift uplift;
  LtvPreserved ltv_preserved;
};

// Computes the report. Memory is bounded by the number of groups, currencies, weeks and distinct
// days-to-recover values, never by the number of cases.
Report build_report(store::ReportQueries& reports, const ReportOptions& opt);

// One figure of the report as its JSON document holds it (null, a boolean, a whole number, a
// decimal or a text), for the formats that show a figure's JSON text next to its display text:
// the CSV's values, the data-value of the HTML report and of the console.
using Figure = std::variant<std::monostate, bool, std::int64_t, double, std::string>;
Figure figure(const std::optional<double>& v);
// A median of one day is a whole number, a midpoint between two days a decimal.
Figure figure(const std::optional<MedianDays>& m);
Figure figure(const std::optional<TimePoint>& t);  // ISO 8601
// The figure's JSON text exactly as write_report_json writes it: "null", "3", "0.25", "\"12.50\""
// (decimals in the JSON library's shortest round-trip form).
std::string json_text(const Figure& f);

// The report as one JSON document (keys sorted), the form the other formats' data keys name.
void write_report_json(const Report& report, std::ostream& out);
// Long format: section,group,currency,metric,value (one line per figure of the json document).
void write_report_csv(const Report& report, std::ostream& out);
void write_report_table(const Report& report, std::ostream& out);
// One self-contained HTML file: inline CSS and SVG charts, no scripts, no external assets.
// Every figure carries data-key (its JSON pointer in the json report) and data-value.
void write_report_html(const Report& report, std::ostream& out);
// The report's charts alone, as inline SVG (the same drawings as the HTML report): recovered
// revenue per week, one chart per currency, then the funnel of each sequence. For pages that
// show the report's numbers themselves (the console).
void write_report_charts(const Report& report, std::ostream& out);

}  // namespace dunning::ledger
