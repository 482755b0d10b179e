#include "ingest/json_fields.hpp"

#include "dunning/ingest/json_screen.hpp"

namespace dunning::ingest::detail {

const nlohmann::json* Fields::get(const char* field, bool required) {
  auto it = obj_.find(field);
  if (it == obj_.end() || it->is_null()) {
    if (required) fail(field, "is required");
    return nullptr;
  }
  return &*it;
}

std::optional<std::string> Fields::str(const char* field, bool required, std::size_t max) {
  return text_field(field, required, max, false);
}

std::optional<std::string> Fields::prose(const char* field, bool required, std::size_t max) {
  return text_field(field, required, max, true);
}

std::optional<std::string> Fields::text_field(const char* field, bool required, std::size_t max,
                                              bool multiline) {
  const auto* v = get(field, required);
  if (!v) return std::nullopt;
  if (!v->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  const auto& s = v->get_ref<const std::string&>();
  if ((required && s.empty()) || s.size() > max) {
    fail(field, "must be 1 to " + std::to_string(max) + " characters");
    return std::nullopt;
  }
  if (has_control_characters(s, multiline)) {
    fail(field, "must be UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F)");
    return std::nullopt;
  }
  return s;
}

std::optional<std::int64_t> Fields::integer(const char* field, bool required, std::int64_t min,
                                            std::int64_t max) {
  const auto* v = get(field, required);
  if (!v) return std::nullopt;
  if (!v->is_number_integer() && !v->is_number_unsigned()) {
    fail(field, "must be an integer");
    return std::nullopt;
  }
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
    fail(field, "is out of range");
    return std::nullopt;
  }
  auto n = v->get<std::int64_t>();
  if (n < min || n > max) {
    fail(field, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<bool> Fields::boolean(const char* field) {
  const auto* v = get(field, false);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) {
    fail(field, "must be true or false");
    return std::nullopt;
  }
  return v->get<bool>();
}

std::optional<TimePoint> Fields::time(const char* field, bool required) {
  const auto* v = get(field, required);
  if (!v) return std::nullopt;
  std::optional<TimePoint> t;
  if (v->is_number_unsigned()) {  // unix seconds (Stripe style); never wrapped to a negative
    auto n = v->get<std::uint64_t>();
    if (n <= static_cast<std::uint64_t>(kLastFactTime.time_since_epoch().count()))
      t = TimePoint(Seconds(static_cast<std::int64_t>(n)));
  } else if (v->is_number_integer()) {
    t = TimePoint(Seconds(v->get<std::int64_t>()));
  } else if (v->is_string()) {
    t = parse_iso8601(v->get_ref<const std::string&>());
    if (!t) {
      fail(field, "must be an ISO 8601 UTC time like 2026-11-22T10:00:00Z");
      return std::nullopt;
    }
  } else {
    fail(field, "must be an ISO 8601 UTC time or unix seconds");
    return std::nullopt;
  }
  if (!t || *t < kFirstFactTime || *t > kLastFactTime) {
    fail(field, "must lie between 1970-01-01T00:00:00Z and 8999-12-31T23:59:59Z");
    return std::nullopt;
  }
  return t;
}

std::optional<std::string> Fields::currency(const char* field, bool required) {
  auto s = str(field, required, 3);
  if (!s) return std::nullopt;
  std::string up;
  for (char c : *s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c < 'A' || c > 'Z') break;
    up += c;
  }
  if (up.size() != 3) {
    fail(field, "must be an ISO 4217 code like EUR");
    return std::nullopt;
  }
  return up;
}

std::optional<std::string> Fields::last4(const char* field, bool required) {
  auto s = str(field, required, 4);
  if (!s) return std::nullopt;
  if (s->size() != 4 || s->find_first_not_of("0123456789") != std::string::npos) {
    fail(field, "must be exactly four digits");
    return std::nullopt;
  }
  return s;
}

}  // namespace dunning::ingest::detail
