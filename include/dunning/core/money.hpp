// Money: integer minor units plus an ISO 4217 code. Never a floating-point amount.
// Arithmetic is defined only between equal currencies; mixing them is a programmer error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "dunning/core/result.hpp"

namespace dunning {

class Money {
 public:
  Money() = default;
  // REQUIRES: currency is three upper-case letters.
  Money(std::int64_t minor, std::string currency);

  std::int64_t minor() const { return minor_; }
  const std::string& currency() const { return currency_; }

  // Throws std::logic_error on different currencies.
  Money operator+(const Money& other) const;
  Money operator-(const Money& other) const;
  bool operator==(const Money&) const = default;
  // Comparison between different currencies is a programmer error (throws std::logic_error).
  bool less_than(const Money& other) const;

  // "12.50 EUR" (major units with the currency's own number of decimals, then the code).
  std::string to_string() const;

  // Parses "12.50 EUR", "1250 JPY", "EUR 12.50". The number of decimals must not exceed the
  // currency's minor-unit exponent; a missing or unknown currency is an error.
  static Result<Money> parse(std::string_view text);

  // Decimal string in major units without the code, e.g. "12.50", "-0.05", "1250".
  std::string major_string() const;

 private:
  std::int64_t minor_ = 0;
  std::string currency_;
};

// Number of minor-unit digits of an ISO 4217 currency (EUR 2, JPY 0, KWD 3) or -1 if unknown.
int currency_exponent(std::string_view currency);

}  // namespace dunning
