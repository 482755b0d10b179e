#include "store/postgres/rows.hpp"

namespace dunning::store::postgres {

std::vector<Count> read_counts(const Rows& s) {
  std::vector<Count> out;
  for (int i = 0; i < s.size(); ++i) out.push_back({s.text(i, 0), s.text(i, 1), s.int64(i, 2)});
  return out;
}

}  // namespace dunning::store::postgres
