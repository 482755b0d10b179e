#include "dunning/ingest/json_screen.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "dunning/ingest/card_numbers.hpp"

namespace dunning::ingest {

bool has_control_characters(std::string_view s, bool multiline) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20) {
      if (!(multiline && (c == '\t' || c == '\n' || c == '\r'))) return true;
      ++i;
      continue;
    }
    if (c < 0x7F) {
      ++i;
      continue;
    }
    if (c == 0x7F) return true;
    // UTF-8: the length from the lead byte, continuation bytes checked, overlong forms,
    // surrogates and code points above U+10FFFF refused.
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 4;
      cp = c & 0x07;
    } else {
      return true;
    }
    if (i + n > s.size()) return true;
    for (std::size_t k = 1; k < n; ++k) {
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return true;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) {
      return true;
    }
    if (cp >= 0x80 && cp <= 0x9F) return true;  // C1 controls
    i += n;
  }
  return false;
}

bool valid_locale_tag(std::string_view tag) {
  if (tag.empty() || tag.size() > 35) return false;
  std::size_t start = 0;
  bool first = true;
  while (start <= tag.size()) {
    std::size_t end = tag.find_first_of("-_", start);
    if (end == std::string_view::npos) end = tag.size();
    std::string_view sub = tag.substr(start, end - start);
    if (sub.empty() || sub.size() > 8) return false;
    for (char c : sub) {
      const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
      const bool digit = c >= '0' && c <= '9';
      if (!letter && !(digit && !first)) return false;
    }
    if (first && (sub.size() < 2 || sub.size() > 3)) return false;
    first = false;
    if (end == tag.size()) break;
    start = end + 1;
  }
  return true;
}

namespace {

constexpr const char* kControlMessage =
    "must be UTF-8 without control characters (U+0000-U+001F, U+007F-U+009F)";

// The streaming checker: nlohmann's SAX parser is iterative, so only `frames_` grows with the
// depth, and it is refused past kMaxJsonDepth.
class Screen {
 public:
  using json = nlohmann::json;

  std::optional<Error> problem;

