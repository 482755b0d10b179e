// MIME building: encoded headers that decode back exactly, no header injection, line limits,
// and byte-for-byte deterministic output.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/sender/mime.hpp"

using dunning::TimePoint;
using dunning::sender::Email;

namespace {

constexpr std::string_view kCroatian =
    "Plaćanje nije uspjelo – molimo ažurirajte karticu za račun br. 2026-0042: "
    "čćžšđ ČĆŽŠĐ, hvala!";
constexpr std::string_view kArabic =
    "تعذر تحصيل الدفعة: يرجى تحديث بطاقتك في أقرب وقت ممكن لتجنب إلغاء الاشتراك";

TimePoint when() {
  using namespace std::chrono;
  return sys_days{year{2026} / November / 24} + hours{13} + minutes{22} + seconds{20};
}

std::string base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t buffer = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = value(c);
    if (v < 0) throw std::runtime_error(std::string("bad base64 character '") + c + "'");
    buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  return out;
}

std::string qp_decode(std::string_view in) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '=') {
      out += in[i];
      continue;
    }
    if (in.substr(i + 1, 2) == "\r\n") {  // soft line break
      i += 2;
      continue;
    }
    REQUIRE(i + 2 < in.size());
    int hi = hex(in[i + 1]);
    int lo = hex(in[i + 2]);
    REQUIRE(hi >= 0);
    REQUIRE(lo >= 0);
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// True when `s` is a complete sequence of UTF-8 characters (no cut at either end).
bool whole_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80           ? 1
                    : (c >> 5) == 0x6  ? 2
                    : (c >> 4) == 0xe  ? 3
                    : (c >> 3) == 0x1e ? 4
                                       : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n;
  }
  return true;
}

struct Word {
  std::string raw;
  std::string decoded;
};

// Splits folded "=?UTF-8?B?...?=" words separated by CRLF + space.
std::vector<Word> encoded_words(std::string_view header_value) {
  std::vector<Word> words;
  std::size_t pos = 0;
  while ((pos = header_value.find("=?UTF-8?B?", pos)) != std::string_view::npos) {
    std::size_t end = header_value.find("?=", pos + 10);
    REQUIRE(end != std::string_view::npos);
    std::string raw(header_value.substr(pos, end + 2 - pos));
    words.push_back({raw, base64_decode(header_value.substr(pos + 10, end - pos - 10))});
    pos = end + 2;
  }
  return words;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (;;) {
    std::size_t end = text.find("\r\n", start);
    if (end == std::string_view::npos) {
      lines.emplace_back(text.substr(start));
      return lines;
    }
    lines.emplace_back(text.substr(start, end - start));
    start = end + 2;
  }
}

struct Parts {
  std::string headers;  // up to and including the last header's CRLF
  std::string body;
};

Parts split_message(const std::string& mime) {
  auto blank = mime.find("\r\n\r\n");
  REQUIRE(blank != std::string::npos);
  return {mime.substr(0, blank + 2), mime.substr(blank + 4)};
}

// Header field names (lines that do not start with folding whitespace).
std::vector<std::string> header_names(const std::string& headers) {
  std::vector<std::string> names;
  for (const auto& line : split_lines(headers)) {
    if (line.empty() || line[0] == ' ' || line[0] == '\t') continue;
    names.push_back(line.substr(0, line.find(':')));
  }
  return names;
}

// The unfolded value of the first header `name`.
std::string header_value(const std::string& headers, const std::string& name) {
  auto lines = split_lines(headers);
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].rfind(name + ": ", 0) != 0) continue;
    std::string v = lines[i].substr(name.size() + 2);
    for (std::size_t k = i + 1;
         k < lines.size() && !lines[k].empty() && (lines[k][0] == ' ' || lines[k][0] == '\t');
         ++k) {
      v += "\r\n" + lines[k];
    }
    return v;
  }
  return {};
}

