#include "store/sqlite/rows.hpp"

namespace dunning::store::sqlite {

void bind_time(StatementCache::Lease& s, int i, const std::optional<TimePoint>& t) {
  if (t) {
    s.bind(i, iso(*t));
  } else {
    s.bind(i, std::nullopt);
  }
}

std::vector<Count> read_counts(StatementCache::Lease& s) {
  std::vector<Count> out;
  while (s.step()) out.push_back({s.text(0), s.text(1), s.int64(2)});
  return out;
}

}  // namespace dunning::store::sqlite
