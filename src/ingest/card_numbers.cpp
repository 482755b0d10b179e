#include "dunning/ingest/card_numbers.hpp"

#include <array>
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

// One range of issuer prefixes: the first `prefix_digits` digits, read as a number, lie in
// [low, high]; lengths from min_len to max_len (Visa's 13, 16 and 19 are listed one by one).
struct IinRange {
  std::string_view network;
  int prefix_digits;
  int low;
  int high;
  int min_len;
  int max_len;
};

// Published issuer ranges (ISO/IEC 7812 registrations as the networks document them). Broad
// where the network is broad (Maestro: 50, 56-69), so that no real card slips through; the
// digits that start no range (0, 1, 7, 8, most of 9 and of 2, 31-33, 35 outside JCB) are ids.
constexpr std::array<IinRange, 27> kIinRanges{{
    {"visa", 1, 4, 4, 13, 13},
    {"visa", 1, 4, 4, 16, 16},
    {"visa", 1, 4, 4, 19, 19},
    {"mastercard", 2, 51, 55, 16, 16},
    {"mastercard", 4, 2221, 2720, 16, 16},
    {"amex", 2, 34, 34, 15, 15},
    {"amex", 2, 37, 37, 15, 15},
    {"discover", 4, 6011, 6011, 16, 19},
    {"discover", 3, 644, 649, 16, 19},
    {"discover", 2, 65, 65, 16, 19},
    {"discover", 6, 622126, 622925, 16, 19},
    {"unionpay", 2, 62, 62, 16, 19},
    {"jcb", 4, 3528, 3589, 16, 19},
    {"diners", 3, 300, 305, 14, 19},
    {"diners", 4, 3095, 3095, 14, 19},
    {"diners", 2, 36, 36, 14, 19},
    {"diners", 2, 38, 39, 14, 19},
    {"maestro", 2, 50, 50, 13, 19},
    {"maestro", 2, 56, 69, 13, 19},
    {"mir", 4, 2200, 2204, 16, 19},
    {"troy", 4, 9792, 9792, 16, 16},
    // RuPay, Verve, Elo, Dankort, InterPayment and Hipercard fall inside the ranges above
    // (508, 60, 65, 506, 650, 5019, 636, 606282) but have other lengths: listed for those.
    {"rupay", 3, 508, 508, 16, 16},
    {"verve", 6, 506099, 506198, 16, 19},
    {"verve", 6, 650002, 650027, 16, 19},
    {"interpayment", 3, 636, 636, 16, 19},
    {"hipercard", 4, 3841, 3841, 16, 19},
    {"hipercard", 6, 606282, 606282, 16, 19},
}};

int prefix_value(std::string_view digits, int n) {
  int v = 0;
  for (int i = 0; i < n; ++i) v = v * 10 + (digits[static_cast<std::size_t>(i)] - '0');
  return v;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<std::string_view> card_network(std::string_view digits) {
  const int len = static_cast<int>(digits.size());
  if (len < 13 || len > 19) return std::nullopt;
  for (char c : digits)
    if (!is_digit(c)) return std::nullopt;
  for (const auto& r : kIinRanges) {
    if (len < r.min_len || len > r.max_len) continue;
    const int p = prefix_value(digits, r.prefix_digits);
    if (p >= r.low && p <= r.high) return r.network;
  }
  return std::nullopt;
}

bool is_card_number(std::string_view digits) {
  return card_network(digits).has_value() && luhn_valid(digits);
}

namespace {

enum class Kind { kDigit, kSeparator, kOther };

struct Unit {
  Kind kind;
  char digit;       // for kDigit: '0'..'9'
  std::size_t len;  // bytes of the code point
};

// Classifies the UTF-8 code point at text[i]: a digit in any of the forms people paste (ASCII,
// full-width, Arabic-Indic, extended Arabic-Indic), a separator people put between digit
// groups, or anything else.
Unit classify(std::string_view text, std::size_t i) {
  auto b = [&](std::size_t k) {
    return i + k < text.size() ? static_cast<unsigned char>(text[i + k]) : 0u;
  };
  const unsigned c = b(0);
  if (c >= '0' && c <= '9') return {Kind::kDigit, static_cast<char>(c), 1};
  if (c == ' ' || c == '-' || c == '.' || c == '/' || c == '\t') return {Kind::kSeparator, 0, 1};
  if (c < 0x80) return {Kind::kOther, 0, 1};
  if (c == 0xC2 && b(1) == 0xA0) return {Kind::kSeparator, 0, 2};  // no-break space
  if (c == 0xD9 && b(1) >= 0xA0 && b(1) <= 0xA9)                   // U+0660..0669
    return {Kind::kDigit, static_cast<char>('0' + (b(1) - 0xA0)), 2};
  if (c == 0xDB && b(1) >= 0xB0 && b(1) <= 0xB9)  // U+06F0..06F9
    return {Kind::kDigit, static_cast<char>('0' + (b(1) - 0xB0)), 2};
  if (c == 0xEF && b(1) == 0xBC && b(2) >= 0x90 && b(2) <= 0x99)  // full-width U+FF10..FF19
    return {Kind::kDigit, static_cast<char>('0' + (b(2) - 0x90)), 3};
  if (c == 0xEF && b(1) == 0xBC && (b(2) == 0x8D || b(2) == 0x8E || b(2) == 0x8F))
    return {Kind::kSeparator, 0, 3};  // full-width hyphen, full stop, solidus
  if (c == 0xE2 && b(1) == 0x80 &&
      ((b(2) >= 0x80 && b(2) <= 0x8A) || (b(2) >= 0x90 && b(2) <= 0x95) || b(2) == 0xAF))
    return {Kind::kSeparator, 0, 3};  // U+2000..200A spaces, U+2010..2015 dashes, U+202F
  if (c == 0xE2 && b(1) == 0x88 && b(2) == 0x92) return {Kind::kSeparator, 0, 3};  // U+2212
  if (c == 0xE3 && b(1) == 0x80 && b(2) == 0x80) return {Kind::kSeparator, 0, 3};  // U+3000
  std::size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  return {Kind::kOther, 0, n};
}

// At most this many separator characters between two groups of one number ("4242 - 4242").
constexpr int kMaxSeparatorRun = 3;

// Whether some run of consecutive groups makes a card number: every start, extended group by
// group while it stays within 19 digits (so a trailing expiry or CVV group does not hide it).
bool groups_hold_card(const std::vector<std::string>& groups) {
  for (std::size_t i = 0; i < groups.size(); ++i) {
    std::string joined;
    for (std::size_t j = i; j < groups.size(); ++j) {
      joined += groups[j];
      if (joined.size() > 19) break;
      if (joined.size() >= 13 && is_card_number(joined)) return true;
    }
  }
  return false;
}

// Calls on_number(groups) for every maximal sequence of digit groups in `text`.
template <typename F>
bool any_number(std::string_view text, F&& on_number) {
  std::vector<std::string> groups;
  int separators = 0;  // since the last digit
  bool in_group = false;
  auto flush = [&] {
    bool hit = !groups.empty() && on_number(groups);
    groups.clear();
    in_group = false;
    separators = 0;
    return hit;
  };
  for (std::size_t i = 0; i < text.size();) {
    Unit u = classify(text, i);
    i += u.len;
    if (u.kind == Kind::kDigit) {
      if (!in_group) groups.emplace_back();
      if (groups.back().size() < 20) groups.back() += u.digit;  // longer: never part of one
      in_group = true;
      separators = 0;
    } else if (u.kind == Kind::kSeparator && !groups.empty() && ++separators <= kMaxSeparatorRun) {
      in_group = false;
    } else if (flush()) {
      return true;
    }
  }
  return flush();
}

// The digits of `text` when it holds digits and separators only (nullopt otherwise).
std::optional<std::string> only_digits(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    Unit u = classify(text, i);
    i += u.len;
    if (u.kind == Kind::kOther) return std::nullopt;
    if (u.kind == Kind::kDigit) out += u.digit;
    if (out.size() > 19) return std::nullopt;
  }
  return out;
}

}  // namespace

