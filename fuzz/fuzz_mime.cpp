// MIME building with every data-borne field taken from the input (names, address, subject,
// bodies, ids, unsubscribe URIs): see mime_checks.hpp. The address is at most 254 octets, as the
// dispatcher guarantees (plausible_email) before it builds a message.
#include "dunning/sender/mime.hpp"
#include "mime_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  auto f = fuzz::split(fuzz::view(data, size), 9);
  sender::Email e;
  e.from = "Example Billing <billing@example.com>";
  e.to_name = f[0];
  e.to_address = f[1].substr(0, 254);
  e.subject = f[2];
  e.text = f[3];
  e.html = f[4];
  e.message_id = "dunningd.case-1.step-0@example.com";
  e.date = fuzz::now();
  e.extra_headers = {{"X-Dunningd-Case", f[5].substr(0, 20)}, {"X-Dunningd-Step", "0"}};
  if (!f[6].empty()) e.list_unsubscribe = {f[6], "mailto:unsubscribe@example.com?subject=" + f[7]};
  e.list_unsubscribe_post = !f[8].empty();
  fuzz::check_mime(sender::build_mime(e));
  (void)sender::encode_header_text(f[2]);
  (void)sender::format_address(f[0], f[1]);
  (void)sender::quoted_printable(f[3]);
  return 0;
}
