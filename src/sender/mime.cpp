#include "dunning/sender/mime.hpp"

#include <date/date.h>

#include <algorithm>

#include "dunning/core/crypto.hpp"
#include "dunning/core/signed_link.hpp"

namespace dunning::sender {
namespace {

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 128; });
}

// A header value from data: every control character (CR, LF, tab, NUL, ESC, VT, FF, DEL, the
// C1 range) becomes a space, so no value can end the line, add a header or hide text.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      out += ' ';
      ++i;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string trim_trailing_spaces(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

// Text that a mail client would decode as an RFC 2047 encoded word if it stood in a header as
// is ("=?UTF-8?B?...?="): data holding "=?" is itself encoded, so it reads literally.
bool looks_encoded(std::string_view s) { return s.find("=?") != std::string_view::npos; }

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  auto byte = [&](std::size_t k) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[k]));
  };
  for (; i + 2 < in.size(); i += 3) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    unsigned v = byte(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    unsigned v = (byte(i) << 16) | (byte(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Length of the UTF-8 sequence starting with lead byte c.
std::size_t utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c >> 5) == 0x6) return 2;
  if ((c >> 4) == 0xe) return 3;
  if ((c >> 3) == 0x1e) return 4;
  return 1;
}

// Folds an unstructured header value at spaces so lines stay within 78 characters where
// possible (RFC 5322 2.2.3); values that are already folded (encoded words) pass unchanged.
// A fold goes before a run of spaces and the word after it, never between the two, so no
// folded line consists of white space only.
std::string fold(std::size_t prefix, std::string_view value) {
  if (value.find("\r\n") != std::string_view::npos) return std::string(value);
  std::string out;
  std::size_t col = prefix;
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t text = value.find_first_not_of(' ', i);  // the word after the spaces
    if (text == std::string_view::npos) text = value.size();
    std::size_t next = value.find(' ', text);
    if (next == std::string_view::npos) next = value.size();
    std::string_view word = value.substr(i, next - i);  // starts with its spaces, if any
    if (word.front() == ' ' && text < next && col + word.size() > 78 && col > prefix) {
      out += "\r\n";
      col = 0;
    }
    out += word;
    col += word.size();
    i = next;
  }
  return out;
}

std::size_t longest_word(std::string_view s) {
  std::size_t longest = 0;
  std::size_t run = 0;
  for (char c : s) {
    run = c == ' ' ? 0 : run + 1;
    longest = std::max(longest, run);
  }
  return longest;
}

// A URI as it may stand between angle brackets in a header: anything that could end the entry
// or the line (whitespace, controls, <, >, ", comma, non-ASCII) is percent-encoded.
std::string header_safe_uri(std::string_view uri) {
  std::string out;
  for (unsigned char c : uri) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',') {
      out += percent_encode(std::string_view(reinterpret_cast<const char*>(&c), 1));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

std::vector<std::string> expand_uri_patterns(const std::vector<std::string>& patterns,
                                             std::string_view customer_id, std::int64_t case_id) {
  std::vector<std::string> out;
  out.reserve(patterns.size());
  for (const auto& uri : patterns) out.push_back(expand_link_pattern(uri, customer_id, case_id));
  return out;
}

std::string encode_header_text(std::string_view utf8) {
  std::string s = trim_trailing_spaces(one_line(utf8));
  // ASCII stays readable unless a single word is too long to fold within 998 octets, or it
  // holds something a client would take for an encoded word.
  if (is_ascii(s) && longest_word(s) < 900 && !looks_encoded(s)) return s;
  // Each encoded word holds at most 45 bytes of text (60 base64 chars + 12 of framing),
  // split only at UTF-8 character boundaries.
  std::string out;
  std::size_t i = 0;
  while (i < s.size()) {
    std::size_t end = i;
    while (end < s.size()) {
      std::size_t n = utf8_len(static_cast<unsigned char>(s[end]));
      if (end + n - i > 45) break;
      end += n;
    }
    if (end == i) end = std::min(s.size(), i + 1);
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(std::string_view(s).substr(i, end - i)) + "?=";
    i = end;
  }
  return out;
}

namespace {

// A display name as encoded words (RFC 2047 5(3)). Readers treat each encoded word of a phrase
// as a word of its own (Python's email package puts a space between them), so the name is cut
// at its own spaces where it can: a chunk holds whole words up to 45 bytes, and only a word
// longer than that is cut inside.
std::string encode_phrase(std::string_view name) {
  std::vector<std::string> chunks;
  std::string current;
  auto flush = [&] {
    if (!current.empty()) chunks.push_back(std::move(current));
    current.clear();
  };
  std::size_t i = 0;
  while (i < name.size()) {
    while (i < name.size() && name[i] == ' ') ++i;
    std::size_t end = name.find(' ', i);
    if (end == std::string_view::npos) end = name.size();
    std::string_view word = name.substr(i, end - i);
    i = end;
    if (word.empty()) continue;
    if (!current.empty() && current.size() + 1 + word.size() <= 45) {
      current += ' ';
      current += word;
      continue;
    }
    flush();
    while (word.size() > 45) {  // a word too long for one encoded word: cut at characters
      std::size_t cut = 0;
      while (cut < word.size()) {
        std::size_t n = utf8_len(static_cast<unsigned char>(word[cut]));
        if (cut + n > 45) break;
        cut += n;
      }
      if (cut == 0) cut = 1;
      chunks.emplace_back(word.substr(0, cut));
      word.remove_prefix(cut);
    }
    current = std::string(word);
  }
  flush();
  std::string out;
  for (const auto& c : chunks) {
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?" + base64(c) + "?=";
  }
  return out;
}

}  // namespace

std::string address_of(std::string_view mailbox) {
  auto lt = mailbox.rfind('<');
  auto gt = mailbox.rfind('>');
  if (lt != std::string_view::npos && gt != std::string_view::npos && gt > lt) {
    return one_line(mailbox.substr(lt + 1, gt - lt - 1));
  }
  std::string a = one_line(mailbox);
  a.erase(std::remove(a.begin(), a.end(), ' '), a.end());
  return a;
}

std::string format_address(std::string_view name, std::string_view address) {
  std::string addr = address_of(address);
  std::string n = trim_trailing_spaces(one_line(name));
  while (!n.empty() && n.front() == ' ') n.erase(0, 1);
  if (n.empty()) return "<" + addr + ">";
  // Encoded words for non-ASCII names, for names that would read as encoded words, and for
  // names with a word too long to fold (a 999-character name): each word is at most 75 octets.
  if (!is_ascii(n) || looks_encoded(n) || longest_word(n) > 70) {
    std::string words = encode_phrase(n);
    const auto last_line =
        words.size() - (words.rfind('\n') == std::string::npos ? 0 : words.rfind('\n') + 1);
    return words + (last_line + addr.size() + 3 > 72 ? "\r\n <" : " <") + addr + ">";
  }
  std::string quoted = "\"";
  for (char c : n) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\" <" + addr + ">";
}

std::string quoted_printable(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  std::size_t col = 0;
  auto emit = [&](const std::string& piece) {
    if (col + piece.size() > 75) {
      out += "=\r\n";
      col = 0;
    }
    out += piece;
    col += piece.size();
  };
  for (std::size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;  // handled at '\n'
    if (c == '\n') {
      out += "\r\n";
      col = 0;
      continue;
    }
    bool at_line_end = i + 1 == in.size() || in[i + 1] == '\n' || in[i + 1] == '\r';
    bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_line_end);
    // A '.' at the start of a line is encoded so SMTP dot-stuffing never matters.
    if (c == '.' && col == 0) literal = false;
    if (literal) {
      emit(std::string(1, static_cast<char>(c)));
    } else {
      emit(std::string{'=', kHex[c >> 4], kHex[c & 15]});
    }
  }
  return out;
}

