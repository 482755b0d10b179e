#include "dunning/core/signed_link.hpp"

#include <charconv>
#include <stdexcept>
#include <vector>

#include "dunning/core/crypto.hpp"

namespace dunning {
namespace {

std::string hex_encode(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out += kDigits[c >> 4];
    out += kDigits[c & 15];
  }
  return out;
}

std::optional<std::string> hex_decode(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc{} || p != s.data() + i + 2) return std::nullopt;
    out += static_cast<char>(v);
  }
  return out;
}

std::string payload(std::int64_t case_id, long long expires, const std::string& customer_hex) {
  return std::to_string(case_id) + "." + std::to_string(expires) + "." + customer_hex;
}

}  // namespace

std::string make_link_token(const LinkClaims& claims, std::string_view secret) {
  if (secret.empty()) throw std::logic_error("make_link_token needs a secret");
  std::string p = payload(claims.case_id, claims.expires.time_since_epoch().count(),
                          hex_encode(claims.customer_id));
  return p + "." + hmac_sha256_hex(secret, p);
}

std::optional<LinkClaims> verify_link_token(std::string_view token, std::string_view secret,
                                            TimePoint now) {
  if (secret.empty()) return std::nullopt;
  auto sig_dot = token.rfind('.');
  if (sig_dot == std::string_view::npos) return std::nullopt;
  std::string_view p = token.substr(0, sig_dot);
  if (!constant_time_equal(token.substr(sig_dot + 1), hmac_sha256_hex(secret, p))) {
    return std::nullopt;
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    auto dot = p.find('.', start);
    parts.push_back(p.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 3) return std::nullopt;
  LinkClaims c;
  long long expires = 0;
  if (std::from_chars(parts[0].data(), parts[0].data() + parts[0].size(), c.case_id).ec !=
          std::errc{} ||
      std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), expires).ec !=
          std::errc{}) {
    return std::nullopt;
  }
  auto customer = hex_decode(parts[2]);
  if (!customer) return std::nullopt;
  c.customer_id = *customer;
  c.expires = TimePoint(Seconds(expires));
  if (now >= c.expires) return std::nullopt;
  return c;
}

std::string percent_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string expand_link_pattern(std::string pattern, std::string_view customer_id,
                                std::int64_t case_id) {
  const std::pair<std::string_view, std::string> values[] = {
      {"{customer}", percent_encode(customer_id)}, {"{case}", std::to_string(case_id)}};
  for (const auto& [key, value] : values) {
    for (auto pos = pattern.find(key); pos != std::string::npos; pos = pattern.find(key, pos)) {
      pattern.replace(pos, key.size(), value);
      pos += value.size();
    }
  }
  return pattern;
}

}  // namespace dunning
