#include "dunning/ledger/summary.hpp"

#include <date/date.h>

#include <cmath>
#include <map>

#include "dunning/core/subscription_status.hpp"
#include "dunning/ledger/attribution.hpp"

namespace dunning::ledger {

using store::CaseOutcome;
using store::LedgerKind;
using store::RetentionObservation;

namespace {

// Exact intermediate products of minor units and seconds (GCC extension, quiet under -pedantic).
__extension__ typedef __int128 Int128;

constexpr double kZ95 = 1.959963984540054;  // two-sided 95% normal quantile
constexpr std::int64_t kMonthSeconds = 30LL * 86400;

// ---- tallies of the streaming pass: integer minor units, one currency each

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

struct UpliftTally {
  std::int64_t cases = 0, recovered = 0;
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> money;  // cur → (amount, rec)
};

// Everything the pass over the case outcomes keeps.
struct Tally {
  GroupStats total;
  std::map<std::string, GroupStats> groups;
  std::map<std::pair<std::string, std::string>, std::int64_t> weekly;      // (week, cur) → minor
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> seq_cases;  // → (cases, rwc)
  std::map<std::pair<std::string, int>,
           std::pair<std::int64_t, std::map<std::string, std::int64_t>>>
      recovered_after;  // (seq, step) → (count, cur → minor)
  UpliftTally contacted, holdout;
};

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

std::string group_key(GroupBy by, const CaseOutcome& o) {
  switch (by) {
    case GroupBy::kMonth:
      return month_of(o.opened_at);
    case GroupBy::kWeek:
      return week_start(o.opened_at);
    case GroupBy::kSequence:
      return o.sequence_id;
    case GroupBy::kDeclineCode:
      return o.decline_code.empty() ? "(none)" : o.decline_code;
    case GroupBy::kCurrency:
      return o.amount.currency();
    case GroupBy::kStep:
      if (!o.kind) return "(open)";
      if (!o.step_index) return "(no step)";
      return o.sequence_id + " #" + std::to_string(*o.step_index + 1);
    case GroupBy::kChannel:
      if (!o.kind) return "(open)";
      if (o.attribution == store::Attribution::kClick) return "click";
      return o.channel.empty() ? "(none)" : o.channel;
  }
  return "all";  // unreachable for a valid enumerator
}

// round(a * b / c) half up, exact (REQUIRES: a, b >= 0, c > 0)
std::int64_t mul_div_round(std::int64_t a, std::int64_t b, std::int64_t c) {
  const Int128 num = static_cast<Int128>(a) * b;
  return static_cast<std::int64_t>((2 * num + c) / (2 * static_cast<Int128>(c)));
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
    if (m.kind == LedgerKind::kPartial) {
      ms.partial.add(m.amount.minor());
    } else if (m.kind == LedgerKind::kLate) {
      ms.late.add(m.amount.minor());
    } else if (m.kind == LedgerKind::kCorrection && m.corrected) {
      // A correction is added to the row it corrects; a close row's are in closed_amount.
      if (m.corrected == LedgerKind::kPartial) ms.partial.minor += m.amount.minor();
      if (m.corrected == LedgerKind::kLate) ms.late.minor += m.amount.minor();
      if (store::brings_money_in(*m.corrected) && m.amount.minor() < 0) {
        ms.refunded.add(-m.amount.minor());
      }
    }
  }
  if (!o.kind) {
    // Open: what is still owed, in the invoice's currency.
    std::int64_t paid = 0;
    for (const auto& m : o.moves)
      if (m.kind == LedgerKind::kPartial && m.occurred_at <= as_of &&
          m.amount.currency() == o.amount.currency())
        paid += m.amount.minor();
    s.open.add(o.amount.minor() - paid);
    return;
  }
  const std::int64_t m = o.closed_amount.minor();
  auto& ms = g.currencies[o.closed_amount.currency()];
  if (store::is_recovery(*o.kind)) {
    (o.kind == LedgerKind::kRecovered ? ms.recovered : ms.without_contact).add(m);
    ++s.recovered_cases;
    int d = o.days_to_recover.value_or(o.closed_at ? days_between(o.opened_at, *o.closed_at) : 0);
    s.days[d] += 1;
  } else if (o.kind == LedgerKind::kLost) {
    ms.lost.add(m);
  } else if (o.kind == LedgerKind::kCancelled) {
    ms.cancelled.add(m);
  }
}

// Adds one case outcome (as known at as_of) to every tally.
void tally_outcome(Tally& t, const CaseOutcome& o, const ReportOptions& opt) {
  add_outcome(t.total, o, opt.as_of);
  if (opt.by) add_outcome(t.groups[group_key(*opt.by, o)], o, opt.as_of);
  const bool recovered = o.kind && store::is_recovery(*o.kind);
  auto& sc = t.seq_cases[o.sequence_id];
  ++sc.first;
  if (o.kind == LedgerKind::kRecoveredWithoutContact) ++sc.second;
  if (recovered) {
    // the closed amount is in the case's currency (corrections are in the row's currency)
    t.weekly[{week_start(*o.closed_at), o.closed_amount.currency()}] += o.closed_amount.minor();
    if (o.kind == LedgerKind::kRecovered && o.step_index) {
      auto& ra = t.recovered_after[{o.sequence_id, *o.step_index}];
      ++ra.first;
      ra.second[o.closed_amount.currency()] += o.closed_amount.minor();
    }
  }
  UpliftTally& side = o.holdout ? t.holdout : t.contacted;
  ++side.cases;
  side.money[o.amount.currency()].first += o.amount.minor();
  if (recovered) {
    ++side.recovered;
    // in the currency the money moved in (a USD invoice paid in EUR is EUR recovered)
    side.money[o.closed_amount.currency()].second += o.closed_amount.minor();
  }
}

// ---- from the tallies to the report's figures

std::optional<MedianDays> median_of(const std::map<int, std::int64_t>& hist) {
  std::int64_t n = 0;
  for (const auto& [d, c] : hist) n += c;
  if (n == 0) return std::nullopt;
  // positions (0-based) n/2 and (n-1)/2 in sorted order
  const std::int64_t lo_pos = (n - 1) / 2, hi_pos = n / 2;
  std::optional<int> lo, hi;
  std::int64_t seen = 0;
  for (const auto& [d, c] : hist) {
    if (!lo && lo_pos < seen + c) lo = d;
    if (!hi && hi_pos < seen + c) hi = d;
    seen += c;
  }
  return MedianDays{*lo, *hi};
}

std::optional<double> rate_of(std::int64_t x, std::int64_t n) {
  if (n == 0) return std::nullopt;
  return static_cast<double>(x) / static_cast<double>(n);
}

CountedMoney counted(const Bucket& b, const std::string& currency) {
  return {b.count, Money(b.minor, currency)};
}

CurrencyFigures currency_figures(const CurrencyStats& s, const std::string& cur) {
  CurrencyFigures f;
  f.cases = s.cases;
  f.failed = Money(s.amount_minor, cur);
  f.recovered = counted(s.recovered, cur);
  f.recovered_without_contact = counted(s.without_contact, cur);
  f.recovered_total = {f.recovered.count + f.recovered_without_contact.count,
                       f.recovered.money + f.recovered_without_contact.money};
  f.partial = counted(s.partial, cur);
  f.late = counted(s.late, cur);
  f.refunded = counted(s.refunded, cur);
  f.net_recovered = f.recovered_total.money + f.partial.money + f.late.money;
  f.lost = counted(s.lost, cur);
  f.cancelled = counted(s.cancelled, cur);
  f.open = counted(s.open, cur);
  f.recovery_rate = rate_of(s.recovered_cases, s.cases);
  f.median_days_to_recover = median_of(s.days);
  return f;
}

GroupFigures group_figures(const GroupStats& g) {
  GroupFigures f;
  std::map<int, std::int64_t> all_days;  // days are added across currencies, money never
  for (const auto& [cur, s] : g.currencies) {
    f.currencies[cur] = currency_figures(s, cur);
    f.cases += s.cases;
    f.recovered_count += s.recovered_cases;
    for (const auto& [d, c] : s.days) all_days[d] += c;
  }
  f.recovery_rate = rate_of(f.recovered_count, f.cases);
  f.median_days_to_recover = median_of(all_days);
  return f;
}

// Funnel per sequence: the cases of every sequence, then the steps the store saw sent.
std::map<std::string, SequenceFunnel> funnel_of(const Tally& t,
                                                const std::vector<store::StepReach>& reach) {
  std::map<std::string, SequenceFunnel> funnel;
  for (const auto& [seq, c] : t.seq_cases) {
    funnel[seq].cases = c.first;
    funnel[seq].recovered_without_contact = c.second;
  }
  for (const auto& r : reach) {
    FunnelStep step;
    step.step = r.step_index + 1;
    step.channel = r.channel;
    step.template_name = r.template_name;
    step.reached = r.cases;
    auto it = t.recovered_after.find({r.sequence_id, r.step_index});
    if (it != t.recovered_after.end()) {
      step.recovered_after = it->second.first;
      for (const auto& [cur, m] : it->second.second)
        step.recovered_after_amount.emplace(cur, Money(m, cur));
    }
    // A sequence whose cases all opened outside the period still shows the steps sent.
    funnel[r.sequence_id].steps.push_back(std::move(step));
  }
  return funnel;
}

std::map<std::string, std::map<std::string, Money>> weekly_of(const Tally& t) {
  std::map<std::string, std::map<std::string, Money>> weeks;
  for (const auto& [k, m] : t.weekly) weeks[k.second].emplace(k.first, Money(m, k.second));
  return weeks;
}

UpliftSide uplift_side(const UpliftTally& s) {
  return {s.cases, s.recovered, rate_of(s.recovered, s.cases)};
}

RateDifference rate_difference(const UpliftTally& contacted, const UpliftTally& holdout) {
  RateDifference d;
  d.difference = static_cast<double>(contacted.recovered) / static_cast<double>(contacted.cases) -
                 static_cast<double>(holdout.recovered) / static_cast<double>(holdout.cases);
  d.ci95 =
      newcombe_difference(contacted.recovered, contacted.cases, holdout.recovered, holdout.cases);
  d.significant = d.ci95.low > 0.0 || d.ci95.high < 0.0;
  return d;
}

// The revenue attributable to dunning per currency: what contacted cases recovered beyond what
// the holdout group's rate would have recovered of the same failed amount.
std::map<std::string, AttributableRevenue> attributable_of(const UpliftTally& contacted,
                                                           const UpliftTally& holdout) {
  std::map<std::string, AttributableRevenue> out;
  for (const auto& [cur, m1] : contacted.money) {
    AttributableRevenue& a = out[cur];
    a.contacted_failed = Money(m1.first, cur);
    a.contacted_recovered = Money(m1.second, cur);
    auto h = holdout.money.find(cur);
    if (h != holdout.money.end() && h->second.first > 0 && m1.first >= 0 && h->second.second >= 0) {
      const std::int64_t expected = mul_div_round(h->second.second, m1.first, h->second.first);
      a.estimate = HoldoutEstimate{Money(h->second.first, cur), Money(h->second.second, cur),
                                   Money(expected, cur), Money(m1.second - expected, cur)};
    } else {
      a.note = "no holdout cases in " + cur;
    }
  }
  return out;
}

Uplift uplift_of(const UpliftTally& contacted, const UpliftTally& holdout) {
  Uplift u;
  u.method =
      "difference of recovery rates (recovered / cases, contacted minus holdout) with Newcombe's "
      "hybrid score 95% interval (method 10: from the two Wilson score intervals, z = "
      "1.959963984540054)";
  u.contacted = uplift_side(contacted);
  u.holdout = uplift_side(holdout);
  if (contacted.cases > 0 && holdout.cases > 0) {
    u.difference = rate_difference(contacted, holdout);
  } else {
    u.note = "needs both contacted and holdout cases in the period";
  }
  u.attributable_formula =
      "attributable = R1 - round(R0 * A1 / A0): R1, A1 = recovered and failed amounts of contacted "
      "cases, R0, A0 = the same for holdout cases, per currency (round half up, minor units)";
  u.attributable = attributable_of(contacted, holdout);
  return u;
}

// The expected remaining lifetime t = t_num / t_den months, from the observed retention.
struct Lifetime {
  std::int64_t num = 0, den = 1;
};

Lifetime expected_lifetime(store::ReportQueries& reports, const ReportOptions& opt, LtvInputs& in) {
  std::int64_t exposure = 0, churned = 0, observed = 0;
  reports.for_each_retention(opt.as_of, kEndedSubscriptionStatuses,
                             [&](const RetentionObservation& r) {
                               const TimePoint end = r.ended_at.value_or(opt.as_of);
                               if (end > r.recovered_at) exposure += (end - r.recovered_at).count();
                               if (r.ended_at) ++churned;
                               ++observed;
                             });
  const std::int64_t horizon = opt.ltv_horizon_months;
  Lifetime t{horizon, 1};
  if (churned > 0 &&
      static_cast<Int128>(exposure) < static_cast<Int128>(horizon) * churned * kMonthSeconds) {
    t = {exposure, churned * kMonthSeconds};
  }
  in.observed_recovered_subscriptions = observed;
  in.observed_seconds = exposure;
  in.ended = churned;
  in.horizon_months = horizon;
  in.expected_lifetime_months = static_cast<double>(t.num) / static_cast<double>(t.den);
  return t;
}

LtvPreserved ltv_preserved_of(store::ReportQueries& reports, const ReportOptions& opt) {
  LtvPreserved l;
  l.formula =
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
  const Lifetime t = expected_lifetime(reports, opt, l.inputs);
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> ltv;  // cur → (subs, minor)
  reports.for_each_recovery_history(
      opt.from, opt.to, opt.as_of, [&](const store::RecoveryHistory& h) {
        if (h.paid_count == 0 || !h.first_paid_at) {
          ++l.inputs.recoveries_without_payment_history;
          return;
        }
        const std::int64_t span = (h.recovered_at - *h.first_paid_at).count();
        const std::int64_t months = std::max<std::int64_t>(0, span) / kMonthSeconds + 1;
        const Int128 num = static_cast<Int128>(h.paid_sum_minor) * t.num;
        const Int128 den = static_cast<Int128>(months) * t.den;
        Int128 q = num / den;
        if (num % den != 0 && num < 0) --q;  // floor
        auto& c = ltv[h.currency];
        ++c.first;
        c.second += static_cast<std::int64_t>(q);
      });
  for (const auto& [cur, c] : ltv) l.currencies[cur] = {c.first, Money(c.second, cur)};
  return l;
}

}  // namespace

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

