#include "dunning/core/money.hpp"

#include <cctype>
#include <charconv>
#include <limits>
#include <stdexcept>

namespace dunning {
namespace {

bool valid_code(std::string_view c) {
  return c.size() == 3 && std::isupper(static_cast<unsigned char>(c[0])) &&
         std::isupper(static_cast<unsigned char>(c[1])) &&
         std::isupper(static_cast<unsigned char>(c[2]));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

void require_same(const Money& a, const Money& b) {
  if (a.currency() != b.currency()) {
    throw std::logic_error("money arithmetic across currencies: " + a.currency() + " and " +
                           b.currency());
  }
}

std::int64_t pow10(int n) {
  std::int64_t r = 1;
  while (n-- > 0) r *= 10;
  return r;
}

}  // namespace

Money::Money(std::int64_t minor, std::string currency)
    : minor_(minor), currency_(std::move(currency)) {
  if (!valid_code(currency_)) throw std::logic_error("invalid currency code: " + currency_);
}

Result<Money> Money::make(std::int64_t minor, std::string_view currency) {
  if (currency_exponent(currency) < 0) {
    return Error::invalid("\"" + std::string(currency) +
                          "\" is not an ISO 4217 currency code (three upper-case letters, e.g. "
                          "EUR)");
  }
  return Money(minor, std::string(currency));
}

Money Money::operator+(const Money& other) const {
  require_same(*this, other);
  return Money(minor_ + other.minor_, currency_);
}

Money Money::operator-(const Money& other) const {
  require_same(*this, other);
  return Money(minor_ - other.minor_, currency_);
}

bool Money::less_than(const Money& other) const {
  require_same(*this, other);
  return minor_ < other.minor_;
}

std::string Money::major_string() const {
  int exp = currency_exponent(currency_);
  if (exp < 0) exp = 2;
  std::uint64_t abs = minor_ < 0 ? static_cast<std::uint64_t>(-(minor_ + 1)) + 1
                                 : static_cast<std::uint64_t>(minor_);
  std::string digits = std::to_string(abs);
  if (exp > 0) {
    if (digits.size() <= static_cast<std::size_t>(exp)) {
      digits.insert(0, static_cast<std::size_t>(exp) + 1 - digits.size(), '0');
    }
    digits.insert(digits.size() - static_cast<std::size_t>(exp), ".");
  }
  return (minor_ < 0 ? "-" : "") + digits;
}

std::string Money::to_string() const { return major_string() + " " + currency_; }

Result<Money> Money::parse(std::string_view text) {
  std::string_view s = trim(text);
  std::string_view number;
  std::string_view code;
  auto space = s.find(' ');
  if (space == std::string_view::npos) {
    return Error::invalid("amount \"" + std::string(text) +
                          "\" has no currency (write e.g. \"5.00 EUR\")");
  }
  std::string_view left = trim(s.substr(0, space));
  std::string_view right = trim(s.substr(space + 1));
  if (valid_code(right)) {
    number = left;
    code = right;
  } else if (valid_code(left)) {
    number = right;
    code = left;
  } else {
    return Error::invalid("amount \"" + std::string(text) + "\" has no ISO 4217 currency code");
  }
  int exp = currency_exponent(code);
  if (exp < 0) return Error::invalid("unknown currency \"" + std::string(code) + "\"");

  bool negative = false;
  if (!number.empty() && (number.front() == '-' || number.front() == '+')) {
    negative = number.front() == '-';
    number.remove_prefix(1);
  }
  auto dot = number.find('.');
  std::string_view whole = number.substr(0, dot);
  std::string_view frac =
      dot == std::string_view::npos ? std::string_view{} : number.substr(dot + 1);
  if (whole.empty() && frac.empty()) {
    return Error::invalid("amount \"" + std::string(text) + "\" has no number");
  }
  if (frac.size() > static_cast<std::size_t>(exp)) {
    return Error::invalid("amount \"" + std::string(text) + "\" has more decimals than " +
                          std::string(code) + " allows (" + std::to_string(exp) + ")");
  }
  auto all_digits = [](std::string_view d) {
    for (char c : d)
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
  };
  if (!all_digits(whole) || !all_digits(frac) || (dot != std::string_view::npos && frac.empty())) {
    return Error::invalid("amount \"" + std::string(text) + "\" is not a decimal number");
  }
  std::int64_t major = 0;
  if (!whole.empty()) {
    auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), major);
    if (ec != std::errc{} || major > std::numeric_limits<std::int64_t>::max() / pow10(exp)) {
      return Error::invalid("amount \"" + std::string(text) + "\" is too large");
    }
  }
  std::int64_t minor_frac = 0;
  if (!frac.empty()) {
    std::from_chars(frac.data(), frac.data() + frac.size(), minor_frac);
    minor_frac *= pow10(exp - static_cast<int>(frac.size()));
  }
  std::int64_t minor = 0;
  if (__builtin_mul_overflow(major, pow10(exp), &minor) ||
      __builtin_add_overflow(minor, minor_frac, &minor)) {
    return Error::invalid("amount \"" + std::string(text) + "\" is too large");
  }
  return Money(negative ? -minor : minor, std::string(code));
}

}  // namespace dunning
