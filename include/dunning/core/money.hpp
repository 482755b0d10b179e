// Money: integer minor units plus an ISO 4217 code. Never a floating-point amount.
// Arithmetic is defined only between equal currencies; mixing them is a programmer error.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dunning/core/result.hpp"

namespace dunning {

class Money {
 public:
  Money() = default;
  // REQUIRES: currency is three upper-case letters (a programmer error otherwise: throws
  // std::logic_error). Text from outside goes through `make` or `parse`.
  Money(std::int64_t minor, std::string currency);

  // Money from untrusted parts: an error unless `currency` is an ISO 4217 code with a minor unit
  // (see currency_exponent).
  static Result<Money> make(std::int64_t minor, std::string_view currency);

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

// The minor-unit exponent of an ISO 4217 currency as ISO 4217 list one gives it (EUR 2, JPY 0,
// KWD 3, IQD 3, RSD 2, ISK 0, CLF 4), or -1 for anything else: lower case, unknown codes, and
// codes without a minor unit (XAU, XDR, XXX). Not the display digits of a locale library:
// ICU/CLDR show RSD and IQD with 0 decimals, which would make RSD 1,999.00 read as 199,900.
int currency_exponent(std::string_view currency);

// Every (code, exponent) of the table, sorted by code (for tests and `dunningd check`).
std::vector<std::pair<std::string, int>> iso4217_table();

}  // namespace dunning
