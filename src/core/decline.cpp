#include "dunning/core/decline.hpp"

#include <array>

namespace dunning {

std::string_view to_string(DeclineClass c) { return c == DeclineClass::kHard ? "hard" : "soft"; }

DeclineTable DeclineTable::builtin() {
  // Stripe's non-retryable codes plus the ones that need a new card.
  static constexpr std::array kHard = {"incorrect_number",
                                       "lost_card",
                                       "pickup_card",
                                       "stolen_card",
                                       "revocation_of_authorization",
                                       "revocation_of_all_authorizations",
                                       "authentication_required",
                                       "highest_risk_level",
                                       "expired_card",
                                       "fraudulent",
                                       "restricted_card"};
  static constexpr std::array kSoft = {"insufficient_funds",   "processing_error",
                                       "try_again_later",      "generic_decline",
                                       "do_not_honor",         "card_velocity_exceeded",
                                       "issuer_not_available", "reenter_transaction"};
  DeclineTable t;
  for (const char* c : kHard) t.set(c, DeclineClass::kHard);
  for (const char* c : kSoft) t.set(c, DeclineClass::kSoft);
  return t;
}

DeclineClass DeclineTable::classify(std::string_view code) const {
  auto it = classes_.find(code);
  return it == classes_.end() ? DeclineClass::kSoft : it->second;  // unknown codes are soft
}

bool DeclineTable::is_sensitive(std::string_view code) {
  return code == "lost_card" || code == "stolen_card" || code == "fraudulent" ||
         code == "pickup_card" || code == "highest_risk_level";
}

}  // namespace dunning
