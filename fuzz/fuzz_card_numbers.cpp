// The card-number filter: text scanning, the streaming JSON screen and the document walk, on any
// bytes; a body the screen passes parses, and scan, screen and walk agree where they must.
#include <nlohmann/json.hpp>

#include "dunning/ingest/card_numbers.hpp"
#include "dunning/ingest/json_screen.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  auto text = fuzz::view(data, size);
  const bool in_text = ingest::contains_card_number(text);
  auto parts = fuzz::split(text, 2, '|');
  (void)ingest::split_card_number(parts[0], parts[1]);
  bool digits_only = !text.empty() && text.size() <= 19 &&
                     text.find_first_not_of("0123456789") == std::string_view::npos;
  if (digits_only) {
    FUZZ_CHECK(in_text == ingest::is_card_number(text), "digit string: scan and oracle differ");
  }
  auto problem = ingest::screen_json(text);
  auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!problem) {
    FUZZ_CHECK(!doc.is_discarded(), "the screen passed a body that does not parse");
    // A lone string the screen passed holds no card number by the document walk either.
    if (doc.is_string()) FUZZ_CHECK(!ingest::find_card_number(doc), "screen and walk differ");
  }
  if (!doc.is_discarded()) (void)ingest::find_card_number(doc);
  return 0;
}
