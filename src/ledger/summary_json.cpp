// The report as a JSON document: the one place where the Report meets nlohmann::json. Objects
// are nlohmann's default (keys sorted), which fixes the order of the document, of the CSV's
// lines and of every data-key the other formats carry.
#include <nlohmann/json.hpp>
#include <type_traits>
#include <variant>

#include "dunning/ledger/summary.hpp"

namespace dunning::ledger {

using nlohmann::json;

namespace {

json money_json(const Money& m) {
  return {{"amount_minor", m.minor()}, {"amount", m.major_string()}};
}

json counted_json(const CountedMoney& c) {
  json j = money_json(c.money);
  j["count"] = c.count;
  return j;
}

json figure_json(const Figure& f) {
  return std::visit(
      [](const auto& v) -> json {
        if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::monostate>) {
          return nullptr;
        } else {
          return v;
        }
      },
      f);
}

json currency_json(const CurrencyFigures& s) {
  return {{"cases", s.cases},
          {"amount", money_json(s.failed)},
          {"recovered", counted_json(s.recovered)},
          {"recovered_without_contact", counted_json(s.recovered_without_contact)},
          {"recovered_total", counted_json(s.recovered_total)},
          {"partial", counted_json(s.partial)},
          {"late", counted_json(s.late)},
          {"refunded", counted_json(s.refunded)},
          {"net_recovered", money_json(s.net_recovered)},
          {"lost", counted_json(s.lost)},
          {"cancelled", counted_json(s.cancelled)},
          {"open", counted_json(s.open)},
          {"recovery_rate", figure_json(figure(s.recovery_rate))},
          {"median_days_to_recover", figure_json(figure(s.median_days_to_recover))}};
}

json group_json(const GroupFigures& g) {
  json currencies = json::object();
  for (const auto& [cur, s] : g.currencies) currencies[cur] = currency_json(s);
  return {{"cases", g.cases},
          {"recovered_count", g.recovered_count},
          {"recovery_rate", figure_json(figure(g.recovery_rate))},
          {"median_days_to_recover", figure_json(figure(g.median_days_to_recover))},
          {"currencies", currencies}};
}

json step_json(const FunnelStep& s) {
  json amounts = json::object();
  for (const auto& [cur, m] : s.recovered_after_amount) amounts[cur] = money_json(m);
  return {{"step", s.step},
          {"channel", s.channel},
          {"template", s.template_name},
          {"reached", s.reached},
          {"recovered_after", s.recovered_after},
          {"recovered_after_amount", amounts}};
}

json funnel_json(const std::map<std::string, SequenceFunnel>& funnel) {
  json out = json::object();
  for (const auto& [seq, f] : funnel) {
    json steps = json::array();
    for (const auto& s : f.steps) steps.push_back(step_json(s));
    out[seq] = {{"cases", f.cases},
                {"recovered_without_contact", f.recovered_without_contact},
                {"steps", steps}};
  }
  return out;
}

json weekly_json(const std::map<std::string, std::map<std::string, Money>>& weekly) {
  json out = json::object();
  for (const auto& [cur, weeks] : weekly) {
    for (const auto& [week, m] : weeks) out[cur][week] = money_json(m);
  }
  return out;
}

json side_json(const UpliftSide& s) {
  return {{"cases", s.cases},
          {"recovered", s.recovered},
          {"recovery_rate", figure_json(figure(s.recovery_rate))}};
}

json attributable_json(const AttributableRevenue& a) {
  json j = {{"contacted_failed", money_json(a.contacted_failed)},
            {"contacted_recovered", money_json(a.contacted_recovered)}};
  if (a.estimate) {
    j["holdout_failed"] = money_json(a.estimate->holdout_failed);
    j["holdout_recovered"] = money_json(a.estimate->holdout_recovered);
    j["expected_without_dunning"] = money_json(a.estimate->expected_without_dunning);
    j["attributable"] = money_json(a.estimate->attributable);
  } else {
    j["attributable"] = nullptr;
    j["note"] = a.note;
  }
  return j;
}

json uplift_json(const Uplift& u) {
  json j;
  j["method"] = u.method;
  j["contacted"] = side_json(u.contacted);
  j["holdout"] = side_json(u.holdout);
  if (u.difference) {
    j["difference"] = u.difference->difference;
    j["ci95_low"] = u.difference->ci95.low;
    j["ci95_high"] = u.difference->ci95.high;
    j["significant"] = u.difference->significant;
  } else {
    j["difference"] = nullptr;
    j["ci95_low"] = nullptr;
    j["ci95_high"] = nullptr;
    j["significant"] = nullptr;
    j["note"] = u.note;
  }
  j["attributable_formula"] = u.attributable_formula;
  json attributable = json::object();
  for (const auto& [cur, a] : u.attributable) attributable[cur] = attributable_json(a);
  j["attributable"] = attributable;
  return j;
}

json ltv_json(const LtvPreserved& l) {
  const LtvInputs& in = l.inputs;
  json per = json::object();
  for (const auto& [cur, c] : l.currencies) {
    json p = money_json(c.preserved);
    p["subscriptions"] = c.subscriptions;
    per[cur] = p;
  }
  return {{"formula", l.formula},
          {"inputs",
           {{"observed_recovered_subscriptions", in.observed_recovered_subscriptions},
            {"observed_seconds", in.observed_seconds},
            {"ended", in.ended},
            {"horizon_months", in.horizon_months},
            {"expected_lifetime_months", in.expected_lifetime_months},
            {"recoveries_without_payment_history", in.recoveries_without_payment_history}}},
          {"currencies", per}};
}

json report_json(const Report& r) {
  json groups = json::object();
  for (const auto& [k, g] : r.groups) groups[k] = group_json(g);
  return {
      {"period",
       {{"from", figure_json(figure(r.period.from))}, {"to", figure_json(figure(r.period.to))}}},
      {"as_of", format_iso8601(r.as_of)},
      {"population", r.population},
      {"group_by", r.group_by},
      {"totals", group_json(r.totals)},
      {"groups", groups},
      {"funnel", funnel_json(r.funnel)},
      {"weekly_recovered", weekly_json(r.weekly_recovered)},
      {"uplift", uplift_json(r.uplift)},
      {"ltv_preserved", ltv_json(r.ltv_preserved)}};
}

}  // namespace

Figure figure(const std::optional<double>& v) {
  if (!v) return std::monostate{};
  return *v;
}

Figure figure(const std::optional<MedianDays>& m) {
  if (!m) return std::monostate{};
  if (m->whole()) return std::int64_t{m->low};
  return m->days();
}

Figure figure(const std::optional<TimePoint>& t) {
  if (!t) return std::monostate{};
  return format_iso8601(*t);
}

std::string json_text(const Figure& f) { return figure_json(f).dump(); }

void write_report_json(const Report& report, std::ostream& out) {
  out << report_json(report).dump(2) << '\n';
}

}  // namespace dunning::ledger