Email sample() {
  Email e;
  e.from = "Example Billing <billing@example.com>";
  e.to_name = "Ana Horvat";
  e.to_address = "ana@example.com";
  e.subject = "Your payment failed";
  e.text = "Hello Ana,\n\nwe could not charge your card.\n";
  e.html = "<p>Hello Ana,</p><p>we could not charge your card.</p>";
  e.message_id = "dunningd.case-7.step-0@example.com";
  e.date = when();
  e.extra_headers = {{"X-Dunningd-Case", "7"}};
  return e;
}

void check_no_header_named(const std::string& mime, const std::string& name) {
  auto names = header_names(split_message(mime).headers);
  INFO("headers:\n" << split_message(mime).headers);
  for (const auto& n : names) CHECK(n != name);
}

void check_line_limits(const std::string& mime) {
  auto [headers, body] = split_message(mime);
  for (const auto& line : split_lines(mime)) {
    INFO("line: " << line.substr(0, 80) << "...");
    CHECK(line.size() <= 998);
  }
  for (const auto& line : split_lines(body)) {
    INFO("body line: " << line);
    CHECK(line.size() <= 76);
  }
}

}  // namespace

TEST_CASE("an ASCII subject is written as plain text", "[sender][mime]") {
  CHECK(dunning::sender::encode_header_text("Your payment failed") == "Your payment failed");
  auto mime = dunning::sender::build_mime(sample());
  CHECK(header_value(split_message(mime).headers, "Subject") == "Your payment failed");
}

TEST_CASE("a non-ASCII subject becomes encoded words that decode to the original",
          "[sender][mime]") {
  const std::string_view text = GENERATE(kCroatian, kArabic);
  const std::string encoded = dunning::sender::encode_header_text(text);
  auto words = encoded_words(encoded);
  REQUIRE(words.size() >= 2);  // both samples are longer than one word can hold

  std::string joined;
  std::string rebuilt;
  for (const auto& w : words) {
    INFO("word: " << w.raw);
    CHECK(w.raw.size() <= 75);
    CHECK(whole_utf8(w.decoded));
    joined += w.decoded;
    rebuilt += (rebuilt.empty() ? "" : "\r\n ") + w.raw;
  }
  CHECK(joined == text);
  CHECK(rebuilt == encoded);  // nothing but words and folding

  SECTION("inside a message the Subject header carries the same words") {
    Email e = sample();
    e.subject = std::string(text);
    auto mime = dunning::sender::build_mime(e);
    CHECK(header_value(split_message(mime).headers, "Subject") == encoded);
  }
}

TEST_CASE("encoded words never split a multi-byte character", "[sender][mime]") {
  // Every offset of a 1-byte prefix before 2-, 3- and 4-byte characters.
  const std::string prefix = GENERATE(as<std::string>{}, "", "a", "ab");
  const std::string body = GENERATE(as<std::string>{}, "ž", "€", "😀");
  std::string text = prefix;
  for (int i = 0; i < 40; ++i) text += body;
  auto words = encoded_words(dunning::sender::encode_header_text(text));
  std::string joined;
  for (const auto& w : words) {
    CHECK(w.raw.size() <= 75);
    CHECK(whole_utf8(w.decoded));
    joined += w.decoded;
  }
  CHECK(joined == text);
}

TEST_CASE("CR and LF in the subject cannot inject a header", "[sender][mime]") {
  const std::string subject =
      GENERATE(as<std::string>{}, "Hi\r\nBcc: evil@example.com", "Hi\nBcc: evil@example.com",
               "Hi\rBcc: evil@example.com", "Plaćanje\r\nBcc: evil@example.com");
  Email e = sample();
  e.subject = subject;
  auto mime = dunning::sender::build_mime(e);
  check_no_header_named(mime, "Bcc");
  auto names = header_names(split_message(mime).headers);
  CHECK(std::count(names.begin(), names.end(), "Subject") == 1);
}

