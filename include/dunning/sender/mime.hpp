// Building RFC 5322 / MIME messages: UTF-8 multipart/alternative, RFC 2047 encoded words for
// non-ASCII headers, quoted-printable bodies with lines of at most 76 characters. Pure code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dunning/core/clock.hpp"

namespace dunning::sender {

struct Email {
  std::string from;     // "Example Billing <billing@example.com>" or a bare address
  std::string to_name;  // display name; may be any UTF-8, may be empty
  std::string to_address;
  std::string reply_to;    // optional
  std::string subject;     // UTF-8
  std::string text;        // UTF-8 plain-text body
  std::string html;        // UTF-8 HTML body; empty → a single text/plain part
  std::string message_id;  // without angle brackets
  TimePoint date;
  std::vector<std::pair<std::string, std::string>> extra_headers;
  // List-Unsubscribe URIs (without angle brackets); empty → no header. A URI longer than 900
  // octets is left out, so the header never breaks the 998-octet line limit.
  std::vector<std::string> list_unsubscribe;
  // "List-Unsubscribe-Post: List-Unsubscribe=One-Click" when one of them is https:// (RFC 8058).
  bool list_unsubscribe_post = false;
};

// The complete message with CRLF line endings. CR and LF inside any header value are replaced
// by spaces, so no field can inject a header.
std::string build_mime(const Email& e);

// "=?UTF-8?B?...?=" words (each ≤ 75 chars) for non-ASCII text; ASCII is returned unchanged.
std::string encode_header_text(std::string_view utf8);
// "Name <addr>" with the name encoded or quoted as needed.
std::string format_address(std::string_view name, std::string_view address);
// The addr-spec of "Name <addr>" (or the input itself when there are no brackets).
std::string address_of(std::string_view mailbox);
std::string quoted_printable(std::string_view utf8);
// Each pattern (see expand_link_pattern) with {customer} and {case} replaced by the percent-encoded
// values, so no id can end a URI, add a query parameter or a header line.
std::vector<std::string> expand_uri_patterns(const std::vector<std::string>& patterns,
                                             std::string_view customer_id, std::int64_t case_id);
// RFC 5322 date: "Tue, 24 Nov 2026 13:22:20 +0000".
std::string rfc5322_date(TimePoint t);

}  // namespace dunning::sender
