#include "dunning/ledger/summary.hpp"

#include <date/date.h>

#include <cmath>
#include <map>

#include "dunning/core/subscription_status.hpp"
#include "dunning/ledger/attribution.hpp"

namespace dunning::ledger {

using nlohmann::json;
using store::CaseOutcome;
using store::RetentionObservation;

namespace {

// Exact intermediate products of minor units and seconds (GCC extension, quiet under -pedantic).
__extension__ typedef __int128 Int128;

constexpr double kZ95 = 1.959963984540054;  // two-sided 95% normal quantile
constexpr std::int64_t kMonthSeconds = 30LL * 86400;

struct Bucket {
  std::int64_t count = 0;
  std::int64_t minor = 0;
  void add(std::int64_t m) {
    ++count;
    minor += m;
  }
};

// One currency of a group. `cases`, `amount_minor`, `recovered_cases` and `open` are about the
// cases whose invoice is in this currency; every other bucket is money that moved in this
// currency (a USD invoice paid in EUR is a USD case and EUR money).
struct CurrencyStats {
  std::int64_t cases = 0;
  std::int64_t amount_minor = 0;  // failed amount of all cases
  std::int64_t recovered_cases = 0;
  Bucket recovered, without_contact, lost, cancelled, open;
  Bucket partial, late, refunded;    // refunded: positive amounts, already taken off the others
  std::map<int, std::int64_t> days;  // days to recover → recoveries (exact median, flat memory)
};

struct GroupStats {
  std::map<std::string, CurrencyStats> currencies;
};

json money_json(std::int64_t minor, const std::string& currency) {
  return {{"amount_minor", minor}, {"amount", Money(minor, currency).major_string()}};
}

json bucket_json(const Bucket& b, const std::string& currency) {
  json j = money_json(b.minor, currency);
  j["count"] = b.count;
  return j;
}

json median_json(const std::map<int, std::int64_t>& hist) {
  std::int64_t n = 0;
  for (const auto& [d, c] : hist) n += c;
  if (n == 0) return nullptr;
  // positions (0-based) n/2 and (n-1)/2 in sorted order
  const std::int64_t lo_pos = (n - 1) / 2, hi_pos = n / 2;
  std::optional<int> lo, hi;
  std::int64_t seen = 0;
  for (const auto& [d, c] : hist) {
    if (!lo && lo_pos < seen + c) lo = d;
    if (!hi && hi_pos < seen + c) hi = d;
    seen += c;
  }
  if (*lo == *hi) return *lo;
  return (static_cast<double>(*lo) + static_cast<double>(*hi)) / 2.0;
}

json rate_json(std::int64_t x, std::int64_t n) {
  if (n == 0) return nullptr;
  return static_cast<double>(x) / static_cast<double>(n);
}

json group_json(const GroupStats& g) {
  json currencies = json::object();
  std::int64_t cases = 0, recovered = 0;
  std::map<int, std::int64_t> all_days;
  for (const auto& [cur, s] : g.currencies) {
    const std::int64_t rec = s.recovered_cases;
    const std::int64_t rec_total = s.recovered.minor + s.without_contact.minor;
    currencies[cur] = {
        {"cases", s.cases},
        {"amount", money_json(s.amount_minor, cur)},
        {"recovered", bucket_json(s.recovered, cur)},
        {"recovered_without_contact", bucket_json(s.without_contact, cur)},
        {"recovered_total",
         bucket_json({s.recovered.count + s.without_contact.count, rec_total}, cur)},
        {"partial", bucket_json(s.partial, cur)},
        {"late", bucket_json(s.late, cur)},
        {"refunded", bucket_json(s.refunded, cur)},
        {"net_recovered", money_json(rec_total + s.partial.minor + s.late.minor, cur)},
        {"lost", bucket_json(s.lost, cur)},
        {"cancelled", bucket_json(s.cancelled, cur)},
        {"open", bucket_json(s.open, cur)},
        {"recovery_rate", rate_json(rec, s.cases)},
        {"median_days_to_recover", median_json(s.days)}};
    cases += s.cases;
    recovered += rec;
    for (const auto& [d, c] : s.days) all_days[d] += c;
  }
  return {{"cases", cases},
          {"recovered_count", recovered},
          {"recovery_rate", rate_json(recovered, cases)},
          {"median_days_to_recover", median_json(all_days)},
          {"currencies", currencies}};
}

std::string day_string(date::sys_days d) { return date::format("%F", d); }

std::string week_start(TimePoint t) {
  const auto d = std::chrono::floor<date::days>(t);
  const date::weekday wd{d};
  return day_string(d - (wd - date::Monday));
}

std::string month_of(TimePoint t) {
  const date::year_month_day ymd{std::chrono::floor<date::days>(t)};
  return date::format("%Y-%m", ymd);
}

std::string group_key(const std::string& by, const CaseOutcome& o) {
  if (by == "month") return month_of(o.opened_at);
  if (by == "week") return week_start(o.opened_at);
  if (by == "sequence") return o.sequence_id;
  if (by == "decline_code") return o.decline_code.empty() ? "(none)" : o.decline_code;
  if (by == "currency") return o.amount.currency();
  if (by == "step") {
    if (o.kind.empty()) return "(open)";
    if (!o.step_index) return "(no step)";
    return o.sequence_id + " #" + std::to_string(*o.step_index + 1);
  }
  if (by == "channel") {
    if (o.kind.empty()) return "(open)";
    if (o.attribution == "click") return "click";
    return o.channel.empty() ? "(none)" : o.channel;
  }
  return "all";
}

// round(a * b / c) half up, exact (REQUIRES: a, b >= 0, c > 0)
std::int64_t mul_div_round(std::int64_t a, std::int64_t b, std::int64_t c) {
  const Int128 num = static_cast<Int128>(a) * b;
  return static_cast<std::int64_t>((2 * num + c) / (2 * static_cast<Int128>(c)));
}

bool money_in(const std::string& kind) {
  return kind == "recovered" || kind == "recovered_without_contact" || kind == "partial" ||
         kind == "late";
}

// Adds case `o` to group `g`: the case to its invoice's currency, each amount of money to the
// currency it moved in. Rows recorded after `as_of` are not known yet.
void add_outcome(GroupStats& g, const CaseOutcome& o, TimePoint as_of) {
  auto& s = g.currencies[o.amount.currency()];
  ++s.cases;
  s.amount_minor += o.amount.minor();
  for (const auto& m : o.moves) {
    if (m.occurred_at > as_of) continue;
    auto& ms = g.currencies[m.amount.currency()];
    if (m.kind == "partial") {
      ms.partial.add(m.amount.minor());
    } else if (m.kind == "late") {
      ms.late.add(m.amount.minor());
    } else if (m.kind == "correction") {
      // A correction is added to the row it corrects; a close row's are in closed_amount.
      if (m.corrected_kind == "partial") ms.partial.minor += m.amount.minor();
      if (m.corrected_kind == "late") ms.late.minor += m.amount.minor();
      if (money_in(m.corrected_kind) && m.amount.minor() < 0) ms.refunded.add(-m.amount.minor());
    }
  }
  if (o.kind.empty()) {
    // Open: what is still owed, in the invoice's currency.
    std::int64_t paid = 0;
    for (const auto& m : o.moves)
      if (m.kind == "partial" && m.occurred_at <= as_of &&
          m.amount.currency() == o.amount.currency())
        paid += m.amount.minor();
    s.open.add(o.amount.minor() - paid);
    return;
  }
  const std::int64_t m = o.closed_amount.minor();
  auto& ms = g.currencies[o.closed_amount.currency()];
  if (o.kind == "recovered" || o.kind == "recovered_without_contact") {
    (o.kind == "recovered" ? ms.recovered : ms.without_contact).add(m);
    ++s.recovered_cases;
    int d = o.days_to_recover.value_or(o.closed_at ? days_between(o.opened_at, *o.closed_at) : 0);
    s.days[d] += 1;
  } else if (o.kind == "lost") {
    ms.lost.add(m);
  } else if (o.kind == "cancelled") {
    ms.cancelled.add(m);
  }
}

struct UpliftSide {
  std::int64_t cases = 0, recovered = 0;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> money;  // cur → (amount, rec)
};

}  // namespace

bool valid_group_by(const std::string& by) {
  return by.empty() || by == "month" || by == "week" || by == "sequence" || by == "step" ||
         by == "decline_code" || by == "currency" || by == "channel";
}

Interval wilson_interval(std::int64_t x, std::int64_t n) {
  const double nn = static_cast<double>(n), p = static_cast<double>(x) / nn, z2 = kZ95 * kZ95;
  const double denom = 1.0 + z2 / nn;
  const double centre = (p + z2 / (2.0 * nn)) / denom;
  const double half = kZ95 * std::sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)) / denom;
  return {centre - half, centre + half};
}