TEST_CASE("CR and LF in the recipient name cannot inject a header", "[sender][mime]") {
  const std::string name = GENERATE(as<std::string>{}, "Eve\r\nBcc: evil@example.com",
                                    "Eve\nBcc: evil@example.com", "Ève\r\nBcc: evil@example.com");
  Email e = sample();
  e.to_name = name;
  auto mime = dunning::sender::build_mime(e);
  check_no_header_named(mime, "Bcc");
  CHECK_THAT(header_value(split_message(mime).headers, "To"), Catch::EndsWith("<ana@example.com>"));
}

TEST_CASE("CR and LF in extra header names and values cannot inject a header", "[sender][mime]") {
  Email e = sample();
  e.extra_headers = {{"X-Dunningd-Case", "7\r\nBcc: evil@example.com"},
                     {"X-Dunningd-Step\r\nCc", "1\nCc: evil@example.com"}};
  e.to_address = "ana@example.com\r\nBcc: evil@example.com";
  e.reply_to = "help@example.com\r\nBcc: evil@example.com";
  auto mime = dunning::sender::build_mime(e);
  check_no_header_named(mime, "Bcc");
  check_no_header_named(mime, "Cc");
}

TEST_CASE("every line stays within 998 octets and body lines within 76", "[sender][mime]") {
  Email e = sample();
  e.subject = std::string(kCroatian) + " " + std::string(kArabic);
  e.to_name = std::string(kArabic);
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Račun za pretplatu = 12,50 € ";
  text += "\n.leading dot line\ntrailing space \n" + std::string(300, 'x') + "\n" +
          std::string(200, '=') + "\n";
  e.text = text;
  e.html = "<p>" + text + "</p>";
  auto mime = dunning::sender::build_mime(e);
  check_line_limits(mime);
}

TEST_CASE("a very long ASCII subject or name still keeps lines within 998 octets",
          "[sender][mime]") {
  // Regression: long ASCII headers were once not folded (RFC 5322 limits lines to 998).
  Email e = sample();
  std::string words;
  for (int i = 0; i < 150; ++i) words += "invoice ";
  SECTION("subject") { e.subject = words; }
  SECTION("recipient name") { e.to_name = words; }
  auto mime = dunning::sender::build_mime(e);
  for (const auto& line : split_lines(mime)) CHECK(line.size() <= 998);
}

TEST_CASE("quoted-printable output decodes back to the text with CRLF line ends",
          "[sender][mime]") {
  std::string text = std::string(kCroatian) + "\n" + std::string(kArabic) +
                     "\n.dot at start\n= sign and tab\tend \nlast line ";
  std::string qp = dunning::sender::quoted_printable(text);
  std::string expected;
  for (char c : text) {
    if (c == '\n') expected += '\r';
    expected += c;
  }
  CHECK(qp_decode(qp) == expected);
  for (const auto& line : split_lines(qp)) {
    INFO(line);
    CHECK(line.size() <= 76);
    CHECK(line.find_first_of("\r\n") == std::string::npos);
    // Trailing white space would be eaten by mail servers.
    if (!line.empty()) CHECK((line.back() != ' ' && line.back() != '\t'));
    CHECK(line.rfind('.', 0) != 0);
  }
  CHECK(dunning::sender::quoted_printable("a=b") == "a=3Db");
  CHECK(dunning::sender::quoted_printable("ž") == "=C5=BE");
}

TEST_CASE("html gives a multipart/alternative message with a text and an html part",
          "[sender][mime]") {
  auto mime = dunning::sender::build_mime(sample());
  auto [headers, body] = split_message(mime);
  std::string ct = header_value(headers, "Content-Type");
  REQUIRE_THAT(ct, Catch::StartsWith("multipart/alternative; boundary=\""));
  std::string boundary = ct.substr(ct.find('"') + 1);
  boundary.pop_back();
  REQUIRE_FALSE(boundary.empty());
  CHECK(body.find("--" + boundary + "\r\nContent-Type: text/plain; charset=UTF-8\r\n") !=
        std::string::npos);
  CHECK(body.find("--" + boundary + "\r\nContent-Type: text/html; charset=UTF-8\r\n") !=
        std::string::npos);
  CHECK(body.find("--" + boundary + "--\r\n") != std::string::npos);
  CHECK(body.find("we could not charge your card.") != std::string::npos);
  CHECK(body.find("<p>Hello Ana,</p>") != std::string::npos);
  // The boundary never occurs inside a part.
  CHECK(qp_decode(dunning::sender::quoted_printable(sample().html)).find(boundary) ==
        std::string::npos);
}

