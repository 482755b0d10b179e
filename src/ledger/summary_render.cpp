// Renderers of the finance report (see summary.hpp): csv, table and html all read the Report
// that build_report computed, so they cannot disagree with `--format json`. Each figure they
// show names its place in the json document (the CSV's metric paths, the HTML's data-key), and
// where they list a part of the document they list it in the document's order (keys sorted).
#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>
#include <utility>
#include <vector>

#include "dunning/ledger/export.hpp"
#include "dunning/ledger/summary.hpp"

namespace dunning::ledger {

namespace {

// A figure as plain text: nothing for null, a text without quotes, a number as in the json.
std::string scalar_text(const Figure& v) {
  if (std::holds_alternative<std::monostate>(v)) return "";
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  return json_text(v);
}

Figure text_figure(std::string s) { return Figure{std::move(s)}; }

// The uplift's difference, its interval and whether it is significant: all null without one.
struct DifferenceFigures {
  Figure difference, ci95_low, ci95_high, significant;
};

DifferenceFigures difference_figures(const Uplift& u) {
  if (!u.difference) return {};
  const RateDifference& d = *u.difference;
  return {d.difference, d.ci95.low, d.ci95.high, d.significant};
}

// The LTV inputs in the document's order, for every format that lists them.
std::vector<std::pair<std::string, Figure>> ltv_inputs(const LtvInputs& in) {
  return {{"ended", in.ended},
          {"expected_lifetime_months", in.expected_lifetime_months},
          {"horizon_months", in.horizon_months},
          {"observed_recovered_subscriptions", in.observed_recovered_subscriptions},
          {"observed_seconds", in.observed_seconds},
          {"recoveries_without_payment_history", in.recoveries_without_payment_history}};
}

// ---- the long format: every figure with its path in the json document

using Emit =
    std::function<void(const std::string& section, const std::string& group,
                       const std::string& currency, const std::string& metric, const Figure& v)>;
// One figure of a part whose section, group and currency are already chosen.
using Leaf = std::function<void(const std::string& metric, const Figure& v)>;

// The Leaf of one part of the report. Its names are copied in: the parts are walked with
// structured bindings, which a lambda of the caller could not capture on every compiler.
Leaf leaf_of(const Emit& emit, std::string section, std::string group, std::string currency) {
  return [&emit, section = std::move(section), group = std::move(group),
          currency = std::move(currency)](const std::string& metric, const Figure& v) {
    emit(section, group, currency, metric, v);
  };
}

std::string dotted(const std::string& prefix, const std::string& key) {
  return prefix.empty() ? key : prefix + "." + key;
}

void money_leaves(const std::string& prefix, const Money& m, const Leaf& leaf) {
  leaf(dotted(prefix, "amount"), text_figure(m.major_string()));
  leaf(dotted(prefix, "amount_minor"), m.minor());
}

void counted_leaves(const std::string& prefix, const CountedMoney& c, const Leaf& leaf) {
  money_leaves(prefix, c.money, leaf);
  leaf(dotted(prefix, "count"), c.count);
}

void currency_leaves(const CurrencyFigures& s, const Leaf& leaf) {
  money_leaves("amount", s.failed, leaf);
  counted_leaves("cancelled", s.cancelled, leaf);
  leaf("cases", s.cases);
  counted_leaves("late", s.late, leaf);
  counted_leaves("lost", s.lost, leaf);
  leaf("median_days_to_recover", figure(s.median_days_to_recover));
  money_leaves("net_recovered", s.net_recovered, leaf);
  counted_leaves("open", s.open, leaf);
  counted_leaves("partial", s.partial, leaf);
  counted_leaves("recovered", s.recovered, leaf);
  counted_leaves("recovered_total", s.recovered_total, leaf);
  counted_leaves("recovered_without_contact", s.recovered_without_contact, leaf);
  leaf("recovery_rate", figure(s.recovery_rate));
  counted_leaves("refunded", s.refunded, leaf);
}

void walk_group(const std::string& section, const std::string& group, const GroupFigures& g,
                const Emit& emit) {
  emit(section, group, "", "cases", g.cases);
  emit(section, group, "", "median_days_to_recover", figure(g.median_days_to_recover));
  emit(section, group, "", "recovered_count", g.recovered_count);
  emit(section, group, "", "recovery_rate", figure(g.recovery_rate));
  for (const auto& [cur, s] : g.currencies) currency_leaves(s, leaf_of(emit, section, group, cur));
}

void walk_funnel(const std::map<std::string, SequenceFunnel>& funnel, const Emit& emit) {
  for (const auto& [seq, f] : funnel) {
    emit("funnel", seq, "", "cases", f.cases);
    emit("funnel", seq, "", "recovered_without_contact", f.recovered_without_contact);
    for (const auto& step : f.steps) {
      const std::string p = "step " + std::to_string(step.step) + ".";
      emit("funnel", seq, "", p + "channel", text_figure(step.channel));
      emit("funnel", seq, "", p + "template", text_figure(step.template_name));
      emit("funnel", seq, "", p + "reached", step.reached);
      emit("funnel", seq, "", p + "recovered_after", step.recovered_after);
      for (const auto& [cur, m] : step.recovered_after_amount) {
        emit("funnel", seq, cur, p + "recovered_after_amount.amount_minor", m.minor());
        emit("funnel", seq, cur, p + "recovered_after_amount.amount",
             text_figure(m.major_string()));
      }
    }
  }
}

void walk_uplift(const Uplift& u, const Emit& emit) {
  const Leaf leaf = leaf_of(emit, "uplift", "", "");
  auto side = [&](const std::string& name, const UpliftSide& s) {
    leaf(name + ".cases", s.cases);
    leaf(name + ".recovered", s.recovered);
    leaf(name + ".recovery_rate", figure(s.recovery_rate));
  };
  const DifferenceFigures d = difference_figures(u);
  leaf("attributable_formula", text_figure(u.attributable_formula));
  leaf("ci95_high", d.ci95_high);
  leaf("ci95_low", d.ci95_low);
  side("contacted", u.contacted);
  leaf("difference", d.difference);
  side("holdout", u.holdout);
  leaf("method", text_figure(u.method));
  if (!u.difference) leaf("note", text_figure(u.note));
  leaf("significant", d.significant);
  for (const auto& [cur, a] : u.attributable) {
    const Leaf cur_leaf = leaf_of(emit, "uplift", "attributable", cur);
    if (a.estimate) {
      money_leaves("attributable", a.estimate->attributable, cur_leaf);
    } else {
      cur_leaf("attributable", std::monostate{});
    }
    money_leaves("contacted_failed", a.contacted_failed, cur_leaf);
    money_leaves("contacted_recovered", a.contacted_recovered, cur_leaf);
    if (a.estimate) {
      money_leaves("expected_without_dunning", a.estimate->expected_without_dunning, cur_leaf);
      money_leaves("holdout_failed", a.estimate->holdout_failed, cur_leaf);
      money_leaves("holdout_recovered", a.estimate->holdout_recovered, cur_leaf);
    } else {
      cur_leaf("note", text_figure(a.note));
    }
  }
}

void walk_ltv(const LtvPreserved& l, const Emit& emit) {
  emit("ltv_preserved", "", "", "formula", text_figure(l.formula));
  for (const auto& [key, v] : ltv_inputs(l.inputs)) emit("ltv_preserved", "", "", key, v);
  for (const auto& [cur, c] : l.currencies) {
    emit("ltv_preserved", "", cur, "amount", text_figure(c.preserved.major_string()));
    emit("ltv_preserved", "", cur, "amount_minor", c.preserved.minor());
    emit("ltv_preserved", "", cur, "subscriptions", c.subscriptions);
  }
}

// Every figure of the report, in a fixed order, as (section, group, currency, metric, value).
void walk(const Report& r, const Emit& emit) {
  emit("report", "", "", "from", figure(r.period.from));
  emit("report", "", "", "to", figure(r.period.to));
  emit("report", "", "", "as_of", text_figure(format_iso8601(r.as_of)));
  emit("report", "", "", "group_by", text_figure(r.group_by));
  walk_group("totals", "all", r.totals, emit);
  for (const auto& [key, g] : r.groups) walk_group("groups", key, g, emit);
  walk_funnel(r.funnel, emit);
  for (const auto& [cur, weeks] : r.weekly_recovered) {
    for (const auto& [week, m] : weeks) {
      emit("weekly_recovered", week, cur, "amount_minor", m.minor());
      emit("weekly_recovered", week, cur, "amount", text_figure(m.major_string()));
    }
  }
  walk_uplift(r.uplift, emit);
  walk_ltv(r.ltv_preserved, emit);
}

// ---- display text, for the table and the html

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string pointer(std::initializer_list<std::string> parts) {
  std::string p;
  for (const auto& part : parts) {
    p += '/';
    for (char c : part) {
      if (c == '~') {
        p += "~0";
      } else if (c == '/') {
        p += "~1";
      } else {
        p += c;
      }
    }
  }
  return p;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// How a decimal figure reads: rates and differences of rates as percentages, any other decimal
// (a median between two days, a lifetime in months) with two decimals.
enum class Decimal { kPlain, kPercent };

// Display text of a figure: decimals as `how` says, everything else exactly as in the json.
std::string display(const Figure& v, Decimal how = Decimal::kPlain) {
  if (std::holds_alternative<std::monostate>(v)) return "–";
  if (const auto* d = std::get_if<double>(&v)) {
    return how == Decimal::kPercent ? fixed(*d * 100.0, 2) + "%" : fixed(*d, 2);
  }
  return scalar_text(v);
}

// A table cell holding the figure `v`, which is at `ptr` in the json report.
std::string cell(const std::string& ptr, const Figure& v, Decimal how = Decimal::kPlain) {
  return "<td data-key=\"" + html_escape(ptr) + "\" data-value=\"" + html_escape(json_text(v)) +
         "\">" + html_escape(display(v, how)) + "</td>";
}

// The money figures of a currency in the order the tables show them.
std::vector<std::pair<const char*, const CountedMoney*>> counted_columns(const CurrencyFigures& s) {
  return {{"recovered", &s.recovered}, {"recovered_without_contact", &s.recovered_without_contact},
          {"partial", &s.partial},     {"late", &s.late},
          {"refunded", &s.refunded},   {"lost", &s.lost},
          {"cancelled", &s.cancelled}, {"open", &s.open}};
}

// One row per currency of group `g`, labelled `label`; `base` is the group's JSON pointer.
void group_rows(std::ostream& out, const std::string& base, const std::string& label,
                const GroupFigures& g) {
  for (const auto& [cur, s] : g.currencies) {
    const std::string p = base + pointer({"currencies", cur});
    out << "<tr><td>" << html_escape(label) << "</td><td>" << cur << "</td>"
        << cell(p + "/cases", s.cases);
    for (const auto& [k, b] : counted_columns(s)) {
      out << cell(p + "/" + k + "/amount", text_figure(b->money.major_string()))
          << cell(p + "/" + k + "/count", b->count);
    }
    out << cell(p + "/net_recovered/amount", text_figure(s.net_recovered.major_string()))
        << cell(p + "/recovery_rate", figure(s.recovery_rate), Decimal::kPercent)
        << cell(p + "/median_days_to_recover", figure(s.median_days_to_recover)) << "</tr>\n";
  }
}

void group_table_head(std::ostream& out) {
  out << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">group</th><th "
         "scope=\"col\">currency</th><th scope=\"col\">cases</th><th scope=\"col\">recovered</th>"
         "<th scope=\"col\">count</th><th scope=\"col\">without contact</th><th "
         "scope=\"col\">count</th><th scope=\"col\">partial</th><th scope=\"col\">count</th>"
         "<th scope=\"col\">late</th><th scope=\"col\">count</th><th scope=\"col\">refunded"
         "</th><th scope=\"col\">count</th><th scope=\"col\">lost</th><th scope=\"col\">count</th>"
         "<th scope=\"col\">cancelled</th><th scope=\"col\">count</th><th "
         "scope=\"col\">open</th><th scope=\"col\">count</th><th scope=\"col\">net recovered</th>"
         "<th scope=\"col\">recovery rate</th><th scope=\"col\">median days</th></tr></thead>"
         "<tbody>\n";
}

void group_table_end(std::ostream& out) { out << "</tbody></table></div>\n"; }

// ---- charts

// One week of the weekly axis: recorded in the report, or a week without recoveries (0).
struct Week {
  std::string start;  // the Monday, YYYY-MM-DD (the report's keys)
  std::int64_t minor = 0;
  std::string amount;
  bool recorded = false;
};

// Every week from the period's first (or the first recorded) to the week of as_of (or the last
// recorded), so that weeks without recoveries show as 0 instead of closing up the axis. At most
// ten years of weeks; beyond that only the recorded ones.
std::vector<Week> weekly_axis(const Report& r, const std::string& cur,
                              const std::map<std::string, Money>& weeks) {
  std::vector<Week> recorded;
  recorded.reserve(weeks.size());
  for (const auto& [week, m] : weeks) recorded.push_back({week, m.minor(), m.major_string(), true});
  auto monday = [](TimePoint t) {
    const auto d = std::chrono::floor<date::days>(t);
    return d - (date::weekday{d} - date::Monday);
  };
  auto day = [](const std::string& text) -> std::optional<date::sys_days> {
    auto t = parse_iso8601(text);
    if (!t) return std::nullopt;
    return std::chrono::floor<date::days>(*t);
  };
  std::optional<date::sys_days> first, last;
  if (!recorded.empty()) {
    first = day(recorded.front().start);
    last = day(recorded.back().start);
  }
  if (r.period.from) {
    const auto m = monday(*r.period.from);
    first = first ? std::min(*first, m) : m;
  }
  const auto as_of_week = monday(r.as_of);
  last = last ? std::max(*last, as_of_week) : as_of_week;
  if (!first || !last || *last < *first || (*last - *first).count() > 7 * 522) return recorded;
  std::vector<Week> axis;
  std::size_t next = 0;
  for (auto d = *first; d <= *last; d += date::days(7)) {
    const std::string key = date::format("%F", d);
    if (next < recorded.size() && recorded[next].start == key) {
      axis.push_back(recorded[next++]);
    } else {
      axis.push_back({key, 0, Money(0, cur).major_string(), false});
    }
  }
  // A recorded week off the Monday grid (never, unless the report changes): keep it anyway.
  for (; next < recorded.size(); ++next) axis.push_back(recorded[next]);
  return axis;
}

void weekly_chart(std::ostream& out, const std::string& cur, const std::vector<Week>& weeks) {
  const int width = 1000, height = 260, left = 90, bottom = 60, top = 20;
  std::int64_t max_minor = 1;
  for (const auto& w : weeks) max_minor = std::max(max_minor, w.minor);
  const bool any_recorded =
      std::any_of(weeks.begin(), weeks.end(), [](const Week& w) { return w.recorded; });
  const int n = static_cast<int>(weeks.size());
  const double slot = n > 0 ? static_cast<double>(width - left - 10) / n : 0;
  // The viewBox scales the chart to its container's width (width 100%), phone or desktop.
  out << "<svg class=\"chart weekly\" xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" "
         "viewBox=\"0 0 "
      << width << ' ' << height
      << "\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\" "
         "aria-label=\"recovered revenue per week in "
      << cur << "\">\n"
      << "<line x1=\"" << left << "\" y1=\"" << height - bottom << "\" x2=\"" << width - 10
      << "\" y2=\"" << height - bottom << "\" stroke=\"#444\"/>\n"
      << "<text x=\"4\" y=\"" << top + 10 << "\" class=\"axis\">"
      << html_escape(any_recorded ? Money(max_minor, cur).major_string() : std::string("0")) << ' '
      << cur << "</text>\n";
  // Every label when they fit, else every k-th, so that they never overlap.
  const int every = std::max(1, static_cast<int>(std::ceil(n * 44.0 / (width - left - 10))));
  int i = 0;
  for (auto w = weeks.begin(); w != weeks.end(); ++w, ++i) {
    const double h =
        static_cast<double>(w->minor) / static_cast<double>(max_minor) * (height - bottom - top);
    const double x = left + i * slot + slot * 0.1;
    out << "<g><rect x=\"" << fixed(x, 1) << "\" y=\"" << fixed(height - bottom - h, 1)
        << "\" width=\"" << fixed(slot * 0.8, 1) << "\" height=\"" << fixed(h, 1)
        << "\" fill=\"#2a7ab0\"><title>" << w->start << ": " << html_escape(w->amount) << ' ' << cur
        << "</title></rect>";
    if (i % every == 0) {
      out << "<text x=\"" << fixed(x + slot * 0.4, 1) << "\" y=\"" << height - bottom + 16
          << "\" text-anchor=\"middle\" class=\"tick\">" << w->start.substr(5) << "</text>";
    }
    out << "</g>\n";
  }
  out << "</svg>\n";
}

std::string step_label(const FunnelStep& s) {
  return "#" + std::to_string(s.step) + " " + s.channel + " " + s.template_name;
}

void funnel_chart(std::ostream& out, const std::string& seq, const SequenceFunnel& f) {
  const int width = 1000, row = 34, left = 260;
  const int height = row * (static_cast<int>(f.steps.size()) + 1) + 20;
  const double max_cases = std::max<double>(1.0, static_cast<double>(f.cases));
  out << "<svg class=\"chart funnel\" xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" "
         "viewBox=\"0 0 "
      << width << ' ' << height
      << "\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\" aria-label=\"funnel of "
      << html_escape(seq) << "\">\n";
  auto bar = [&](int y, const std::string& label, std::int64_t value, std::int64_t recovered) {
    const double w = static_cast<double>(value) / max_cases * (width - left - 80);
    const double wr = static_cast<double>(recovered) / max_cases * (width - left - 80);
    out << "<g><text x=\"4\" y=\"" << y + 20 << "\" class=\"label\">" << html_escape(label)
        << "</text><rect x=\"" << left << "\" y=\"" << y + 4 << "\" width=\"" << fixed(w, 1)
        << "\" height=\"" << row - 8 << "\" fill=\"#9cc3de\"/><rect x=\"" << left << "\" y=\""
        << y + 4 << "\" width=\"" << fixed(wr, 1) << "\" height=\"" << row - 8
        << "\" fill=\"#2e8b57\"/><text x=\"" << fixed(left + w + 6, 1) << "\" y=\"" << y + 20
        << "\" class=\"value\">" << value << " / " << recovered << "</text></g>\n";
  };
  bar(10, "opened", f.cases, f.recovered_without_contact);
  int y = 10 + row;
  for (const auto& s : f.steps) {
    bar(y, step_label(s), s.reached, s.recovered_after);
    y += row;
  }
  out << "</svg>\n";
}

// ---- the plain-text table

std::string pad(std::string t, std::size_t w, bool left = false) {
  if (t.size() < w)
    t = left ? t + std::string(w - t.size(), ' ') : std::string(w - t.size(), ' ') + t;
  return t;
}

std::string money_cell(const CountedMoney& b) {
  return b.money.major_string() + " (" + std::to_string(b.count) + ")";
}

void table_head(std::ostream& out) {
  out << pad("group", 22, true) << pad("cur", 4, true) << pad("cases", 7) << pad("recovered", 20)
      << pad("w/o contact", 18) << pad("partial", 18) << pad("late", 18) << pad("refunded", 18)
      << pad("net recovered", 16) << pad("lost", 18) << pad("cancelled", 18) << pad("open", 18)
      << pad("rate", 9) << pad("median d", 10) << '\n';
}

void table_rows(std::ostream& out, const std::string& label, const GroupFigures& g) {
  for (const auto& [cur, v] : g.currencies) {
    out << pad(label, 22, true) << pad(cur, 4, true) << pad(std::to_string(v.cases), 7)
        << pad(money_cell(v.recovered), 20) << pad(money_cell(v.recovered_without_contact), 18)
        << pad(money_cell(v.partial), 18) << pad(money_cell(v.late), 18)
        << pad(money_cell(v.refunded), 18) << pad(v.net_recovered.major_string(), 16)
        << pad(money_cell(v.lost), 18) << pad(money_cell(v.cancelled), 18)
        << pad(money_cell(v.open), 18)
        << pad(display(figure(v.recovery_rate), Decimal::kPercent), 9)
        << pad(display(figure(v.median_days_to_recover)), 10) << '\n';
  }
}

void table_funnel(std::ostream& out, const std::map<std::string, SequenceFunnel>& funnel) {
  out << "\nFunnel (cases reaching each step / recovered after it)\n";
  for (const auto& [seq, f] : funnel) {
    out << "  " << seq << ": opened " << f.cases << " / recovered without contact "
        << f.recovered_without_contact << '\n';
    for (const auto& st : f.steps) {
      out << "    #" << st.step << ' ' << pad(st.channel, 7, true)
          << pad(st.template_name, 28, true) << pad(std::to_string(st.reached), 8) << " / "
          << st.recovered_after << '\n';
    }
  }
}

void table_uplift(std::ostream& out, const Uplift& u) {
  auto side = [&](const UpliftSide& s) {
    out << s.recovered << '/' << s.cases << " = "
        << display(figure(s.recovery_rate), Decimal::kPercent);
  };
  out << "\nUplift: " << u.method << "\n  contacted ";
  side(u.contacted);
  out << ", holdout ";
  side(u.holdout);
  const DifferenceFigures d = difference_figures(u);
  out << ", difference " << display(d.difference, Decimal::kPercent) << " (95% CI "
      << display(d.ci95_low, Decimal::kPercent) << " .. " << display(d.ci95_high, Decimal::kPercent)
      << ")\n  " << u.attributable_formula << '\n';
  for (const auto& [cur, a] : u.attributable) {
    out << "  " << cur << ": recovered " << a.contacted_recovered.major_string();
    if (!a.estimate) {
      out << ", attributable: – (" << a.note << ")\n";
    } else {
      out << ", expected without dunning " << a.estimate->expected_without_dunning.major_string()
          << ", attributable to dunningd " << a.estimate->attributable.major_string() << '\n';
    }
  }
}

void table_ltv(std::ostream& out, const LtvPreserved& l) {
  out << "\nLTV preserved: " << l.formula << "\n  inputs:";
  for (const auto& [key, v] : ltv_inputs(l.inputs)) out << ' ' << key << '=' << display(v);
  out << '\n';
  for (const auto& [cur, c] : l.currencies) {
    out << "  " << cur << ": " << c.preserved.major_string() << " over " << c.subscriptions
        << " recovered subscriptions\n";
  }
}

// ---- html sections

void html_head(std::ostream& out, const Report& r) {
  // A phone gets the page at its own width: charts scale with their viewBox, wide tables
  // scroll sideways inside their box instead of widening the page.
  out << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
         "<title>dunningd recovery report</title>\n<style>"
         "body{font-family:sans-serif;font-size:13px;margin:20px;color:#222}"
         "@media (max-width:600px){body{margin:8px}}"
         "svg.chart{display:block;width:100%;max-width:1000px;height:auto}"
         "div.scroll{overflow-x:auto;max-width:100%;margin:8px 0 20px}"
         "div.scroll table{margin:0}td.none{color:#888}"
         "table{border-collapse:collapse;margin:8px 0 20px}"
         "td,th{border:1px solid #ccc;padding:2px 5px;text-align:right}"
         "th{background:#f0f0f0}td:first-child{text-align:left}"
         ".axis,.tick,.label,.value{font-size:12px;fill:#333}"
         "p.formula{max-width:1000px;font-size:13px;color:#444}"
         "</style></head><body>\n";
  out << "<h1>Recovery report</h1>\n<p>Cases opened from <b data-key=\"/period/from\">"
      << html_escape(scalar_text(figure(r.period.from))) << "</b> to <b data-key=\"/period/to\">"
      << html_escape(scalar_text(figure(r.period.to)))
      << "</b>, outcomes as of <b data-key=\"/as_of\">" << html_escape(format_iso8601(r.as_of))
      << "</b>. " << html_escape(r.population) << ".</p>\n";
}

void html_groups(std::ostream& out, const Report& r) {
  out << "<h2>Totals</h2>\n";
  group_table_head(out);
  group_rows(out, pointer({"totals"}), "all", r.totals);
  group_table_end(out);
  const Figure rate = figure(r.totals.recovery_rate);
  out << "<p>All currencies: <span>cases </span><b data-key=\"/totals/cases\">" << r.totals.cases
      << "</b>, recovery rate <b data-key=\"/totals/recovery_rate\" data-value=\""
      << html_escape(json_text(rate)) << "\">" << display(rate, Decimal::kPercent) << "</b></p>\n";
  if (r.group_by != "all") {
    out << "<h2>By " << html_escape(r.group_by) << "</h2>\n";
    group_table_head(out);
    for (const auto& [key, g] : r.groups) group_rows(out, pointer({"groups", key}), key, g);
    group_table_end(out);
  }
}

void html_weekly(std::ostream& out, const Report& r) {
  out << "<h2>Recovered revenue per week</h2>\n";
  for (const auto& [cur, recorded] : r.weekly_recovered) {
    out << "<h3>" << cur << "</h3>\n";
    const auto weeks = weekly_axis(r, cur, recorded);
    weekly_chart(out, cur, weeks);
    out << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">week of</th>"
           "<th scope=\"col\">recovered</th><th scope=\"col\">minor units</th></tr></thead>"
           "<tbody>";
    for (const auto& w : weeks) {
      out << "<tr><td>" << w.start << "</td>";
      if (w.recorded) {
        out << cell(pointer({"weekly_recovered", cur, w.start, "amount"}), text_figure(w.amount))
            << cell(pointer({"weekly_recovered", cur, w.start, "amount_minor"}), w.minor);
      } else {
        out << "<td class=\"none\">" << html_escape(w.amount) << "</td><td class=\"none\">0</td>";
      }
      out << "</tr>";
    }
    out << "</tbody></table></div>\n";
  }
}

void html_funnel(std::ostream& out, const Report& r) {
  out << "<h2>Funnel per sequence</h2>\n<p>Bars: cases that reached each step (light) and "
         "recoveries after it, before the next step (dark); \"opened\" shows the recoveries "
         "without contact.</p>\n";
  for (const auto& [seq, f] : r.funnel) {
    out << "<h3>" << html_escape(seq) << "</h3>\n";
    funnel_chart(out, seq, f);
    out << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">step</th><th "
           "scope=\"col\">reached</th><th scope=\"col\">recovered after</th></tr></thead>"
           "<tbody><tr><td>opened</td>"
        << cell(pointer({"funnel", seq, "cases"}), f.cases)
        << cell(pointer({"funnel", seq, "recovered_without_contact"}), f.recovered_without_contact)
        << "</tr>";
    for (std::size_t i = 0; i < f.steps.size(); ++i) {
      const FunnelStep& s = f.steps[i];
      const std::string index = std::to_string(i);
      out << "<tr><td>#" << s.step << ' ' << html_escape(s.channel) << ' '
          << html_escape(s.template_name) << "</td>"
          << cell(pointer({"funnel", seq, "steps", index, "reached"}), s.reached)
          << cell(pointer({"funnel", seq, "steps", index, "recovered_after"}), s.recovered_after)
          << "</tr>";
    }
    out << "</tbody></table></div>\n";
  }
}

// An amount of the revenue attributable to dunning in currency `cur`.
std::string attributable_cell(const std::string& cur, const char* key, const Money& m) {
  return cell(pointer({"uplift", "attributable", cur, key, "amount"}),
              text_figure(m.major_string()));
}

void html_uplift(std::ostream& out, const Uplift& u) {
  out << "<h2>Uplift against the holdout group</h2>\n<p class=\"formula\">" << html_escape(u.method)
      << "</p>\n<div class=\"scroll\"><table><thead><tr><th scope=\"col\">group</th><th "
         "scope=\"col\">cases</th><th scope=\"col\">recovered</th>"
         "<th scope=\"col\">recovery rate</th></tr></thead><tbody>";
  auto side_row = [&](const char* name, const UpliftSide& side) {
    out << "<tr><td>" << name << "</td>" << cell(pointer({"uplift", name, "cases"}), side.cases)
        << cell(pointer({"uplift", name, "recovered"}), side.recovered)
        << cell(pointer({"uplift", name, "recovery_rate"}), figure(side.recovery_rate),
                Decimal::kPercent)
        << "</tr>";
  };
  side_row("contacted", u.contacted);
  side_row("holdout", u.holdout);
  const DifferenceFigures d = difference_figures(u);
  out << "</tbody></table></div>\n<div class=\"scroll\"><table><thead><tr><th "
         "scope=\"col\">difference</th><th scope=\"col\">95% CI low</th>"
         "<th scope=\"col\">95% CI high</th></tr></thead><tbody><tr>"
      << cell("/uplift/difference", d.difference, Decimal::kPercent)
      << cell("/uplift/ci95_low", d.ci95_low, Decimal::kPercent)
      << cell("/uplift/ci95_high", d.ci95_high, Decimal::kPercent)
      << "</tr></tbody></table></div>\n<p class=\"formula\">" << html_escape(u.attributable_formula)
      << "</p>\n"
      << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">currency</th><th "
         "scope=\"col\">contacted recovered</th>"
         "<th scope=\"col\">expected without dunning</th><th scope=\"col\">attributable to "
         "dunningd</th></tr></thead><tbody>";
  for (const auto& [cur, a] : u.attributable) {
    out << "<tr><td>" << cur << "</td>"
        << attributable_cell(cur, "contacted_recovered", a.contacted_recovered);
    if (!a.estimate) {
      out << "<td>–</td><td>" << html_escape(a.note) << "</td>";
    } else {
      out << attributable_cell(cur, "expected_without_dunning",
                               a.estimate->expected_without_dunning)
          << attributable_cell(cur, "attributable", a.estimate->attributable);
    }
    out << "</tr>";
  }
  out << "</tbody></table></div>\n";
}

void html_ltv(std::ostream& out, const LtvPreserved& l) {
  out << "<h2>Lifetime value preserved</h2>\n<p class=\"formula\">" << html_escape(l.formula)
      << "</p>\n<div class=\"scroll\"><table><tbody>";
  for (const auto& [key, v] : ltv_inputs(l.inputs)) {
    out << "<tr><td>" << key << "</td>" << cell(pointer({"ltv_preserved", "inputs", key}), v)
        << "</tr>";
  }
  out << "</tbody></table></div>\n<div class=\"scroll\"><table><thead><tr><th "
         "scope=\"col\">currency</th><th scope=\"col\">recovered subscriptions</th>"
         "<th scope=\"col\">LTV preserved</th></tr></thead><tbody>";
  for (const auto& [cur, c] : l.currencies) {
    out << "<tr><td>" << cur << "</td>"
        << cell(pointer({"ltv_preserved", "currencies", cur, "subscriptions"}), c.subscriptions)
        << cell(pointer({"ltv_preserved", "currencies", cur, "amount"}),
                text_figure(c.preserved.major_string()))
        << "</tr>";
  }
  out << "</tbody></table></div>\n";
}

}  // namespace

void write_report_csv(const Report& report, std::ostream& out) {
  out << "section,group,currency,metric,value\n";
  walk(report, [&](const std::string& section, const std::string& group,
                   const std::string& currency, const std::string& metric, const Figure& v) {
    out << section << ',' << csv_field(group) << ',' << currency << ',' << csv_field(metric) << ','
        << csv_field(scalar_text(v)) << '\n';
  });
}

void write_report_table(const Report& r, std::ostream& out) {
  out << "Recovery report: cases opened " << scalar_text(figure(r.period.from)) << " .. "
      << scalar_text(figure(r.period.to)) << ", outcomes as of " << format_iso8601(r.as_of) << "\n("
      << r.population << ")\n";
  out << "\nTotals (amount (count) per currency)\n";
  table_head(out);
  table_rows(out, "all", r.totals);
  out << "all currencies: " << r.totals.cases << " cases, recovery rate "
      << display(figure(r.totals.recovery_rate), Decimal::kPercent) << ", median days to recover "
      << display(figure(r.totals.median_days_to_recover)) << '\n';
  if (r.group_by != "all") {
    out << "\nBy " << r.group_by << '\n';
    table_head(out);
    for (const auto& [key, g] : r.groups) table_rows(out, key, g);
  }
  table_funnel(out, r.funnel);
  out << "\nRecovered per week (week of the payment)\n";
  for (const auto& [cur, weeks] : r.weekly_recovered) {
    for (const auto& [week, m] : weeks) {
      out << "  " << week << ' ' << cur << pad(m.major_string(), 14) << '\n';
    }
  }
  table_uplift(out, r.uplift);
  table_ltv(out, r.ltv_preserved);
}

void write_report_charts(const Report& r, std::ostream& out) {
  for (const auto& [cur, weeks] : r.weekly_recovered) {
    out << "<figure class=\"chart\"><figcaption>Recovered revenue per week, " << cur
        << "</figcaption>\n";
    weekly_chart(out, cur, weekly_axis(r, cur, weeks));
    out << "</figure>\n";
  }
  for (const auto& [seq, f] : r.funnel) {
    out << "<figure class=\"chart\"><figcaption>Funnel of " << html_escape(seq)
        << ": cases that reached each step (light), recovered after it (dark)</figcaption>\n";
    funnel_chart(out, seq, f);
    out << "</figure>\n";
  }
}

void write_report_html(const Report& r, std::ostream& out) {
  html_head(out, r);
  html_groups(out, r);
  html_weekly(out, r);
  html_funnel(out, r);
  html_uplift(out, r.uplift);
  html_ltv(out, r.ltv_preserved);
  out << "</body></html>\n";
}

}  // namespace dunning::ledger