std::string rfc5322_date(TimePoint t) {
  t = std::clamp(t, kFirstIsoTime, kLastIsoTime);  // date::format overflows far outside
  return date::format("%a, %d %b %Y %H:%M:%S +0000", t);
}

std::string build_mime(const Email& e) {
  std::string m;
  // Unstructured, caller-supplied values are folded; the structured ones we generate are short.
  auto header = [&](std::string_view name, std::string_view value) {
    m += std::string(name) + ": " + fold(name.size() + 2, value) + "\r\n";
  };
  auto structured = [&](std::string_view name, std::string_view value) {
    m += std::string(name) + ": " + std::string(value) + "\r\n";
  };
  auto from_name_end = e.from.rfind('<');
  std::string from_name = from_name_end == std::string::npos ? "" : e.from.substr(0, from_name_end);
  while (!from_name.empty() && (from_name.back() == ' ' || from_name.back() == '"'))
    from_name.pop_back();
  while (!from_name.empty() && (from_name.front() == ' ' || from_name.front() == '"'))
    from_name.erase(0, 1);

  structured("Date", rfc5322_date(e.date));
  header("From", format_address(from_name, e.from));
  header("To", format_address(e.to_name, e.to_address));
  if (!e.reply_to.empty()) header("Reply-To", format_address("", e.reply_to));
  header("Subject", encode_header_text(e.subject));
  structured("Message-ID", "<" + one_line(e.message_id) + ">");
  structured("MIME-Version", "1.0");
  structured("Auto-Submitted", "auto-generated");
  std::string unsubscribe;
  bool one_click = false;
  for (const auto& uri : e.list_unsubscribe) {
    std::string safe = header_safe_uri(uri);
    if (safe.empty() || safe.size() > 900) continue;
    unsubscribe += (unsubscribe.empty() ? "<" : ", <") + safe + ">";
    one_click = one_click || safe.rfind("https://", 0) == 0;
  }
  if (!unsubscribe.empty()) {
    header("List-Unsubscribe", unsubscribe);  // folded only between entries
    if (e.list_unsubscribe_post && one_click)
      structured("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
  }
  for (const auto& [name, value] : e.extra_headers) header(one_line(name), one_line(value));

  if (e.html.empty()) {
    structured("Content-Type", "text/plain; charset=UTF-8");
    structured("Content-Transfer-Encoding", "quoted-printable");
    m += "\r\n" + quoted_printable(e.text) + "\r\n";
    return m;
  }
  // The boundary is derived from the content, so the same message renders identically.
  std::string boundary = "=_dunningd_" + sha256_hex(e.message_id + e.text + e.html).substr(0, 24);
  structured("Content-Type", "multipart/alternative; boundary=\"" + boundary + "\"");
  m += "\r\nThis is a multi-part message in MIME format.\r\n";
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: "
       "quoted-printable\r\n\r\n";
  // The CRLF before a boundary belongs to the boundary (RFC 2046 5.1.1): no extra line here.
  m += quoted_printable(e.text);
  m += "\r\n--" + boundary + "\r\n";
  m += "Content-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: "
       "quoted-printable\r\n\r\n";
  m += quoted_printable(e.html);
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace dunning::sender
