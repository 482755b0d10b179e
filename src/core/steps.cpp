#include "dunning/core/steps.hpp"

#include "dunning/core/names.hpp"

namespace dunning {

namespace {

constexpr Names<Trigger, 2> kTriggerNames{{{
    {Trigger::kPaymentFailed, "payment_failed"},
    {Trigger::kCardExpiring, "card_expiring"},
}}};

constexpr Names<Channel, 3> kChannelNames{{{
    {Channel::kEmail, "email"},
    {Channel::kSms, "sms"},
    {Channel::kAction, "action"},
}}};

constexpr Names<Action, 6> kActionNames{{{
    {Action::kNone, ""},
    {Action::kRetry, "retry"},
    {Action::kWebhook, "webhook"},
    {Action::kCancel, "cancel"},
    {Action::kPause, "pause"},
    {Action::kMarkLost, "mark_lost"},
}}};

}  // namespace

std::string_view to_string(Trigger t) { return kTriggerNames.name(t); }
std::optional<Trigger> parse_trigger(std::string_view text) { return kTriggerNames.parse(text); }

std::string_view to_string(Channel c) { return kChannelNames.name(c); }
std::optional<Channel> parse_channel(std::string_view text) { return kChannelNames.parse(text); }

std::string_view to_string(Action a) { return kActionNames.name(a); }
std::optional<Action> parse_action(std::string_view text) { return kActionNames.parse(text); }

}  // namespace dunning
