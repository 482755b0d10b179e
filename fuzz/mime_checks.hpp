// What a built message must satisfy whatever the data: CRLF line endings only, no header line
// over 998 octets, no header line of white space only, every header line either a field of the
// set build_mime writes or a folded continuation, and no control characters in the header.
#pragma once

#include <set>
#include <string>

#include "fuzz_support.hpp"

namespace dunning::fuzz {

inline void check_mime(const std::string& m) {
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r') FUZZ_CHECK(i + 1 < m.size() && m[i + 1] == '\n', "bare CR");
    if (m[i] == '\n') FUZZ_CHECK(i > 0 && m[i - 1] == '\r', "bare LF");
  }
  static const std::set<std::string> kFields{"Date",
                                             "From",
                                             "To",
                                             "Reply-To",
                                             "Subject",
                                             "Message-ID",
                                             "MIME-Version",
                                             "Auto-Submitted",
                                             "List-Unsubscribe",
                                             "List-Unsubscribe-Post",
                                             "Content-Type",
                                             "Content-Transfer-Encoding",
                                             "X-Dunningd-Case",
                                             "X-Dunningd-Step"};
  const auto end = m.find("\r\n\r\n");
  FUZZ_CHECK(end != std::string::npos, "no end of header");
  std::size_t pos = 0;
  while (pos < end + 2) {
    const auto eol = m.find("\r\n", pos);
    const std::string line = m.substr(pos, eol - pos);
    FUZZ_CHECK(line.size() <= 998, "a header line of " + std::to_string(line.size()) + " octets");
    FUZZ_CHECK(line.find_first_not_of(" \t") != std::string::npos, "a white-space-only line");
    for (unsigned char c : line) FUZZ_CHECK(c >= 0x20 && c != 0x7F, "a control in the header");
    if (line[0] != ' ' && line[0] != '\t') {
      const auto colon = line.find(':');
      FUZZ_CHECK(colon != std::string::npos && kFields.count(line.substr(0, colon)),
                 "an unexpected header line: " + line.substr(0, 80));
    }
    pos = eol + 2;
  }
  for (std::size_t p = end + 4; p < m.size();) {  // quoted-printable bodies: short lines
    auto eol = m.find("\r\n", p);
    if (eol == std::string::npos) eol = m.size();
    FUZZ_CHECK(eol - p <= 998, "a body line over 998 octets");
    p = eol + 2;
  }
}

}  // namespace dunning::fuzz
