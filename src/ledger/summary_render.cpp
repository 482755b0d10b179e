// Renderers of the finance report document (see summary.hpp): csv, table and html all read the
// json document that build_report computed, so they cannot disagree with `--format json`.
#include <date/date.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>

#include "dunning/ledger/export.hpp"
#include "dunning/ledger/summary.hpp"

namespace dunning::ledger {

using nlohmann::json;

namespace {

std::string scalar_text(const json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

// Leaves of `j` as dotted paths ("recovered.amount_minor"), objects only (arrays by index).
void flatten(const json& j, const std::string& prefix,
             const std::function<void(const std::string&, const json&)>& fn) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      flatten(it.value(), prefix.empty() ? it.key() : prefix + "." + it.key(), fn);
    }
  } else if (j.is_array()) {
    for (std::size_t i = 0; i < j.size(); ++i) {
      flatten(j[i], prefix + "." + std::to_string(i), fn);
    }
  } else {
    fn(prefix, j);
  }
}

using Emit =
    std::function<void(const std::string& section, const std::string& group,
                       const std::string& currency, const std::string& metric, const json& value)>;

void walk_group(const std::string& section, const std::string& group, const json& g,
                const Emit& emit) {
  for (auto it = g.begin(); it != g.end(); ++it) {
    if (it.key() == "currencies") continue;
    emit(section, group, "", it.key(), it.value());
  }
  for (auto c = g["currencies"].begin(); c != g["currencies"].end(); ++c) {
    flatten(c.value(), "", [&](const std::string& path, const json& v) {
      emit(section, group, c.key(), path, v);
    });
  }
}

// Every figure of the report, in a fixed order, as (section, group, currency, metric, value).
void walk(const json& r, const Emit& emit) {
  emit("report", "", "", "from", r["period"]["from"]);
  emit("report", "", "", "to", r["period"]["to"]);
  emit("report", "", "", "as_of", r["as_of"]);
  emit("report", "", "", "group_by", r["group_by"]);
  walk_group("totals", "all", r["totals"], emit);
  for (auto g = r["groups"].begin(); g != r["groups"].end(); ++g) {
    walk_group("groups", g.key(), g.value(), emit);
  }
  for (auto f = r["funnel"].begin(); f != r["funnel"].end(); ++f) {
    const json& seq = f.value();
    emit("funnel", f.key(), "", "cases", seq["cases"]);
    emit("funnel", f.key(), "", "recovered_without_contact", seq["recovered_without_contact"]);
    for (const auto& step : seq["steps"]) {
      const std::string p = "step " + step["step"].dump() + ".";
      emit("funnel", f.key(), "", p + "channel", step["channel"]);
      emit("funnel", f.key(), "", p + "template", step["template"]);
      emit("funnel", f.key(), "", p + "reached", step["reached"]);
      emit("funnel", f.key(), "", p + "recovered_after", step["recovered_after"]);
      for (auto a = step["recovered_after_amount"].begin();
           a != step["recovered_after_amount"].end(); ++a) {
        emit("funnel", f.key(), a.key(), p + "recovered_after_amount.amount_minor",
             a.value()["amount_minor"]);
        emit("funnel", f.key(), a.key(), p + "recovered_after_amount.amount", a.value()["amount"]);
      }
    }
  }
  for (auto c = r["weekly_recovered"].begin(); c != r["weekly_recovered"].end(); ++c) {
    for (auto w = c.value().begin(); w != c.value().end(); ++w) {
      emit("weekly_recovered", w.key(), c.key(), "amount_minor", w.value()["amount_minor"]);
      emit("weekly_recovered", w.key(), c.key(), "amount", w.value()["amount"]);
    }
  }
  const json& u = r["uplift"];
  for (auto it = u.begin(); it != u.end(); ++it) {
    if (it.key() == "attributable") continue;
    flatten(it.value(), it.key(),
            [&](const std::string& path, const json& v) { emit("uplift", "", "", path, v); });
  }
  for (auto c = u["attributable"].begin(); c != u["attributable"].end(); ++c) {
    flatten(c.value(), "", [&](const std::string& path, const json& v) {
      emit("uplift", "attributable", c.key(), path, v);
    });
  }
  const json& l = r["ltv_preserved"];
  emit("ltv_preserved", "", "", "formula", l["formula"]);
  flatten(l["inputs"], "",
          [&](const std::string& path, const json& v) { emit("ltv_preserved", "", "", path, v); });
  for (auto c = l["currencies"].begin(); c != l["currencies"].end(); ++c) {
    flatten(c.value(), "", [&](const std::string& path, const json& v) {
      emit("ltv_preserved", "", c.key(), path, v);
    });
  }
}

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

