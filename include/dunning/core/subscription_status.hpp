// Subscription statuses, as billing systems spell them. dunningd needs one fact about them:
// which statuses mean the subscription has ended (a case for it stops, retention counts it as
// churned, it is no longer the customer's current subscription). This is the only list.
#pragma once

#include <algorithm>
#include <array>
#include <string_view>

namespace dunning {

// Stripe's "canceled" and "incomplete_expired", the British "cancelled", and a generic "ended".
inline constexpr std::array<std::string_view, 4> kEndedSubscriptionStatuses = {
    "canceled", "cancelled", "ended", "incomplete_expired"};

constexpr bool subscription_ended(std::string_view status) {
  return std::find(kEndedSubscriptionStatuses.begin(), kEndedSubscriptionStatuses.end(), status) !=
         kEndedSubscriptionStatuses.end();
}

}  // namespace dunning
