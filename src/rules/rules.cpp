#include "dunning/rules/rules.hpp"

#include <unicode/uloc.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>

#include "dunning/core/crypto.hpp"

namespace dunning::rules {

using config::Channel;
using config::Sequence;
using config::Step;

namespace {

bool contains(const std::vector<std::string>& list, const std::string& v) {
  return std::find(list.begin(), list.end(), v) != list.end();
}

// "pt-BR" matches a list entry "pt-BR" or "pt".
bool locale_matches(const std::vector<std::string>& list, const std::string& locale) {
  if (contains(list, locale)) return true;
  auto dash = locale.find_first_of("-_");
  return dash != std::string::npos && contains(list, locale.substr(0, dash));
}

std::string step_kind(const Step& step) {
  if (step.channel != Channel::kAction) return std::string(config::to_string(step.channel));
  return "action " + std::string(config::to_string(step.action));
}

}  // namespace

std::string mismatch_reason(const Sequence& s, const CaseFacts& f) {
  const auto& m = s.match;
  if (s.trigger != f.trigger) {
    return "trigger is " + std::string(config::to_string(s.trigger)) + ", case is " +
           std::string(config::to_string(f.trigger));
  }
  if (f.trigger == config::Trigger::kCardExpiring && f.days_until_expiry &&
      *f.days_until_expiry > s.days_before_expiry) {
    return "the card expires in " + std::to_string(*f.days_until_expiry) +
           " days; this sequence starts " + std::to_string(s.days_before_expiry) + " days before";
  }
  if (f.trigger == config::Trigger::kPaymentFailed) {
    if (m.decline == "codes") {
      if (!contains(m.decline_codes, f.decline_code)) {
        return "decline code '" + f.decline_code + "' is not in the list";
      }
    } else if (m.decline != "any" && m.decline != to_string(f.decline_class)) {
      return "wants a " + m.decline + " decline, '" + f.decline_code + "' is " +
             std::string(to_string(f.decline_class));
    }
  }
  if (!m.plans.empty() && !contains(m.plans, f.plan)) return "plan '" + f.plan + "' not listed";
  if (!m.currencies.empty()) {
    if (!f.amount) return "no amount, so no listed currency";
    if (!contains(m.currencies, f.amount->currency())) {
      return "currency " + f.amount->currency() + " not listed";
    }
  }
  if (!m.locales.empty() && !locale_matches(m.locales, f.locale)) {
    return "locale '" + f.locale + "' not listed";
  }
  // An amount bound in another currency, or no amount at all, cannot be compared: the sequence
  // does not match.
  if (m.amount_at_least) {
    if (!f.amount) return "no amount to compare with " + m.amount_at_least->to_string();
    if (m.amount_at_least->currency() != f.amount->currency() ||
        f.amount->less_than(*m.amount_at_least)) {
      return "amount " + f.amount->to_string() + " is below " + m.amount_at_least->to_string();
    }
  }
  if (m.amount_below) {
    if (!f.amount) return "no amount to compare with " + m.amount_below->to_string();
    if (m.amount_below->currency() != f.amount->currency() ||
        !f.amount->less_than(*m.amount_below)) {
      return "amount " + f.amount->to_string() + " is not below " + m.amount_below->to_string();
    }
  }
  return {};
}

const Sequence* select_sequence(const config::Sequences& sequences, const CaseFacts& facts,
                                std::vector<std::string>* why_not) {
  for (const auto& s : sequences.sequences) {
    std::string reason = mismatch_reason(s, facts);
    if (reason.empty()) return &s;
    if (why_not) why_not->push_back(s.id + ": " + reason);
  }
  return nullptr;
}

TimePoint step_due_at(const Sequence& s, std::size_t index, TimePoint opened_at) {
  return opened_at + s.steps.at(index).at;
}

Progress advance(const Sequence& s, TimePoint opened_at, std::size_t next_step, TimePoint now) {
  Progress p;
  std::size_t i = next_step;
  std::vector<std::size_t> due;
  for (; i < s.steps.size() && step_due_at(s, i, opened_at) <= now; ++i) {
    due.push_back(i);
    if (s.steps[i].is_final()) {
      ++i;
      p.closes_case = true;
      break;
    }
  }
  // Keep only the latest due step of each kind (email, sms, or one action).
  std::map<std::string, std::size_t> latest;
  for (std::size_t idx : due) latest[step_kind(s.steps[idx])] = idx;
  for (std::size_t idx : due) {
    const Step& step = s.steps[idx];
    std::size_t winner = latest[step_kind(step)];
    if (winner == idx || step.is_final()) {
      p.run_now.push_back(idx);
    } else {
      p.skipped.push_back({idx, "superseded: the later step #" + std::to_string(winner + 1) + " (" +
                                    s.steps[winner].describe() + ") is also due"});
    }
  }
  p.next_step = i;
  if (!p.closes_case && i < s.steps.size()) p.next_due_at = step_due_at(s, i, opened_at);
  return p;
}

// ---- timing

const date::time_zone* zone_or(std::string_view name, std::string_view fallback,
                               std::string* note) {
  auto find = [](std::string_view n) -> const date::time_zone* {
    if (n.empty()) return nullptr;
    try {
      return date::locate_zone(n);
    } catch (const std::exception&) {
      return nullptr;
    }
  };
  if (const auto* z = find(name)) return z;
  if (note) {
    *note = name.empty()
                ? "no time zone on the customer; using " + std::string(fallback)
                : "unknown time zone '" + std::string(name) + "'; using " + std::string(fallback);
  }
  return find(fallback);
}

TimePoint resolve_local(const date::time_zone* zone, date::local_seconds local) {
  auto info = zone->get_info(local);
  switch (info.result) {
    case date::local_info::nonexistent:
      // The clock jumps over this time: the first instant after the gap.
      return info.first.end;
    case date::local_info::ambiguous:  // the first of the two occurrences
    case date::local_info::unique:
    default:
      return TimePoint(local.time_since_epoch() - info.first.offset);
  }
}

std::string format_local(TimePoint t, const date::time_zone* zone) {
  return date::format("%F %R %Z", date::make_zoned(zone, t));
}

namespace {

bool is_holiday(const Calendar& cal, date::local_days day) {
  return std::any_of(cal.holidays.begin(), cal.holidays.end(), [&](std::chrono::sys_days h) {
    return h.time_since_epoch().count() == day.time_since_epoch().count();
  });
}

date::local_days local_day(TimePoint t, const date::time_zone* zone) {
  return date::floor<date::days>(zone->to_local(t));
}

}  // namespace

std::optional<TimePoint> next_window_slot(TimePoint t, const Calendar& cal) {
  date::local_days day = local_day(t, cal.zone);
  for (int i = 0; i < 372; ++i, day += date::days{1}) {
    if (!cal.window.days[date::weekday(day).c_encoding()]) continue;
    if (is_holiday(cal, day)) continue;
    TimePoint start = resolve_local(cal.zone, day + std::chrono::minutes(cal.window.from_minute));
    TimePoint end = resolve_local(cal.zone, day + std::chrono::minutes(cal.window.to_minute));
    TimePoint candidate = std::max(t, start);
    if (candidate < end) return candidate;
  }
  return std::nullopt;
}

Placement place_contact(TimePoint due, const Calendar& cal, const config::Defaults& d,
                        const std::vector<TimePoint>& others) {
  Placement p{due, {}, true};
  TimePoint t = due;
  // Each round moves t forward only, so this ends; the bound is a guard against a pathological
  // config (e.g. a one-minute window with a 24h gap).
  for (int round = 0; round < 400; ++round) {
    auto slot = next_window_slot(t, cal);
    if (!slot) {
      p.possible = false;
      p.why.push_back("no send-window slot within a year after " + format_local(t, cal.zone));
      p.at = t;
      return p;
    }
    if (*slot != t) {
      p.why.push_back("moved by send window from " + format_local(t, cal.zone) + " to " +
                      format_local(*slot, cal.zone));
      t = *slot;
    }
    if (d.min_hours_between_messages > 0) {
      const Seconds gap = std::chrono::hours(d.min_hours_between_messages);
      TimePoint pushed = t;
      TimePoint blocker = t;
      for (TimePoint o : others) {
        if (o > t - gap && o < t + gap && o + gap > pushed) {
          pushed = o + gap;
          blocker = o;
        }
      }
      if (pushed != t) {
        p.why.push_back("deferred by min_hours_between_messages (" +
                        std::to_string(d.min_hours_between_messages) +
                        "h after another message at " + format_local(blocker, cal.zone) +
                        ") from " + format_local(t, cal.zone) + " to " +
                        format_local(pushed, cal.zone));
        t = pushed;
        continue;
      }
    }
    const date::local_days day = local_day(t, cal.zone);
    const TimePoint day_start = resolve_local(cal.zone, day);
    const TimePoint day_end = resolve_local(cal.zone, day + date::days{1});
    const auto same_day = std::count_if(others.begin(), others.end(),
                                        [&](TimePoint o) { return o >= day_start && o < day_end; });
    if (same_day >= d.max_messages_per_customer_per_day) {
      p.why.push_back("deferred by max_messages_per_customer_per_day (" + std::to_string(same_day) +
                      " already on the customer's local day " + date::format("%F", day) +
                      ") from " + format_local(t, cal.zone) + " to the next day");
      t = day_end;
      continue;
    }
    p.at = t;
    return p;
  }
  p.possible = false;
  p.why.push_back("no slot satisfies the window and the caps");
  p.at = t;
  return p;
}

Placement prefer_payday(TimePoint due, const date::time_zone* zone, const config::Defaults& d) {
  Placement p{due, {}, true};
  const auto local = zone->to_local(due);
  const date::local_days day = date::floor<date::days>(local);
  const auto time_of_day = local - day;
  auto is_payday = [&](date::local_days x) {
    unsigned dom = static_cast<unsigned>(date::year_month_day(x).day());
    return std::find(d.paydays.begin(), d.paydays.end(), static_cast<int>(dom)) != d.paydays.end();
  };
  if (is_payday(day)) return p;
  for (int i = 1; i <= d.payday_max_days; ++i) {
    date::local_days next = day + date::days{i};
    if (is_payday(next)) {
      p.at = resolve_local(zone, next + time_of_day);
      p.why.push_back("prefer payday: moved from " + format_local(due, zone) + " to payday " +
                      format_local(p.at, zone));
      return p;
    }
  }
  p.why.push_back("prefer payday: no payday within " + std::to_string(d.payday_max_days) +
                  " days of " + format_local(due, zone) + "; kept");
  return p;
}

std::optional<std::string> retry_cap_violation(TimePoint at,
                                               const std::vector<TimePoint>& card_retries,
                                               int cap) {
  constexpr Seconds kSpan = std::chrono::hours(24 * 30);
  std::vector<TimePoint> all = card_retries;
  all.push_back(at);
  std::sort(all.begin(), all.end());
  // Only 30-day spans that contain `at` can be newly broken; each starts at some retry.
  for (TimePoint start : all) {
    if (start > at || at >= start + kSpan) continue;
    auto n = std::count_if(all.begin(), all.end(),
                           [&](TimePoint x) { return x >= start && x < start + kSpan; });
    if (n > cap) {
      return "per-card retry cap: the card would get " + std::to_string(n) +
             " retries in the 30 days from " + format_iso8601(start) + " (cap " +
             std::to_string(cap) + ")";
    }
  }
  return std::nullopt;
}

bool in_holdout(std::string_view key, int percent) {
  if (percent <= 0) return false;
  if (percent >= 100) return true;
  const std::string h = sha256_hex(key);
  const std::uint32_t v = static_cast<std::uint32_t>(std::stoul(h.substr(0, 8), nullptr, 16));
  return static_cast<int>(v % 100) < percent;
}

int max_retries_in_30_days(const config::Sequence& s) {
  constexpr Seconds kSpan = std::chrono::hours(24 * 30);
  std::vector<Seconds> at;
  for (const auto& step : s.steps)
    if (step.action == config::Action::kRetry) at.push_back(step.at);
  int best = 0;
  for (Seconds start : at) {
    best = std::max<int>(best, static_cast<int>(std::count_if(at.begin(), at.end(), [&](Seconds x) {
                           return x >= start && x < start + kSpan;
                         })));
  }
  // on_card_updated can fire at any moment of the case: count its retries on top.
  for (const auto& step : s.on_card_updated)
    if (step.action == config::Action::kRetry) ++best;
  return best;
}

namespace {

bool subset(const std::vector<std::string>& inner, const std::vector<std::string>& outer) {
  // Does every value `inner` accepts pass `outer`? (empty = accepts everything)
  if (outer.empty()) return true;
  if (inner.empty()) return false;
  return std::all_of(inner.begin(), inner.end(), [&](const auto& v) { return contains(outer, v); });
}

// Does `a` accept every case that `b` accepts?
bool covers(const Sequence& a, const Sequence& b) {
  if (a.trigger != b.trigger) return false;
  if (a.trigger == config::Trigger::kCardExpiring && a.days_before_expiry < b.days_before_expiry) {
    return false;
  }
  const auto& ma = a.match;
  const auto& mb = b.match;
  if (ma.decline != "any") {
    if (ma.decline == "codes") {
      if (mb.decline != "codes" || !subset(mb.decline_codes, ma.decline_codes)) return false;
    } else if (mb.decline != ma.decline) {
      return false;
    }
  }
  if (!subset(mb.plans, ma.plans) || !subset(mb.currencies, ma.currencies) ||
      !subset(mb.locales, ma.locales)) {
    return false;
  }
  if (ma.amount_at_least) {
    if (!mb.amount_at_least || mb.amount_at_least->currency() != ma.amount_at_least->currency() ||
        mb.amount_at_least->less_than(*ma.amount_at_least)) {
      return false;
    }
  }
  if (ma.amount_below) {
    if (!mb.amount_below || mb.amount_below->currency() != ma.amount_below->currency() ||
        ma.amount_below->less_than(*mb.amount_below)) {
      return false;
    }
  }
  return true;
}

bool known_language(const std::string& locale) {
  static const std::set<std::string> languages = [] {
    std::set<std::string> out;
    for (const char* const* l = uloc_getISOLanguages(); *l; ++l) out.insert(*l);
    return out;
  }();
  std::string lang = locale.substr(0, locale.find_first_of("-_"));
  return languages.count(lang) > 0;
}

}  // namespace

std::vector<config::ConfigError> check_sequences(const config::Sequences& seqs) {
  std::vector<config::ConfigError> out;
  const std::string file = seqs.file.string();
  const int cap = seqs.defaults.max_retries_per_card_per_30_days;
  for (std::size_t i = 0; i < seqs.sequences.size(); ++i) {
    const auto& s = seqs.sequences[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (covers(seqs.sequences[j], s)) {
        out.push_back({file, s.line, 1,
                       "sequence '" + s.id + "' can never match: the earlier sequence '" +
                           seqs.sequences[j].id + "' (line " +
                           std::to_string(seqs.sequences[j].line) +
                           ") accepts every case it would (first match wins)",
                       true});
        break;
      }
    }
    const int retries = max_retries_in_30_days(s);
    if (retries > cap) {
      out.push_back({file, s.line, 1,
                     "sequence '" + s.id + "' can place " + std::to_string(retries) +
                         " retries on one card within 30 days, above the per-card cap of " +
                         std::to_string(cap) + " (max_retries_per_card_per_30_days)",
                     false});
    }
    for (const auto& l : s.match.locales) {
      if (!known_language(l)) {
        out.push_back(
            {file, s.line, 1,
             "sequence '" + s.id + "' matches unknown locale '" + l + "' (not an ISO 639 language)",
             true});
      }
    }
  }
  return out;
}

}  // namespace dunning::rules