  bool null() { return scalar(); }
  bool boolean(bool) { return scalar(); }
  bool number_integer(json::number_integer_t v) { return number(std::to_string(v)); }
  bool number_unsigned(json::number_unsigned_t v) { return number(std::to_string(v)); }
  bool number_float(json::number_float_t, const json::string_t& raw) {
    return number(integer_digits(raw));
  }
  bool string(json::string_t& s) {
    begin_value();
    if (has_control_characters(s, true)) return refuse(path(), kControlMessage);
    if (contains_card_number(s)) return refuse(path(), kCardMessage);
    if (!frames_.empty()) {
      auto& f = frames_.back();
      if (f.previous && split_card_number(*f.previous, s)) {
        return refuse(path(),
                      "and the value before it hold what looks like a card number split "
                      "in two; never send card numbers");
      }
      f.previous = s.size() <= 64 ? std::optional<std::string>(s) : std::nullopt;
    }
    return true;
  }
  bool binary(json::binary_t&) { return scalar(); }
  bool start_object(std::size_t) { return open(false); }
  bool key(json::string_t& k) {
    auto& f = frames_.back();
    f.key = k;
    if (has_control_characters(k, false)) return refuse(path(), kControlMessage);
    if (contains_card_number(k)) return refuse(path(), kCardMessage);
    return true;
  }
  bool end_object() { return close(); }
  bool start_array(std::size_t) { return open(true); }
  bool end_array() { return close(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) {
    if (!problem) problem = Error::invalid("is not valid JSON", "(body)");
    return false;
  }

 private:
  static constexpr const char* kCardMessage =
      "holds what looks like a card number; never send card numbers";

  struct Frame {
    bool array = false;
    std::size_t next = 0;                 // arrays: the index of the next value
    std::size_t current = 0;              // arrays: the index of the value being read
    std::string key;                      // objects: the key of the value being read
    std::optional<std::string> previous;  // the string value before, for split numbers
  };

  void begin_value() {
    if (!frames_.empty() && frames_.back().array) frames_.back().current = frames_.back().next++;
  }
  bool scalar() {
    begin_value();
    if (!frames_.empty()) frames_.back().previous.reset();
    return true;
  }
  bool number(const std::string& digits) {
    scalar();
    if (contains_card_number(digits)) return refuse(path(), kCardMessage);
    return true;
  }
  bool open(bool array) {
    scalar();
    if (frames_.size() >= static_cast<std::size_t>(kMaxJsonDepth)) {
      return refuse("(body)", "nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    frames_.push_back(Frame{array, 0, 0, {}, {}});
    return true;
  }
  bool close() {
    frames_.pop_back();
    return true;
  }
  bool refuse(std::string field, std::string message) {
    if (!problem)
      problem = Error::invalid(std::move(message), field.empty() ? "(body)" : std::move(field));
    return false;
  }
  std::string path() const {
    std::string out;
    for (const auto& f : frames_) {
      if (f.array) {
        out += "[" + std::to_string(f.current) + "]";
      } else {
        if (!out.empty()) out += '.';
        out += f.key;
      }
    }
    return out;
  }

  // The integer a JSON number text denotes, as digits ("4.242424242424242e15" and
  // "4242424242424242.0" are both 4242424242424242); the integer part when it has a fraction.
  // Empty when it is too large to be a card number.
  static std::string integer_digits(const std::string& raw) {
    std::string mantissa;
    std::size_t point = std::string::npos;
    std::size_t i = raw.size() && raw[0] == '-' ? 1 : 0;
    for (; i < raw.size() && raw[i] != 'e' && raw[i] != 'E'; ++i) {
      if (raw[i] == '.') {
        point = mantissa.size();
      } else {
        mantissa += raw[i];
      }
    }
    if (point == std::string::npos) point = mantissa.size();
    long long exponent = 0;
    if (i < raw.size()) {
      ++i;
      bool negative = i < raw.size() && raw[i] == '-';
      if (i < raw.size() && (raw[i] == '-' || raw[i] == '+')) ++i;
      for (; i < raw.size(); ++i) {
        exponent = exponent * 10 + (raw[i] - '0');
        if (exponent > 100) return {};
      }
      if (negative) exponent = -exponent;
    }
    const long long int_len = static_cast<long long>(point) + exponent;
    if (int_len <= 0 || int_len > 40) return {};
    std::string out = mantissa.substr(
        0, std::min<std::size_t>(mantissa.size(), static_cast<std::size_t>(int_len)));
    out.append(static_cast<std::size_t>(int_len) - out.size(), '0');
    return out;
  }

  std::vector<Frame> frames_;
};

template <typename T>
std::optional<Error> check_text(std::string_view prefix, const char* field, const T& value,
                                bool multiline = false) {
  const std::string* s = nullptr;
  if constexpr (std::is_same_v<T, std::string>) {
    s = &value;
  } else {
    if (!value) return std::nullopt;
    s = &*value;
  }
  if (has_control_characters(*s, multiline))
    return Error::invalid(kControlMessage, std::string(prefix) + field);
  return std::nullopt;
}

std::optional<Error> check_time(std::string_view prefix, const char* field,
                                std::optional<TimePoint> t) {
  if (t && (*t < kFirstFactTime || *t > kLastFactTime)) {
    return Error::invalid("must lie between 1970-01-01T00:00:00Z and 8999-12-31T23:59:59Z",
                          std::string(prefix) + field);
  }
  return std::nullopt;
}

}  // namespace

std::optional<Error> screen_json(std::string_view body) {
  Screen screen;
  const bool ok = nlohmann::json::sax_parse(body, &screen);
  if (screen.problem) return screen.problem;
  if (!ok) return Error::invalid("is not valid JSON", "(body)");
  return std::nullopt;
}

std::optional<Error> check_fact(const Fact& fact, std::string_view prefix) {
  return std::visit(
      [&](const auto& row) -> std::optional<Error> {
        using T = std::decay_t<decltype(row)>;
        std::optional<Error> e;
        auto text = [&](const char* field, const auto& value, bool multiline = false) {
          if (!e) e = check_text(prefix, field, value, multiline);
        };
        auto time = [&](const char* field, std::optional<TimePoint> t) {
          if (!e) e = check_time(prefix, field, t);
        };
        if constexpr (std::is_same_v<T, store::CustomerRow>) {
          text("id", row.id);
          text("email", row.email);
          text("name", row.name);
          text("locale", row.locale);
          text("time_zone", row.time_zone);
          text("phone", row.phone);
          time("created_at", row.created_at);
          if (!e && row.locale && !row.locale->empty() && !valid_locale_tag(*row.locale)) {
            e = Error::invalid("must be a language tag like en, pt-BR or zh-Hant-TW",
                               std::string(prefix) + "locale");
          }
        } else if constexpr (std::is_same_v<T, store::PaymentMethodRow>) {
          text("id", row.id);
          text("customer_id", row.customer_id);
          text("brand", row.brand);
          text("last4", row.last4);
          time("updated_at", row.updated_at);
        } else if constexpr (std::is_same_v<T, store::DefaultCardRow>) {
          text("customer_id", row.customer_id);
          text("payment_method_id", row.payment_method_id);
          time("updated_at", row.updated_at);
        } else if constexpr (std::is_same_v<T, store::SubscriptionRow>) {
          text("id", row.id);
          text("customer_id", row.customer_id);
          text("plan", row.plan);
          text("status", row.status);
          text("currency", row.currency);
          text("interval", row.interval);
          time("updated_at", row.updated_at);
        } else if constexpr (std::is_same_v<T, StripeSignal>) {
          // Named as Stripe's objects name them (the ids come from several of their fields).
          text("invoice", row.invoice_id);
          text("payment_intent", row.payment_intent_id);
          text("charge", row.charge_id);
          text("subscription", row.subscription_id);
          text("customer", row.customer_id);
          text("currency", row.currency);
          text("decline_code", row.decline_code);
          text("message", row.message, true);
          time("created", row.occurred_at);
          time("created", row.charged_at);
        } else {
          text("id", row.id);
          text("customer_id", row.customer_id);
          text("subscription_id", row.subscription_id);
          text("invoice_id", row.invoice_id);
          text("currency", row.currency);
          text("decline_code", row.decline_code);
          text("message", row.message, true);
          time("occurred_at", row.occurred_at);
        }
        return e;
      },
      fact);
}

}  // namespace dunning::ingest