// Display text of a figure: rates and differences as percentages, other doubles with two
// decimals, everything else exactly as in the json report.
std::string display(const std::string& key, const json& v) {
  if (v.is_null()) return "–";
  if (v.is_number_float()) {
    const double d = v.get<double>();
    const bool percent = key.find("rate") != std::string::npos ||
                         key.find("difference") != std::string::npos ||
                         key.find("ci95") != std::string::npos;
    return percent ? fixed(d * 100.0, 2) + "%" : fixed(d, 2);
  }
  return scalar_text(v);
}

// A table cell holding the figure at `ptr`.
std::string cell(const json& r, const std::string& ptr) {
  const json& v = r.at(json::json_pointer(ptr));
  return "<td data-key=\"" + html_escape(ptr) + "\" data-value=\"" + html_escape(v.dump()) + "\">" +
         html_escape(display(ptr.substr(ptr.rfind('/') + 1), v)) + "</td>";
}

void group_table(std::ostream& out, const json& r, const std::string& base, const json& groups,
                 bool single) {
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
  for (auto g = groups.begin(); g != groups.end(); ++g) {
    for (auto c = g.value()["currencies"].begin(); c != g.value()["currencies"].end(); ++c) {
      const std::string p = single ? pointer({base, "currencies", c.key()})
                                   : pointer({base, g.key(), "currencies", c.key()});
      out << "<tr><td>" << html_escape(single ? "all" : g.key()) << "</td><td>" << c.key()
          << "</td>" << cell(r, p + "/cases");
      for (const char* k : {"recovered", "recovered_without_contact", "partial", "late", "refunded",
                            "lost", "cancelled", "open"}) {
        out << cell(r, p + "/" + k + "/amount") << cell(r, p + "/" + k + "/count");
      }
      out << cell(r, p + "/net_recovered/amount") << cell(r, p + "/recovery_rate")
          << cell(r, p + "/median_days_to_recover") << "</tr>\n";
    }
    if (single) break;
  }
  out << "</tbody></table></div>\n";
}

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
std::vector<Week> weekly_axis(const json& r, const std::string& cur, const json& weeks) {
  std::vector<Week> recorded;
  for (auto w = weeks.begin(); w != weeks.end(); ++w) {
    recorded.push_back({w.key(), w.value()["amount_minor"].get<std::int64_t>(),
                        w.value()["amount"].get<std::string>(), true});
  }
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
  if (auto from = r["period"]["from"]; from.is_string()) {
    if (auto t = parse_iso8601(from.get<std::string>())) {
      const auto m = monday(*t);
      first = first ? std::min(*first, m) : m;
    }
  }
  if (auto as_of = parse_iso8601(scalar_text(r["as_of"]))) {
    const auto m = monday(*as_of);
    last = last ? std::max(*last, m) : m;
  }
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

void weekly_chart(std::ostream& out, const json& r, const std::string& cur,
                  const std::vector<Week>& weeks) {
  const int width = 1000, height = 260, left = 90, bottom = 60, top = 20;
  std::int64_t max_minor = 1;
  for (const auto& w : weeks) max_minor = std::max(max_minor, w.minor);
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
      << html_escape(r["weekly_recovered"][cur].empty() ? std::string("0")
                                                        : Money(max_minor, cur).major_string())
      << ' ' << cur << "</text>\n";
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

void funnel_chart(std::ostream& out, const std::string& seq, const json& f) {
  const int width = 1000, row = 34, left = 260;
  const int height = row * (static_cast<int>(f["steps"].size()) + 1) + 20;
  const double max_cases = std::max<double>(1.0, f["cases"].get<double>());
  out << "<svg class=\"chart funnel\" xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" "
         "viewBox=\"0 0 "
      << width << ' ' << height
      << "\" preserveAspectRatio=\"xMinYMin meet\" role=\"img\" aria-label=\"funnel of "
      << html_escape(seq) << "\">\n";
  auto bar = [&](int y, const std::string& label, double value, double recovered) {
    const double w = value / max_cases * (width - left - 80);
    const double wr = recovered / max_cases * (width - left - 80);
    out << "<g><text x=\"4\" y=\"" << y + 20 << "\" class=\"label\">" << html_escape(label)
        << "</text><rect x=\"" << left << "\" y=\"" << y + 4 << "\" width=\"" << fixed(w, 1)
        << "\" height=\"" << row - 8 << "\" fill=\"#9cc3de\"/><rect x=\"" << left << "\" y=\""
        << y + 4 << "\" width=\"" << fixed(wr, 1) << "\" height=\"" << row - 8
        << "\" fill=\"#2e8b57\"/><text x=\"" << fixed(left + w + 6, 1) << "\" y=\"" << y + 20
        << "\" class=\"value\">" << static_cast<std::int64_t>(value) << " / "
        << static_cast<std::int64_t>(recovered) << "</text></g>\n";
  };
  bar(10, "opened", f["cases"].get<double>(), f["recovered_without_contact"].get<double>());
  int y = 10 + row;
  for (const auto& s : f["steps"]) {
    bar(y,
        "#" + s["step"].dump() + " " + s["channel"].get<std::string>() + " " +
            s["template"].get<std::string>(),
        s["reached"].get<double>(), s["recovered_after"].get<double>());
    y += row;
  }
  out << "</svg>\n";
}

}  // namespace

void write_report_csv(const json& report, std::ostream& out) {
  out << "section,group,currency,metric,value\n";
  walk(report, [&](const std::string& section, const std::string& group,
                   const std::string& currency, const std::string& metric, const json& v) {
    out << section << ',' << csv_field(group) << ',' << currency << ',' << csv_field(metric) << ','
        << csv_field(scalar_text(v)) << '\n';
  });
}

void write_report_table(const json& r, std::ostream& out) {
  auto pad = [](std::string t, std::size_t w, bool left = false) {
    if (t.size() < w)
      t = left ? t + std::string(w - t.size(), ' ') : std::string(w - t.size(), ' ') + t;
    return t;
  };
  auto money_cell = [&](const json& b) {
    return b["amount"].get<std::string>() + " (" + b["count"].dump() + ")";
  };
  out << "Recovery report: cases opened " << scalar_text(r["period"]["from"]) << " .. "
      << scalar_text(r["period"]["to"]) << ", outcomes as of " << scalar_text(r["as_of"]) << "\n("
      << r["population"].get<std::string>() << ")\n";
  auto groups_table = [&](const json& groups) {
    out << pad("group", 22, true) << pad("cur", 4, true) << pad("cases", 7) << pad("recovered", 20)
        << pad("w/o contact", 18) << pad("partial", 18) << pad("late", 18) << pad("refunded", 18)
        << pad("net recovered", 16) << pad("lost", 18) << pad("cancelled", 18) << pad("open", 18)
        << pad("rate", 9) << pad("median d", 10) << '\n';
    for (auto g = groups.begin(); g != groups.end(); ++g) {
      for (auto c = g.value()["currencies"].begin(); c != g.value()["currencies"].end(); ++c) {
        const json& v = c.value();
        out << pad(g.key(), 22, true) << pad(c.key(), 4, true) << pad(v["cases"].dump(), 7)
            << pad(money_cell(v["recovered"]), 20)
            << pad(money_cell(v["recovered_without_contact"]), 18)
            << pad(money_cell(v["partial"]), 18) << pad(money_cell(v["late"]), 18)
            << pad(money_cell(v["refunded"]), 18)
            << pad(v["net_recovered"]["amount"].get<std::string>(), 16)
            << pad(money_cell(v["lost"]), 18) << pad(money_cell(v["cancelled"]), 18)
            << pad(money_cell(v["open"]), 18)
            << pad(display("recovery_rate", v["recovery_rate"]), 9)
            << pad(display("median", v["median_days_to_recover"]), 10) << '\n';
      }
    }
  };
  out << "\nTotals (amount (count) per currency)\n";
  groups_table(json{{"all", r["totals"]}});
  out << "all currencies: " << r["totals"]["cases"].dump() << " cases, recovery rate "
      << display("recovery_rate", r["totals"]["recovery_rate"]) << ", median days to recover "
      << display("median", r["totals"]["median_days_to_recover"]) << '\n';
  if (r["group_by"] != "all") {
    out << "\nBy " << r["group_by"].get<std::string>() << '\n';
    groups_table(r["groups"]);
  }
  out << "\nFunnel (cases reaching each step / recovered after it)\n";
  for (auto f = r["funnel"].begin(); f != r["funnel"].end(); ++f) {
    out << "  " << f.key() << ": opened " << f.value()["cases"].dump()
        << " / recovered without contact " << f.value()["recovered_without_contact"].dump() << '\n';
    for (const auto& st : f.value()["steps"]) {
      out << "    #" << st["step"].dump() << ' ' << pad(st["channel"].get<std::string>(), 7, true)
          << pad(st["template"].get<std::string>(), 28, true) << pad(st["reached"].dump(), 8)
          << " / " << st["recovered_after"].dump() << '\n';
    }
  }
  out << "\nRecovered per week (week of the payment)\n";
  for (auto c = r["weekly_recovered"].begin(); c != r["weekly_recovered"].end(); ++c) {
    for (auto w = c.value().begin(); w != c.value().end(); ++w) {
      out << "  " << w.key() << ' ' << c.key() << pad(w.value()["amount"].get<std::string>(), 14)
          << '\n';
    }
  }
  const json& u = r["uplift"];
  out << "\nUplift: " << u["method"].get<std::string>() << "\n  contacted "
      << u["contacted"]["recovered"].dump() << '/' << u["contacted"]["cases"].dump() << " = "
      << display("rate", u["contacted"]["recovery_rate"]) << ", holdout "
      << u["holdout"]["recovered"].dump() << '/' << u["holdout"]["cases"].dump() << " = "
      << display("rate", u["holdout"]["recovery_rate"]) << ", difference "
      << display("difference", u["difference"]) << " (95% CI " << display("ci95", u["ci95_low"])
      << " .. " << display("ci95", u["ci95_high"]) << ")\n  "
      << u["attributable_formula"].get<std::string>() << '\n';
  for (auto c = u["attributable"].begin(); c != u["attributable"].end(); ++c) {
    out << "  " << c.key() << ": recovered "
        << c.value()["contacted_recovered"]["amount"].get<std::string>();
    if (c.value()["attributable"].is_null()) {
      out << ", attributable: – (" << c.value().value("note", "") << ")\n";
    } else {
      out << ", expected without dunning "
          << c.value()["expected_without_dunning"]["amount"].get<std::string>()
          << ", attributable to dunningd " << c.value()["attributable"]["amount"].get<std::string>()
          << '\n';
    }
  }
  const json& l = r["ltv_preserved"];
  out << "\nLTV preserved: " << l["formula"].get<std::string>() << "\n  inputs:";
  for (auto it = l["inputs"].begin(); it != l["inputs"].end(); ++it) {
    out << ' ' << it.key() << '=' << display(it.key(), it.value());
  }
  out << '\n';
  for (auto c = l["currencies"].begin(); c != l["currencies"].end(); ++c) {
    out << "  " << c.key() << ": " << c.value()["amount"].get<std::string>() << " over "
        << c.value()["subscriptions"].dump() << " recovered subscriptions\n";
  }
}

void write_report_charts(const json& r, std::ostream& out) {
  for (auto c = r["weekly_recovered"].begin(); c != r["weekly_recovered"].end(); ++c) {
    out << "<figure class=\"chart\"><figcaption>Recovered revenue per week, " << c.key()
        << "</figcaption>\n";
    weekly_chart(out, r, c.key(), weekly_axis(r, c.key(), c.value()));
    out << "</figure>\n";
  }
  for (auto f = r["funnel"].begin(); f != r["funnel"].end(); ++f) {
    out << "<figure class=\"chart\"><figcaption>Funnel of " << html_escape(f.key())
        << ": cases that reached each step (light), recovered after it (dark)</figcaption>\n";
    funnel_chart(out, f.key(), f.value());
    out << "</figure>\n";
  }
}

void write_report_html(const json& r, std::ostream& out) {
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
      << html_escape(scalar_text(r["period"]["from"])) << "</b> to <b data-key=\"/period/to\">"
      << html_escape(scalar_text(r["period"]["to"]))
      << "</b>, outcomes as of <b data-key=\"/as_of\">" << html_escape(scalar_text(r["as_of"]))
      << "</b>. " << html_escape(r["population"].get<std::string>()) << ".</p>\n";

  out << "<h2>Totals</h2>\n";
  group_table(out, r, "totals", json{{"all", r["totals"]}}, true);
  out << "<p>All currencies: <span>cases </span><b data-key=\"/totals/cases\">"
      << r["totals"]["cases"].dump()
      << "</b>, recovery rate <b data-key=\"/totals/recovery_rate\" data-value=\""
      << html_escape(r["totals"]["recovery_rate"].dump()) << "\">"
      << display("recovery_rate", r["totals"]["recovery_rate"]) << "</b></p>\n";
  if (r["group_by"] != "all") {
    out << "<h2>By " << html_escape(r["group_by"].get<std::string>()) << "</h2>\n";
    group_table(out, r, "groups", r["groups"], false);
  }

  out << "<h2>Recovered revenue per week</h2>\n";
  for (auto c = r["weekly_recovered"].begin(); c != r["weekly_recovered"].end(); ++c) {
    out << "<h3>" << c.key() << "</h3>\n";
    const auto weeks = weekly_axis(r, c.key(), c.value());
    weekly_chart(out, r, c.key(), weeks);
    out << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">week of</th>"
           "<th scope=\"col\">recovered</th><th scope=\"col\">minor units</th></tr></thead>"
           "<tbody>";
    for (const auto& w : weeks) {
      out << "<tr><td>" << w.start << "</td>";
      if (w.recorded) {
        out << cell(r, pointer({"weekly_recovered", c.key(), w.start, "amount"}))
            << cell(r, pointer({"weekly_recovered", c.key(), w.start, "amount_minor"}));
      } else {
        out << "<td class=\"none\">" << html_escape(w.amount) << "</td><td class=\"none\">0</td>";
      }
      out << "</tr>";
    }
    out << "</tbody></table></div>\n";
  }

  out << "<h2>Funnel per sequence</h2>\n<p>Bars: cases that reached each step (light) and "
         "recoveries after it, before the next step (dark); \"opened\" shows the recoveries "
         "without contact.</p>\n";
  for (auto f = r["funnel"].begin(); f != r["funnel"].end(); ++f) {
    out << "<h3>" << html_escape(f.key()) << "</h3>\n";
    funnel_chart(out, f.key(), f.value());
    out << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">step</th><th "
           "scope=\"col\">reached</th><th scope=\"col\">recovered after</th></tr></thead>"
           "<tbody><tr><td>opened</td>"
        << cell(r, pointer({"funnel", f.key(), "cases"}))
        << cell(r, pointer({"funnel", f.key(), "recovered_without_contact"})) << "</tr>";
    for (std::size_t i = 0; i < f.value()["steps"].size(); ++i) {
      const auto& s = f.value()["steps"][i];
      out << "<tr><td>#" << s["step"].dump() << ' ' << html_escape(s["channel"].get<std::string>())
          << ' ' << html_escape(s["template"].get<std::string>()) << "</td>"
          << cell(r, pointer({"funnel", f.key(), "steps", std::to_string(i), "reached"}))
          << cell(r, pointer({"funnel", f.key(), "steps", std::to_string(i), "recovered_after"}))
          << "</tr>";
    }
    out << "</tbody></table></div>\n";
  }

  out << "<h2>Uplift against the holdout group</h2>\n<p class=\"formula\">"
      << html_escape(r["uplift"]["method"].get<std::string>())
      << "</p>\n<div class=\"scroll\"><table><thead><tr><th scope=\"col\">group</th><th "
         "scope=\"col\">cases</th><th scope=\"col\">recovered</th>"
         "<th scope=\"col\">recovery rate</th></tr></thead><tbody>";
  for (const char* side : {"contacted", "holdout"}) {
    out << "<tr><td>" << side << "</td>" << cell(r, pointer({"uplift", side, "cases"}))
        << cell(r, pointer({"uplift", side, "recovered"}))
        << cell(r, pointer({"uplift", side, "recovery_rate"})) << "</tr>";
  }
  out << "</tbody></table></div>\n<div class=\"scroll\"><table><thead><tr><th "
         "scope=\"col\">difference</th><th scope=\"col\">95% CI low</th>"
         "<th scope=\"col\">95% CI high</th></tr></thead><tbody><tr>"
      << cell(r, "/uplift/difference") << cell(r, "/uplift/ci95_low")
      << cell(r, "/uplift/ci95_high") << "</tr></tbody></table></div>\n<p class=\"formula\">"
      << html_escape(r["uplift"]["attributable_formula"].get<std::string>()) << "</p>\n"
      << "<div class=\"scroll\"><table><thead><tr><th scope=\"col\">currency</th><th "
         "scope=\"col\">contacted recovered</th>"
         "<th scope=\"col\">expected without dunning</th><th scope=\"col\">attributable to "
         "dunningd</th></tr></thead><tbody>";
  for (auto c = r["uplift"]["attributable"].begin(); c != r["uplift"]["attributable"].end(); ++c) {
    out << "<tr><td>" << c.key() << "</td>"
        << cell(r, pointer({"uplift", "attributable", c.key(), "contacted_recovered", "amount"}));
    if (c.value()["attributable"].is_null()) {
      out << "<td>–</td><td>" << html_escape(c.value().value("note", "")) << "</td>";
    } else {
      out << cell(r, pointer(
                         {"uplift", "attributable", c.key(), "expected_without_dunning", "amount"}))
          << cell(r, pointer({"uplift", "attributable", c.key(), "attributable", "amount"}));
    }
    out << "</tr>";
  }
  out << "</tbody></table></div>\n";

  const json& l = r["ltv_preserved"];
  out << "<h2>Lifetime value preserved</h2>\n<p class=\"formula\">"
      << html_escape(l["formula"].get<std::string>())
      << "</p>\n<div class=\"scroll\"><table><tbody>";
  for (auto it = l["inputs"].begin(); it != l["inputs"].end(); ++it) {
    out << "<tr><td>" << it.key() << "</td>"
        << cell(r, pointer({"ltv_preserved", "inputs", it.key()})) << "</tr>";
  }
  out << "</tbody></table></div>\n<div class=\"scroll\"><table><thead><tr><th "
         "scope=\"col\">currency</th><th scope=\"col\">recovered subscriptions</th>"
         "<th scope=\"col\">LTV preserved</th></tr></thead><tbody>";
  for (auto c = l["currencies"].begin(); c != l["currencies"].end(); ++c) {
    out << "<tr><td>" << c.key() << "</td>"
        << cell(r, pointer({"ltv_preserved", "currencies", c.key(), "subscriptions"}))
        << cell(r, pointer({"ltv_preserved", "currencies", c.key(), "amount"})) << "</tr>";
  }
  out << "</tbody></table></div>\n</body></html>\n";
}

}  // namespace dunning::ledger