TEST_CASE("no html gives a single text/plain message", "[sender][mime]") {
  Email e = sample();
  e.html.clear();
  auto mime = dunning::sender::build_mime(e);
  auto [headers, body] = split_message(mime);
  CHECK(header_value(headers, "Content-Type") == "text/plain; charset=UTF-8");
  CHECK(header_value(headers, "Content-Transfer-Encoding") == "quoted-printable");
  CHECK(mime.find("multipart") == std::string::npos);
  CHECK(qp_decode(body) == "Hello Ana,\r\n\r\nwe could not charge your card.\r\n\r\n");
}

TEST_CASE("the standard headers are present and well-formed", "[sender][mime]") {
  auto mime = dunning::sender::build_mime(sample());
  auto headers = split_message(mime).headers;
  CHECK(header_value(headers, "Message-ID") == "<dunningd.case-7.step-0@example.com>");
  CHECK(header_value(headers, "Auto-Submitted") == "auto-generated");
  CHECK(header_value(headers, "MIME-Version") == "1.0");
  CHECK(header_value(headers, "Date") == "Tue, 24 Nov 2026 13:22:20 +0000");
  CHECK(header_value(headers, "From") == "\"Example Billing\" <billing@example.com>");
  CHECK(header_value(headers, "To") == "\"Ana Horvat\" <ana@example.com>");
  CHECK(header_value(headers, "X-Dunningd-Case") == "7");
  CHECK(header_value(headers, "Reply-To").empty());
  // CRLF everywhere: no bare LF.
  for (std::size_t i = 0; i < mime.size(); ++i) {
    if (mime[i] == '\n') REQUIRE((i > 0 && mime[i - 1] == '\r'));
  }
}

TEST_CASE("a reply-to address is added only when given", "[sender][mime]") {
  Email e = sample();
  e.reply_to = "Support <support@example.com>";
  auto headers = split_message(dunning::sender::build_mime(e)).headers;
  CHECK(header_value(headers, "Reply-To") == "<support@example.com>");
}

TEST_CASE("identical input builds an identical message", "[sender][mime]") {
  Email e = sample();
  e.subject = std::string(kCroatian);
  CHECK(dunning::sender::build_mime(e) == dunning::sender::build_mime(e));
  Email other = e;
  other.message_id = "dunningd.case-8.step-0@example.com";
  CHECK(dunning::sender::build_mime(e) != dunning::sender::build_mime(other));
}

TEST_CASE("format_address quotes or encodes the display name", "[sender][mime]") {
  using dunning::sender::format_address;
  CHECK(format_address("", "ana@example.com") == "<ana@example.com>");
  CHECK(format_address("Ana", "ana@example.com") == "\"Ana\" <ana@example.com>");
  CHECK(format_address("Say \"hi\"\\", "a@example.com") ==
        "\"Say \\\"hi\\\"\\\\\" <a@example.com>");
  CHECK(format_address("Ana", "Someone Else <ana@example.com>") == "\"Ana\" <ana@example.com>");
  std::string encoded = format_address("Željka Čović", "z@example.com");
  CHECK_THAT(encoded, Catch::StartsWith("=?UTF-8?B?") && Catch::EndsWith("?= <z@example.com>"));
  auto words = encoded_words(encoded);
  REQUIRE(words.size() == 1);
  CHECK(words[0].decoded == "Željka Čović");
}

TEST_CASE("address_of extracts the addr-spec of a mailbox", "[sender][mime]") {
  using dunning::sender::address_of;
  CHECK(address_of("Example Billing <billing@example.com>") == "billing@example.com");
  CHECK(address_of("\"Doe, <John>\" <john@example.com>") == "john@example.com");
  CHECK(address_of("billing@example.com") == "billing@example.com");
  CHECK(address_of(" billing@example.com ") == "billing@example.com");
  CHECK(address_of("a@example.com\r\n") == "a@example.com");
}

