// The vocabulary of a dunning sequence's steps, shared by the YAML an admin writes (config), the
// rows the store keeps (cases.trigger, outbox.channel, outbox.action) and what the API, the
// console and the logs print: one enumeration and one name table each (core/names.hpp). Text
// that names nothing parses to nullopt; the reader reports it (a config error at file:line, a
// corrupt row from the store), never a default.
#pragma once

#include <optional>
#include <string_view>

#include "dunning/core/names.hpp"

namespace dunning {

// What opens a case.
enum class Trigger { kPaymentFailed, kCardExpiring };
std::string_view to_string(Trigger t);  // payment_failed | card_expiring
std::optional<Trigger> parse_trigger(std::string_view text);
DUNNING_JSON_AS_NAME(Trigger)

// How a step reaches the customer (email, sms) or acts on the account (action).
enum class Channel { kEmail, kSms, kAction };
std::string_view to_string(Channel c);  // email | sms | action
std::optional<Channel> parse_channel(std::string_view text);
DUNNING_JSON_AS_NAME(Channel)
inline bool is_contact(Channel c) { return c != Channel::kAction; }

// What an action step does; kNone on email and sms steps (stored as an empty action).
enum class Action { kNone, kRetry, kWebhook, kCancel, kPause, kMarkLost };
std::string_view to_string(Action a);  // "" | retry | webhook | cancel | pause | mark_lost
std::optional<Action> parse_action(std::string_view text);
DUNNING_JSON_AS_NAME(Action)
// The actions that end the case (cancel, pause and mark_lost close it; retry and webhook do not).
inline bool ends_case(Action a) {
  return a == Action::kCancel || a == Action::kPause || a == Action::kMarkLost;
}

}  // namespace dunning
