#include "dunning/rules/rules.hpp"

#include <algorithm>
#include <map>

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
  if (!m.currencies.empty() && !contains(m.currencies, f.amount.currency())) {
    return "currency " + f.amount.currency() + " not listed";
  }
  if (!m.locales.empty() && !locale_matches(m.locales, f.locale)) {
    return "locale '" + f.locale + "' not listed";
  }
  // An amount bound in another currency cannot be compared: the sequence does not match.
  if (m.amount_at_least) {
    if (m.amount_at_least->currency() != f.amount.currency() ||
        f.amount.less_than(*m.amount_at_least)) {
      return "amount " + f.amount.to_string() + " is below " + m.amount_at_least->to_string();
    }
  }
  if (m.amount_below) {
    if (m.amount_below->currency() != f.amount.currency() || !f.amount.less_than(*m.amount_below)) {
      return "amount " + f.amount.to_string() + " is not below " + m.amount_below->to_string();
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

}  // namespace dunning::rules