TEST_CASE("rfc5322_date writes the English day and month in UTC", "[sender][mime]") {
  CHECK(dunning::sender::rfc5322_date(when()) == "Tue, 24 Nov 2026 13:22:20 +0000");
  CHECK(dunning::sender::rfc5322_date(TimePoint{}) == "Thu, 01 Jan 1970 00:00:00 +0000");
}

TEST_CASE("List-Unsubscribe lists the URIs in angle brackets only when configured",
          "[sender][mime]") {
  Email e = sample();
  check_no_header_named(dunning::sender::build_mime(e), "List-Unsubscribe");
  e.list_unsubscribe = {"mailto:billing@example.com?subject=unsubscribe-cus_1",
                        "https://example.com/unsub?c=cus_1"};
  auto headers = split_message(dunning::sender::build_mime(e)).headers;
  // Folded (if at all) only between entries; unfolding gives the list back.
  std::string value = header_value(headers, "List-Unsubscribe");
  for (auto pos = value.find("\r\n"); pos != std::string::npos; pos = value.find("\r\n"))
    value.erase(pos, 2);
  CHECK(value ==
        "<mailto:billing@example.com?subject=unsubscribe-cus_1>, "
        "<https://example.com/unsub?c=cus_1>");
  check_no_header_named(dunning::sender::build_mime(e), "List-Unsubscribe-Post");
}

TEST_CASE("List-Unsubscribe-Post is added for one-click only with an https URI", "[sender][mime]") {
  Email e = sample();
  e.list_unsubscribe_post = true;
  e.list_unsubscribe = {"mailto:billing@example.com"};
  check_no_header_named(dunning::sender::build_mime(e), "List-Unsubscribe-Post");
  e.list_unsubscribe.push_back("https://example.com/unsub?c=1");
  auto headers = split_message(dunning::sender::build_mime(e)).headers;
  CHECK(header_value(headers, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click");
  e.list_unsubscribe.clear();  // nothing to unsubscribe with: neither header
  check_no_header_named(dunning::sender::build_mime(e), "List-Unsubscribe-Post");
}

TEST_CASE("a customer id cannot break out of a List-Unsubscribe URI or inject a header",
          "[sender][mime]") {
  using dunning::sender::expand_uri_patterns;
  const std::string evil = "cus_1>, <https://evil.example/\r\nBcc: evil@example.com&x=1 ?";
  auto uris = expand_uri_patterns({"mailto:u@example.com?subject=unsubscribe-{customer}-{case}",
                                   "https://example.com/unsub?c={customer}&k={case}"},
                                  evil, 42);
  REQUIRE(uris.size() == 2);
  CHECK(uris[0] ==
        "mailto:u@example.com?subject=unsubscribe-cus_1%3E%2C%20%3Chttps%3A%2F%2Fevil.example%2F"
        "%0D%0ABcc%3A%20evil%40example.com%26x%3D1%20%3F-42");
  CHECK(uris[1].rfind("https://example.com/unsub?c=cus_1%3E%2C%20%3C", 0) == 0);
  CHECK(uris[1].find("&k=42") != std::string::npos);

  Email e = sample();
  e.list_unsubscribe = uris;
  auto mime = dunning::sender::build_mime(e);
  check_no_header_named(mime, "Bcc");
  // Even a caller that hands over raw text gets it escaped, never a bracket or a line break.
  e.list_unsubscribe = {"https://example.com/u?c=" + evil};
  mime = dunning::sender::build_mime(e);
  check_no_header_named(mime, "Bcc");
  const std::string value = header_value(split_message(mime).headers, "List-Unsubscribe");
  CHECK(value.front() == '<');
  CHECK(value.find('>') == value.size() - 1);
  CHECK(value.find(',') == std::string::npos);
  check_line_limits(mime);
}
