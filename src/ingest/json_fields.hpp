// Internal: reading typed fields out of a JSON object, remembering the first offending field.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "dunning/core/clock.hpp"
#include "dunning/ingest/event.hpp"

namespace dunning::ingest::detail {

class Fields {
 public:
  Fields(const nlohmann::json& obj, std::string prefix) : obj_(obj), prefix_(std::move(prefix)) {}

  bool failed() const { return error_.has_value(); }
  const Error& error() const { return *error_; }
  void fail(const std::string& field, const std::string& message) {
    if (!error_) error_ = Error::invalid(message, path(field));
  }
  std::string path(const std::string& field) const {
    return prefix_.empty() ? field : prefix_ + "." + field;
  }

  // A single-line string of 1..max bytes of UTF-8 without control characters; missing → error
  // when required. null counts as missing.
  std::optional<std::string> str(const char* field, bool required, std::size_t max = 255);
  // Free text: like str, but tabs and line breaks are allowed.
  std::optional<std::string> prose(const char* field, bool required, std::size_t max);
  std::optional<std::int64_t> integer(const char* field, bool required, std::int64_t min,
                                      std::int64_t max);
  std::optional<bool> boolean(const char* field);
  std::optional<TimePoint> time(const char* field, bool required);
  // An ISO 4217 code (core/iso4217), returned upper-case: lower case is normalised ("eur" is
  // EUR, as Stripe writes it), a code outside the table is refused.
  std::optional<std::string> currency(const char* field, bool required);
  // Exactly four digits.
  std::optional<std::string> last4(const char* field, bool required);

 private:
  const nlohmann::json* get(const char* field, bool required);
  std::optional<std::string> text_field(const char* field, bool required, std::size_t max,
                                        bool multiline);
  const nlohmann::json& obj_;
  std::string prefix_;
  std::optional<Error> error_;
};

}  // namespace dunning::ingest::detail
