#include "dunning/ingest/card_numbers.hpp"

#include <vector>

namespace dunning::ingest {

bool luhn_valid(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (*it < '0' || *it > '9') return false;
    int d = *it - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return !digits.empty() && sum % 10 == 0;
}

namespace {
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool looks_like_pan(const std::string& digits) {
  return digits.size() >= 13 && digits.size() <= 19 && luhn_valid(digits);
}
}  // namespace

bool contains_card_number(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (!is_digit(text[i])) {
      ++i;
      continue;
    }
    // A run of digit groups joined by single spaces or dashes ("4242 4242 4242 4242").
    std::string joined;
    std::vector<std::string> groups(1);
    std::size_t j = i;
    while (j < text.size()) {
      if (is_digit(text[j])) {
        joined += text[j];
        groups.back() += text[j];
        ++j;
      } else if ((text[j] == ' ' || text[j] == '-') && j + 1 < text.size() &&
                 is_digit(text[j + 1])) {
        groups.emplace_back();
        ++j;
      } else {
        break;
      }
    }
    if (looks_like_pan(joined)) return true;
    for (const auto& g : groups) {
      if (looks_like_pan(g)) return true;
    }
    i = j;
  }
  return false;
}

namespace {
std::optional<std::string> find_in(const nlohmann::json& v, const std::string& path) {
  if (v.is_string()) {
    if (contains_card_number(v.get_ref<const std::string&>())) return path;
  } else if (v.is_number_integer() || v.is_number_unsigned()) {
    if (contains_card_number(v.dump())) return path;
  } else if (v.is_object()) {
    for (const auto& [key, child] : v.items()) {
      std::string p = path.empty() ? key : path + "." + key;
      if (contains_card_number(key)) return p;
      if (auto hit = find_in(child, p)) return hit;
    }
  } else if (v.is_array()) {
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (auto hit = find_in(v[i], path + "[" + std::to_string(i) + "]")) return hit;
    }
  }
  return std::nullopt;
}
}  // namespace

std::optional<std::string> find_card_number(const nlohmann::json& doc) {
  auto hit = find_in(doc, "");
  if (hit && hit->empty()) return std::string("(document)");
  return hit;
}

}  // namespace dunning::ingest