Interval newcombe_difference(std::int64_t x1, std::int64_t n1, std::int64_t x0, std::int64_t n0) {
  const double p1 = static_cast<double>(x1) / static_cast<double>(n1);
  const double p0 = static_cast<double>(x0) / static_cast<double>(n0);
  const Interval w1 = wilson_interval(x1, n1), w0 = wilson_interval(x0, n0);
  const double d = p1 - p0;
  return {d - std::sqrt((p1 - w1.low) * (p1 - w1.low) + (w0.high - p0) * (w0.high - p0)),
          d + std::sqrt((w1.high - p1) * (w1.high - p1) + (p0 - w0.low) * (p0 - w0.low))};
}

json build_report(store::ReportQueries& reports, const ReportOptions& opt) {
  GroupStats total;
  std::map<std::string, GroupStats> groups;
  std::map<std::pair<std::string, std::string>, std::int64_t> weekly;      // (week, cur) → minor
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> seq_cases;  // → (cases, rwc)
  std::map<std::pair<std::string, int>,
           std::pair<std::int64_t, std::map<std::string, std::int64_t>>>
      recovered_after;  // (seq, step) → (count, cur → minor)
  UpliftSide contacted, holdout;

  reports.for_each_case_outcome(opt.from, opt.to, [&](const CaseOutcome& o0) {
    CaseOutcome o = o0;
    // An outcome recorded after as_of is not known yet at as_of.
    if (!o.kind.empty() && o.closed_at && *o.closed_at > opt.as_of) o.kind.clear();
    const std::string& cur = o.amount.currency();
    add_outcome(total, o, opt.as_of);
    if (!opt.by.empty()) add_outcome(groups[group_key(opt.by, o)], o, opt.as_of);
    const bool recovered = o.kind == "recovered" || o.kind == "recovered_without_contact";
    auto& sc = seq_cases[o.sequence_id];
    ++sc.first;
    if (o.kind == "recovered_without_contact") ++sc.second;
    if (recovered) {
      // the closed amount is in the case's currency (corrections are in the row's currency)
      weekly[{week_start(*o.closed_at), o.closed_amount.currency()}] += o.closed_amount.minor();
      if (o.kind == "recovered" && o.step_index) {
        auto& ra = recovered_after[{o.sequence_id, *o.step_index}];
        ++ra.first;
        ra.second[o.closed_amount.currency()] += o.closed_amount.minor();
      }
    }
    UpliftSide& side = o.holdout ? holdout : contacted;
    ++side.cases;
    side.money[cur].first += o.amount.minor();
    if (recovered) {
      ++side.recovered;
      // in the currency the money moved in (a USD invoice paid in EUR is EUR recovered)
      side.money[o.closed_amount.currency()].second += o.closed_amount.minor();
    }
  });

  json report;
  report["period"] = {{"from", opt.from ? json(format_iso8601(*opt.from)) : json()},
                      {"to", opt.to ? json(format_iso8601(*opt.to)) : json()}};
  report["as_of"] = format_iso8601(opt.as_of);
  report["population"] =
      "cases opened in [from, to); outcomes as recorded in the ledger up to as_of; amounts per "
      "currency in integer minor units (corrections included), never added across currencies: "
      "cases, amount, recovery_rate and open by the invoice's currency, every other amount by the "
      "currency the money moved in; net_recovered = recovered_total + partial + late, each net "
      "of its refunds (refunded)";
  report["group_by"] = opt.by.empty() ? "all" : opt.by;
  report["totals"] = group_json(total);
  json gj = json::object();
  if (opt.by.empty()) {
    gj["all"] = report["totals"];
  } else {
    for (const auto& [k, g] : groups) gj[k] = group_json(g);
  }
  report["groups"] = gj;

  // Funnel per sequence.
  json funnel = json::object();
  for (const auto& [seq, c] : seq_cases) {
    funnel[seq] = {
        {"cases", c.first}, {"recovered_without_contact", c.second}, {"steps", json::array()}};
  }
  for (const auto& r : reports.step_reach(opt.from, opt.to)) {
    json step = {{"step", r.step_index + 1},
                 {"channel", r.channel},
                 {"template", r.template_name},
                 {"reached", r.cases}};
    auto it = recovered_after.find({r.sequence_id, r.step_index});
    std::int64_t after = 0;
    json amounts = json::object();
    if (it != recovered_after.end()) {
      after = it->second.first;
      for (const auto& [cur, m] : it->second.second) amounts[cur] = money_json(m, cur);
    }
    step["recovered_after"] = after;
    step["recovered_after_amount"] = amounts;
    if (!funnel.contains(r.sequence_id)) {
      funnel[r.sequence_id] = {
          {"cases", 0}, {"recovered_without_contact", 0}, {"steps", json::array()}};
    }
    funnel[r.sequence_id]["steps"].push_back(step);
  }
  report["funnel"] = funnel;

  // Recovered revenue per week (of the payment), per currency.
  json weeks = json::object();
  for (const auto& [k, m] : weekly) weeks[k.second][k.first] = money_json(m, k.second);
  report["weekly_recovered"] = weeks;

  // Uplift.
  json uplift;
  uplift["method"] =
      "difference of recovery rates (recovered / cases, contacted minus holdout) with Newcombe's "
      "hybrid score 95% interval (method 10: from the two Wilson score intervals, z = "
      "1.959963984540054)";
  auto side_json = [](const UpliftSide& s) {
    return json{{"cases", s.cases},
                {"recovered", s.recovered},
                {"recovery_rate", rate_json(s.recovered, s.cases)}};
  };
  uplift["contacted"] = side_json(contacted);
  uplift["holdout"] = side_json(holdout);
  if (contacted.cases > 0 && holdout.cases > 0) {
    const double d =
        static_cast<double>(contacted.recovered) / static_cast<double>(contacted.cases) -
        static_cast<double>(holdout.recovered) / static_cast<double>(holdout.cases);
    const Interval ci =
        newcombe_difference(contacted.recovered, contacted.cases, holdout.recovered, holdout.cases);
    uplift["difference"] = d;
    uplift["ci95_low"] = ci.low;
    uplift["ci95_high"] = ci.high;
    uplift["significant"] = ci.low > 0.0 || ci.high < 0.0;
  } else {
    uplift["difference"] = nullptr;
    uplift["ci95_low"] = nullptr;
    uplift["ci95_high"] = nullptr;
    uplift["significant"] = nullptr;
    uplift["note"] = "needs both contacted and holdout cases in the period";
  }
  uplift["attributable_formula"] =
      "attributable = R1 - round(R0 * A1 / A0): R1, A1 = recovered and failed amounts of contacted "
      "cases, R0, A0 = the same for holdout cases, per currency (round half up, minor units)";
  json attributable = json::object();
  for (const auto& [cur, m1] : contacted.money) {
    json a = {{"contacted_failed", money_json(m1.first, cur)},
              {"contacted_recovered", money_json(m1.second, cur)}};
    auto h = holdout.money.find(cur);
    if (h != holdout.money.end() && h->second.first > 0 && m1.first >= 0 && h->second.second >= 0) {
      const std::int64_t expected = mul_div_round(h->second.second, m1.first, h->second.first);
      a["holdout_failed"] = money_json(h->second.first, cur);
      a["holdout_recovered"] = money_json(h->second.second, cur);
      a["expected_without_dunning"] = money_json(expected, cur);
      a["attributable"] = money_json(m1.second - expected, cur);
    } else {
      a["attributable"] = nullptr;
      a["note"] = "no holdout cases in " + cur;
    }
    attributable[cur] = a;
  }
  uplift["attributable"] = attributable;
  report["uplift"] = uplift;

  // LTV preserved.
  std::int64_t exposure = 0, churned = 0, observed = 0;
  const auto& ended = kEndedSubscriptionStatuses;
  reports.for_each_retention(opt.as_of, ended, [&](const RetentionObservation& r) {
    const TimePoint end = r.ended_at.value_or(opt.as_of);
    if (end > r.recovered_at) exposure += (end - r.recovered_at).count();
    if (r.ended_at) ++churned;
    ++observed;
  });
  const std::int64_t horizon = opt.ltv_horizon_months;
  // t = t_num / t_den months
  std::int64_t t_num = horizon, t_den = 1;
  if (churned > 0 &&
      static_cast<Int128>(exposure) < static_cast<Int128>(horizon) * churned * kMonthSeconds) {
    t_num = exposure;
    t_den = churned * kMonthSeconds;
  }
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> ltv;  // cur → (subs, minor)
  std::int64_t without_history = 0;
  reports.for_each_recovery_history(
      opt.from, opt.to, opt.as_of, [&](const store::RecoveryHistory& h) {
        if (h.paid_count == 0 || !h.first_paid_at) {
          ++without_history;
          return;
        }
        const std::int64_t span = (h.recovered_at - *h.first_paid_at).count();
        const std::int64_t months = std::max<std::int64_t>(0, span) / kMonthSeconds + 1;
        const Int128 num = static_cast<Int128>(h.paid_sum_minor) * t_num;
        const Int128 den = static_cast<Int128>(months) * t_den;
        Int128 q = num / den;
        if (num % den != 0 && num < 0) --q;  // floor
        auto& l = ltv[h.currency];
        ++l.first;
        l.second += static_cast<std::int64_t>(q);
      });
  json lj;
  lj["formula"] =
      "LTV preserved = sum over recovered subscriptions (each counted once, at its latest "
      "recovery in the period) of m*a*t. m*a = S / M: S = the customer's "
      "succeeded payments for the subscription (same currency) up to and including the "
      "recovering payment, P of them, so m = S/P is the average payment and a = P/M payments per "
      "month, M = floor(days from the first of those payments to the recovery / 30) + 1 months. "
      "t = expected remaining lifetime in months = min(H, E / (C * 30 days)) from the observed "
      "retention of all recovered subscriptions up to as_of (E = total time observed after "
      "recovery until the subscription ended or as_of, C = how many ended: a later lost or "
      "cancelled case, or the subscription's status ended), t = H when none ended. Each term is "
      "rounded down to a minor unit; currencies are never added.";
  lj["inputs"] = {
      {"observed_recovered_subscriptions", observed},
      {"observed_seconds", exposure},
      {"ended", churned},
      {"horizon_months", horizon},
      {"expected_lifetime_months", static_cast<double>(t_num) / static_cast<double>(t_den)},
      {"recoveries_without_payment_history", without_history}};
  json per = json::object();
  for (const auto& [cur, l] : ltv) {
    json p = money_json(l.second, cur);
    p["subscriptions"] = l.first;
    per[cur] = p;
  }
  lj["currencies"] = per;
  report["ltv_preserved"] = lj;
  return report;
}

void write_report_json(const json& report, std::ostream& out) { out << report.dump(2) << '\n'; }

}  // namespace dunning::ledger