Report build_report(store::ReportQueries& reports, const ReportOptions& opt) {
  Tally t;
  reports.for_each_case_outcome(opt.from, opt.to, [&](const CaseOutcome& o0) {
    CaseOutcome o = o0;
    // An outcome recorded after as_of is not known yet at as_of.
    if (o.kind && o.closed_at && *o.closed_at > opt.as_of) o.kind.reset();
    tally_outcome(t, o, opt);
  });

  Report r;
  r.period = {opt.from, opt.to};
  r.as_of = opt.as_of;
  r.population =
      "cases opened in [from, to); outcomes as recorded in the ledger up to as_of; amounts per "
      "currency in integer minor units (corrections included), never added across currencies: "
      "cases, amount, recovery_rate and open by the invoice's currency, every other amount by the "
      "currency the money moved in; net_recovered = recovered_total + partial + late, each net "
      "of its refunds (refunded)";
  r.group_by = opt.by ? std::string(to_string(*opt.by)) : "all";
  r.totals = group_figures(t.total);
  if (!opt.by) {
    r.groups["all"] = r.totals;
  } else {
    for (const auto& [k, g] : t.groups) r.groups[k] = group_figures(g);
  }
  r.funnel = funnel_of(t, reports.step_reach(opt.from, opt.to));
  r.weekly_recovered = weekly_of(t);
  r.uplift = uplift_of(t.contacted, t.holdout);
  r.ltv_preserved = ltv_preserved_of(reports, opt);
  return r;
}

}  // namespace dunning::ledger
