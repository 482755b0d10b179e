#include "http/timeline.hpp"

#include "dunning/core/clock.hpp"

namespace dunning::http {

nlohmann::json timeline_json(const std::vector<store::CaseEvent>& events) {
  nlohmann::json rows = nlohmann::json::array();
  for (const auto& e : events)
    rows.push_back({{"at", format_iso8601(e.at)}, {"kind", e.kind}, {"detail", e.detail}});
  return rows;
}

}  // namespace dunning::http
