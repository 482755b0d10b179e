// Message templates: templates/<locale>/<name>.yaml (subject, text, html, sms) rendered with
// Mustache, locale fallback pt-BR → pt → default, money and dates formatted for the customer's
// locale (ICU). Knows nothing about transports.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "dunning/config/config.hpp"
#include "dunning/core/clock.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/result.hpp"

namespace dunning::templates {

// Everything a message may mention. Filled by the sender from the case and the payments data.
struct MessageData {
  std::int64_t case_id = 0;
  std::string customer_id;
  std::string customer_name;
  std::string customer_email;
  std::string locale;     // customer's; empty → default locale
  std::string time_zone;  // IANA; empty → UTC
  Money amount;
  std::string invoice_id;
  std::string plan;
  std::string card_brand;
  std::string card_last4;
  int card_exp_month = 0;
  int card_exp_year = 0;
  std::string decline_code;
  std::optional<TimePoint> next_retry_at;
  std::optional<TimePoint> cancel_at;
  std::string update_url;
};

struct Rendered {
  std::string locale;  // the locale whose file was used
  std::string subject;
  std::string text;
  std::string html;  // empty when the template has none
  std::string sms;   // empty when the template has none
};

class Renderer {
 public:
  Renderer(std::filesystem::path dir, std::string default_locale, config::CompanyConfig company);

  // Renders template `name` for data.locale (with fallback). Errors: missing template, invalid
  // YAML or Mustache, unknown keys, partials that expand without bound. Never throws. A locale
  // that is not a plain tag (letters, digits, '-', '_', at most 35) is ignored: it never becomes
  // a path. Data values are rendered on one line, control characters replaced by spaces.
  Result<Rendered> render(const std::string& name, const MessageData& data) const;

  // The locale whose file would be used for `name`: "pt-BR" → "pt-BR", "pt", default; nullopt
  // when none has the template (or `name` is not a plain name).
  std::optional<std::string> resolve_locale(const std::string& name,
                                            const std::string& locale) const;

 private:
  struct Source {
    std::string subject, text, html, sms;
  };
  Result<Rendered> render_checked(const std::string& name, const MessageData& data) const;
  Result<Source> load(const std::string& locale, const std::string& name) const;
  std::map<std::string, std::string> partials(const std::string& locale) const;
  std::string reason(const std::string& locale, const std::string& decline_code) const;

  // Parsed template files, read once per Renderer (a new Renderer sees edited files).
  struct Cache;
  std::shared_ptr<Cache> cache_;
  std::filesystem::path dir_;
  std::string default_locale_;
  config::CompanyConfig company_;
};

// "12,50 €" for (1250 EUR, "hr"), "$12.50" for (1250 USD, "en-US"). Exact: no floating point.
std::string format_money(const Money& m, const std::string& locale);
// A long date in the locale and IANA time zone, e.g. "24. studenoga 2026.".
std::string format_date(TimePoint t, const std::string& locale, const std::string& time_zone);

}  // namespace dunning::templates
