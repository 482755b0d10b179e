// What a browser sends the console before it is signed in: form bodies and the Cookie header.
// Any bytes parse without crashing; a parsed form, encoded again, parses to the same fields; a
// cookie value found is a single cookie's (no separator inside).
#include <string>

#include "dunning/http/console_auth.hpp"
#include "fuzz_support.hpp"

namespace {

std::string encode(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning::http::console;
  const auto text = dunning::fuzz::view(data, size);
  if (auto form = parse_form(text)) {
    FUZZ_CHECK(form->size() <= 32, "more fields than the limit");
    std::string again;
    for (const auto& [k, v] : *form) {
      FUZZ_CHECK(!k.empty(), "an empty field name");
      again += (again.empty() ? "" : "&") + encode(k) + "=" + encode(v);
    }
    auto back = parse_form(again);
    FUZZ_CHECK(back && *back == *form, "encode/parse round trip");
  }
  for (const char* name : {"dunningd_session", "dunningd_login", "a"}) {
    if (auto value = cookie_value(text, name)) {
      FUZZ_CHECK(value->find(';') == std::string::npos, "a cookie value holds a separator");
    }
  }
  // A session id taken from the input never finds a session it did not create.
  Sessions sessions(dunning::Seconds(3600), dunning::Seconds(600), 4);
  auto s = sessions.create(Role::kFinance, dunning::fuzz::now());
  FUZZ_CHECK(!sessions.find(text, dunning::fuzz::now()) || text == s.id, "a forged session id");
  FUZZ_CHECK(!csrf_matches(s, text) || text == s.csrf, "a forged CSRF token");
  (void)check_credentials(text, text, "admin-secret", "");
  return 0;
}
