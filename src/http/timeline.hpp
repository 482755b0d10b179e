// Internal to http: a case's timeline as the read API's case detail and the console's case page
// both list it, so the two never spell an event differently.
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "dunning/store/cases.hpp"

namespace dunning::http {

// The events oldest first as they come from the store, one {at (ISO 8601 UTC), kind, detail}
// object each.
nlohmann::json timeline_json(const std::vector<store::CaseEvent>& events);

}  // namespace dunning::http