bool contains_card_number(std::string_view text) {
  return any_number(
      text, [](const std::vector<std::string>& groups) { return groups_hold_card(groups); });
}

bool split_card_number(std::string_view first, std::string_view second) {
  auto a = only_digits(first);
  auto b = only_digits(second);
  if (!a || !b || a->size() < 4 || b->size() < 4) return false;
  std::string joined = *a + *b;
  return joined.size() >= 13 && joined.size() <= 19 && is_card_number(joined);
}

namespace {

bool scalar_holds_card(const nlohmann::json& v) {
  if (v.is_string()) return contains_card_number(v.get_ref<const std::string&>());
  if (v.is_number_integer() || v.is_number_unsigned()) return contains_card_number(v.dump());
  if (v.is_number_float()) {
    // Exact for every integer up to 2^53; larger ones were rounded by the parser already (the
    // JSON doors screen the raw text instead, see json_screen).
    const double d = v.get<double>();
    if (d >= 1e12 && d < 9e18)
      return contains_card_number(std::to_string(static_cast<long long>(d)));
  }
  return false;
}

}  // namespace

std::optional<std::string> find_card_number(const nlohmann::json& doc) {
  // Depth-first with an explicit stack; a node's path is assembled only for a hit, from the
  // parent links, so memory stays linear in the document whatever its depth.
  struct Node {
    const nlohmann::json* value;
    std::size_t parent;  // index into `nodes`; npos for the root
    std::string piece;   // "key" or "[3]"
  };
  constexpr auto kRoot = static_cast<std::size_t>(-1);
  std::vector<Node> nodes;
  auto path_of = [&](std::size_t i) {
    std::vector<const std::string*> pieces;
    for (std::size_t k = i; k != kRoot; k = nodes[k].parent) pieces.push_back(&nodes[k].piece);
    std::string out;
    for (auto it = pieces.rbegin(); it != pieces.rend(); ++it) {
      if (!out.empty() && (*it)->front() != '[') out += '.';
      out += **it;
    }
    return out.empty() ? std::string("(document)") : out;
  };
  nodes.push_back({&doc, kRoot, ""});
  std::vector<std::size_t> stack{0};
  while (!stack.empty()) {
    const std::size_t i = stack.back();
    stack.pop_back();
    const nlohmann::json& v = *nodes[i].value;
    if (!v.is_object() && !v.is_array()) {
      if (scalar_holds_card(v)) return path_of(i);
      continue;
    }
    const std::size_t first_child = nodes.size();
    std::size_t index = 0;
    const std::string* previous = nullptr;
    for (auto it = v.begin(); it != v.end(); ++it, ++index) {
      std::string piece = v.is_object() ? it.key() : "[" + std::to_string(index) + "]";
      if (v.is_object() && contains_card_number(it.key())) {
        nodes.push_back({&*it, i, std::move(piece)});
        return path_of(nodes.size() - 1);
      }
      nodes.push_back({&*it, i, std::move(piece)});
      if (it->is_string()) {
        const auto& s = it->get_ref<const std::string&>();
        if (previous && split_card_number(*previous, s)) return path_of(nodes.size() - 1);
        previous = &s;
      } else {
        previous = nullptr;
      }
    }
    for (std::size_t k = nodes.size(); k > first_child; --k) stack.push_back(k - 1);
  }
  return std::nullopt;
}

}  // namespace dunning::ingest
