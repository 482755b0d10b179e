// Decline codes as processors send them (Stripe's vocabulary by default) and their class:
// hard (no retry until the card changes) or soft (retry later, and any unknown code).
#pragma once

#include <map>
#include <string>
#include <string_view>

namespace dunning {

enum class DeclineClass { kHard, kSoft };

std::string_view to_string(DeclineClass c);

// The built-in table of the design; config may override single codes.
class DeclineTable {
 public:
  static DeclineTable builtin();
  void set(std::string code, DeclineClass c) { classes_[std::move(code)] = c; }
  DeclineClass classify(std::string_view code) const;
  // Lost, stolen, fraud and pick-up codes: the message to the customer stays generic.
  static bool is_sensitive(std::string_view code);

 private:
  std::map<std::string, DeclineClass, std::less<>> classes_;
};

}  // namespace dunning
