// POST /v1/events bodies: parse_api_event never crashes, recurses or overflows, and what it
// accepts is clean (see fact_checks.hpp).
#include "dunning/ingest/api_event.hpp"
#include "fact_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  fuzz::check_accepted(ingest::parse_api_event(fuzz::view(data, size), fuzz::now()));
  return 0;
}
