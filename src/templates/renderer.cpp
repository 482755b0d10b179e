#include "dunning/templates/renderer.hpp"

#include <unicode/datefmt.h>
#include <unicode/numberformatter.h>
#include <unicode/timezone.h>
#include <yaml-cpp/yaml.h>

#include <kainjow/mustache.hpp>
#include <memory>
#include <mutex>
#include <optional>

#include "dunning/core/decline.hpp"

namespace dunning::templates {

namespace fs = std::filesystem;
using kainjow::mustache::data;
using kainjow::mustache::mustache;

namespace {

// Plain-words reasons used when a locale ships no _reasons.yaml entry.
const std::map<std::string, std::string>& english_reasons() {
  static const std::map<std::string, std::string> kReasons = {
      {"insufficient_funds", "the card has insufficient funds"},
      {"expired_card", "the card has expired"},
      {"incorrect_number", "the card number is incorrect"},
      {"card_velocity_exceeded", "the card's spending limit was reached"},
      {"do_not_honor", "the bank declined the payment"},
      {"authentication_required", "the bank asked for additional authentication"},
      {"processing_error", "a processing error occurred"},
      {"try_again_later", "the bank asked us to try again later"},
      {"generic", "the card was declined"},
  };
  return kReasons;
}

std::string identity(const std::string& s) { return s; }

// A value for the template. kainjow's sections treat every string as true, even an empty one, so
// "{{#customer.name}} {{customer.name}}{{/customer.name}}" rendered "Hello ," without a name: an
// empty value is `false` instead, which a section skips, an inverted section renders and a
// variable renders as nothing, as it would the empty string.
data value(const std::string& s) { return s.empty() ? data(false) : data(s); }

// `text` with each partial tag whose partial is a leaf (valid on its own, including no other
// partial and changing no delimiters) replaced by the partial's text. kainjow parses a partial
// again at every expansion; a partial renders into the including line with the same data and
// escaping, so the spliced text renders the same. Other partials stay tags, expanded (and
// bounded) at render time; a text that changes delimiters or has comments is left as it is.
std::string splice_leaf_partials(const std::string& text,
                                 const std::map<std::string, std::string>& partials) {
  if (text.find("{{=") != std::string::npos || text.find("{{!") != std::string::npos) return text;
  auto leaf = [&](const std::string& name) -> const std::string* {
    auto it = partials.find(name);
    if (it == partials.end()) return nullptr;
    const std::string& p = it->second;
    if (p.find("{{>") != std::string::npos || p.find("{{=") != std::string::npos) return nullptr;
    if (!mustache{p}.is_valid()) return nullptr;
    return &p;
  };
  std::string out;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t open = text.find("{{>", pos);
    if (open == std::string::npos) break;
    const std::size_t close = text.find("}}", open + 3);
    if (close == std::string::npos) break;
    std::string name = text.substr(open + 3, close - open - 3);
    const auto first = name.find_first_not_of(" \t");
    const auto last = name.find_last_not_of(" \t");
    name = first == std::string::npos ? std::string() : name.substr(first, last - first + 1);
    out.append(text, pos, open - pos);
    if (const std::string* p = leaf(name)) {
      out += *p;
    } else {
      out.append(text, open, close + 2 - open);
    }
    pos = close + 2;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

icu::Locale icu_locale(const std::string& locale) {
  return icu::Locale(locale.empty() ? "en" : locale.c_str());
}

std::string utf8(const icu::UnicodeString& u) {
  std::string out;
  u.toUTF8String(out);
  return out;
}

// The ICU formatter of `currency` amounts for `locale`; nullopt for a currency ICU does not know.
// The number of decimals is ISO 4217's, never ICU's display rule (CLDR shows RSD and IQD with
// none, which would round RSD 1,999.50 to "RSD 2,000"): what is owed is shown to the minor unit.
std::optional<icu::number::LocalizedNumberFormatter> money_formatter(const std::string& currency,
                                                                     const std::string& locale) {
  const int exponent = currency_exponent(currency);
  if (exponent < 0) return std::nullopt;
  UErrorCode status = U_ZERO_ERROR;
  icu::CurrencyUnit unit(icu::StringPiece(currency), status);
  if (U_FAILURE(status)) return std::nullopt;
  return icu::number::NumberFormatter::withLocale(icu_locale(locale))
      .unit(unit)
      .precision(icu::number::Precision::fixedFraction(exponent));
}

std::string format_with(const icu::number::LocalizedNumberFormatter& f, const Money& m) {
  UErrorCode status = U_ZERO_ERROR;
  const std::string decimal = m.major_string();  // exact: no floating point on the way
  icu::UnicodeString u = f.formatDecimal(icu::StringPiece(decimal), status).toString(status);
  return U_FAILURE(status) ? m.to_string() : utf8(u);
}

// A long-date formatter for `locale` in `time_zone` (UTC when empty); null when ICU has none.
std::unique_ptr<icu::DateFormat> date_formatter(const std::string& locale,
                                                const std::string& time_zone) {
  std::unique_ptr<icu::DateFormat> df(
      icu::DateFormat::createDateInstance(icu::DateFormat::kLong, icu_locale(locale)));
  if (df) {
    df->adoptTimeZone(icu::TimeZone::createTimeZone(
        icu::UnicodeString::fromUTF8(time_zone.empty() ? "UTC" : time_zone)));
  }
  return df;
}

std::string format_with(const icu::DateFormat* df, TimePoint t) {
  if (!df) return format_iso8601(t).substr(0, 10);
  icu::UnicodeString u;
  df->format(static_cast<UDate>(t.time_since_epoch().count()) * 1000.0, u);
  return utf8(u);
}

}  // namespace

std::string format_money(const Money& m, const std::string& locale) {
  auto f = money_formatter(m.currency(), locale);
  return f ? format_with(*f, m) : m.to_string();
}

std::string format_date(TimePoint t, const std::string& locale, const std::string& time_zone) {
  return format_with(date_formatter(locale, time_zone).get(), t);
}

// Everything a Renderer reads from the templates folder, read once: the daemon builds a new
// Renderer (with an empty cache) for every loaded configuration, so a reload sees edited files.
// Failures to read or parse are not cached: a broken file is tried again at the next render.
struct Renderer::Cache {
  std::mutex mutex;
  std::map<std::string, YAML::Node> files;
  std::map<std::string, bool> present;    // path → whether the file is there
  std::map<std::string, Source> sources;  // template file → its parts
  std::map<std::string, std::map<std::string, std::string>> partials;  // locale → partials
  std::map<std::string, std::string> reasons;  // locale '|' decline key → reason text

  // One Mustache part, parsed once. kainjow's render() is not const (a failed render leaves
  // its error in the template), so a part renders under its own lock, and a failed render
  // parses the text again so that the next message starts clean.
  struct Part {
    Part(std::string src, std::string parsed, bool html)
        : source(std::move(src)), text(std::move(parsed)), html_escape(html), tmpl(text) {
      if (!html_escape) tmpl.set_custom_escape(identity);
    }
    void reparse() {
      tmpl = mustache{text};
      if (!html_escape) tmpl.set_custom_escape(identity);
    }
    std::mutex mutex;
    const std::string source;  // the part as the file has it
    const std::string text;    // what was parsed: `source` with its leaf partials spliced in
    const bool html_escape;
    mustache tmpl;
  };
  std::map<std::string, std::unique_ptr<Part>> parts;  // file '|' part → parsed

  bool exists(const fs::path& file) {
    std::lock_guard lock(mutex);
    auto [it, fresh] = present.try_emplace(file.string(), false);
    if (fresh) {
      std::error_code ec;  // an unreadable folder is a missing file, not an exception
      it->second = fs::exists(file, ec);
    }
    return it->second;
  }

  // `leaves`: the partials that may be spliced in (nullptr: none, every partial is expanded
  // at render time).
  Part& part(const std::string& key, const std::string& text, bool html,
             const std::map<std::string, std::string>* leaves) {
    std::lock_guard lock(mutex);
    auto& p = parts[key];
    if (!p || p->source != text) {
      p = std::make_unique<Part>(text, leaves ? splice_leaf_partials(text, *leaves) : text, html);
    }
    return *p;
  }

  // The parsed file; throws YAML::Exception like YAML::LoadFile, or std::exception for an
  // unreadable file (failures are not cached).
  YAML::Node load(const fs::path& file) {
    std::lock_guard lock(mutex);
    auto it = files.find(file.string());
    if (it != files.end()) return it->second;
    YAML::Node n = YAML::LoadFile(file.string());
    files.emplace(file.string(), n);
    return n;
  }

  // format_money / format_date with the ICU formatters kept per locale (building one costs far
  // more than formatting with it).
  std::map<std::string, icu::number::LocalizedNumberFormatter> money_formatters;
  std::map<std::string, std::unique_ptr<icu::DateFormat>> date_formatters;

  std::string money(const Money& m, const std::string& locale) {
    std::lock_guard lock(mutex);
    const std::string key = locale + "|" + m.currency();
    auto it = money_formatters.find(key);
    if (it == money_formatters.end()) {
      auto f = money_formatter(m.currency(), locale);
      if (!f) return m.to_string();
      it = money_formatters.emplace(key, std::move(*f)).first;
    }
    return format_with(it->second, m);
  }

  std::string date(TimePoint t, const std::string& locale, const std::string& time_zone) {
    std::lock_guard lock(mutex);
    auto& df = date_formatters[locale + "|" + time_zone];
    if (!df) df = date_formatter(locale, time_zone);
    return format_with(df.get(), t);
  }
};

Renderer::Renderer(fs::path dir, std::string default_locale, config::CompanyConfig company)
    : cache_(std::make_shared<Cache>()),
      dir_(std::move(dir)),
      default_locale_(std::move(default_locale)),
      company_(std::move(company)) {}

namespace {

// Names that become path components: a locale tag ("pt-BR", "zh_Hant") or a template name
// ("update-card"). ASCII letters, digits, '-' and '_' only, so nothing can climb out of the
// templates folder ("../evil") or cut a path short (a NUL byte).
bool safe_path_part(std::string_view s, std::size_t max) {
  if (s.empty() || s.size() > max) return false;
  for (char c : s) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_';
    if (!ok) return false;
  }
  return s.front() != '-' && s.front() != '_';
}

// A value from the payments data as it may stand in a message: one line, no control characters
// (a name with line breaks must not add paragraphs to the text part).
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7F) {
      if (out.empty() || out.back() != ' ') out += ' ';
    } else if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      ++i;  // a C1 control
      if (out.empty() || out.back() != ' ') out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// Partials a single part may expand in total: far more than any layout needs, and few enough
// that a partial including itself ("x{{> p}}") stops long before the stack runs out.
constexpr int kMaxPartialExpansions = 64;

}  // namespace

std::optional<std::string> Renderer::resolve_locale(const std::string& name,
                                                    const std::string& raw_locale) const {
  if (!safe_path_part(name, 100)) return std::nullopt;
  // A customer's locale that is not a plain language tag is ignored: the default locale speaks.
  const std::string locale = safe_path_part(raw_locale, 35) ? raw_locale : std::string();
  std::vector<std::string> chain;
  if (!locale.empty()) {
    chain.push_back(locale);
    auto dash = locale.find_first_of("-_");
    if (dash != std::string::npos) chain.push_back(locale.substr(0, dash));
  }
  chain.push_back(default_locale_);
  for (const auto& l : chain) {
    if (!safe_path_part(l, 35)) continue;
    if (cache_->exists(dir_ / l / (name + ".yaml"))) return l;
  }
  return std::nullopt;
}

Result<Renderer::Source> Renderer::load(const std::string& locale, const std::string& name) const {
  fs::path file = dir_ / locale / (name + ".yaml");
  {
    std::lock_guard lock(cache_->mutex);
    if (auto it = cache_->sources.find(file.string()); it != cache_->sources.end()) {
      return it->second;
    }
  }
  YAML::Node root;
  try {
    root = cache_->load(file);
  } catch (const YAML::Exception& e) {
    return Error::invalid(file.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                          std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const std::exception& e) {  // I/O errors: reported, never thrown at the sender
    return Error::unavailable(file.string() + ": " + e.what());
  }
  if (!root.IsMap()) return Error::invalid(file.string() + ": must be a mapping");
  Source s;
  for (const auto& kv : root) {
    const std::string key = kv.first.Scalar();
    std::string* target = key == "subject" ? &s.subject
                          : key == "text"  ? &s.text
                          : key == "html"  ? &s.html
                          : key == "sms"   ? &s.sms
                                           : nullptr;
    if (!target) {
      return Error::invalid(file.string() + ":" + std::to_string(kv.first.Mark().line + 1) +
                            ": unknown key '" + key + "' (expected subject, text, html, sms)");
    }
    *target = kv.second.as<std::string>("");
  }
  if (s.subject.empty() && s.sms.empty()) {
    return Error::invalid(file.string() + ": needs a 'subject' (email) or an 'sms' text");
  }
  std::lock_guard lock(cache_->mutex);
  cache_->sources.emplace(file.string(), s);
  return s;
}

std::map<std::string, std::string> Renderer::partials(const std::string& locale) const {
  {
    std::lock_guard lock(cache_->mutex);
    if (auto it = cache_->partials.find(locale); it != cache_->partials.end()) return it->second;
  }
  std::map<std::string, std::string> out;
  bool complete = true;
  for (const auto& l : {default_locale_, locale}) {  // the locale's own partials win
    fs::path file = dir_ / l / "_partials.yaml";
    if (!cache_->exists(file)) continue;
    try {
      for (const auto& kv : cache_->load(file)) {
        out[kv.first.Scalar()] = kv.second.as<std::string>("");
      }
    } catch (const std::exception&) {  // reported by `dunningd check`; render without it
      complete = false;
    }
  }
  if (complete) {
    std::lock_guard lock(cache_->mutex);
    cache_->partials.emplace(locale, out);
  }
  return out;
}

std::string Renderer::reason(const std::string& locale, const std::string& code) const {
  const std::string key = DeclineTable::is_sensitive(code) ? "generic" : code;
  const std::string memo = locale + "|" + key;
  {
    std::lock_guard lock(cache_->mutex);
    if (auto it = cache_->reasons.find(memo); it != cache_->reasons.end()) return it->second;
  }
  bool complete = true;
  auto found = [&]() -> std::string {
    for (const auto& l : {locale, default_locale_}) {
      fs::path file = dir_ / l / "_reasons.yaml";
      if (!cache_->exists(file)) continue;
      try {
        YAML::Node n = cache_->load(file);
        if (!n.IsMap()) continue;
        if (n[key]) return n[key].as<std::string>("");
        if (n["generic"]) return n["generic"].as<std::string>("");
      } catch (const std::exception&) {
        complete = false;
      }
    }
    auto it = english_reasons().find(key);
    return it != english_reasons().end() ? it->second : english_reasons().at("generic");
  }();
  if (complete) {
    std::lock_guard lock(cache_->mutex);
    cache_->reasons.emplace(memo, found);
  }
  return found;
}

Result<Rendered> Renderer::render(const std::string& name, const MessageData& raw) const {
  // Every failure is a value: a hostile template or datum never throws at the sender.
  try {
    return render_checked(name, raw);
  } catch (const std::exception& e) {
    return Error::invalid("template '" + name + "': " + e.what());
  }
}

Result<Rendered> Renderer::render_checked(const std::string& name, const MessageData& raw) const {
  MessageData d = raw;
  if (!safe_path_part(d.locale, 35)) d.locale.clear();
  for (std::string* v : {&d.customer_name, &d.customer_email, &d.invoice_id, &d.plan, &d.card_brand,
                         &d.card_last4, &d.time_zone, &d.update_url}) {
    *v = one_line(*v);
  }
  auto locale = resolve_locale(name, d.locale);
  if (!locale) {
    return Error::not_found("no template '" + name + "' for locale '" + d.locale +
                            "' or the default locale '" + default_locale_ + "' in " +
                            dir_.string());
  }
  auto src = load(*locale, name);
  if (!src) return src.error();

  // Formatting follows the customer's own locale (pt-BR formats money the Brazilian way even
  // when the words come from the pt file).
  const std::string fmt_locale = d.locale.empty() ? *locale : d.locale;
  data customer{data::type::object};
  customer.set("name", value(d.customer_name));
  customer.set("email", value(d.customer_email));
  data company{data::type::object};
  company.set("name", value(company_.name));
  company.set("support_email", value(company_.support_email));
  company.set("url", value(company_.url));
  data invoice{data::type::object};
  invoice.set("id", value(d.invoice_id));
  data card{data::type::object};
  card.set("brand", value(d.card_brand));
  card.set("last4", value(d.card_last4));
  std::string exp;
  if (d.card_exp_month > 0) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%02d/%04d", d.card_exp_month, d.card_exp_year);
    exp = buf;
  }
  card.set("exp", value(exp));
  data subscription{data::type::object};
  subscription.set("plan", value(d.plan));

  data vars;
  vars.set("customer", customer);
  vars.set("company", company);
  vars.set("invoice", invoice);
  vars.set("card", card);
  vars.set("subscription", subscription);
  vars.set("amount", value(cache_->money(d.amount, fmt_locale)));
  vars.set("reason", value(reason(*locale, d.decline_code)));
  vars.set("next_retry_date",
           value(d.next_retry_at ? cache_->date(*d.next_retry_at, fmt_locale, d.time_zone) : ""));
  vars.set("cancel_date",
           value(d.cancel_at ? cache_->date(*d.cancel_at, fmt_locale, d.time_zone) : ""));
  vars.set("update_url", value(d.update_url));
  // Each expansion is counted: past the bound a partial expands to an unclosed tag, which stops
  // the render with an error instead of recursing until the stack overflows.
  int expansions = 0;
  std::string runaway;
  const auto all_partials = partials(*locale);
  // Spliced into the parts only once the locale's partials are read for good (see partials()).
  const std::map<std::string, std::string>* leaves = nullptr;
  {
    std::lock_guard lock(cache_->mutex);
    if (auto it = cache_->partials.find(*locale); it != cache_->partials.end())
      leaves = &it->second;
  }
  for (const auto& [pname, ptext] : all_partials) {
    std::string copy = ptext;
    vars.set(pname, kainjow::mustache::partial([copy, pname = pname, &expansions, &runaway] {
               if (++expansions > kMaxPartialExpansions) {
                 if (runaway.empty()) runaway = pname;
                 return std::string("{{");
               }
               return copy;
             }));
  }

  Rendered out;
  out.locale = *locale;
  auto run = [&](const std::string& text, bool html, const char* part,
                 std::string& target) -> Status {
    if (text.empty()) return Status::success();
    expansions = 0;
    auto& cached = cache_->part(*locale + "/" + name + "|" + part, text, html, leaves);
    std::lock_guard lock(cached.mutex);
    mustache& m = cached.tmpl;
    if (!m.is_valid()) {  // a parse error: the same for every message
      return Error::invalid(name + " (" + *locale + ") " + part + ": " + m.error_message());
    }
    target.clear();  // rendered straight into the string: no ostringstream per part
    m.render(vars, [&target](const std::string& piece) { target += piece; });
    if (!runaway.empty() || !m.is_valid()) {
      const std::string message = m.error_message();
      cached.reparse();  // the failed render left its error in the template
      if (!runaway.empty()) {
        return Error::invalid(name + " (" + *locale + ") " + part +
                              ": partials expanded more than " +
                              std::to_string(kMaxPartialExpansions) + " times (partial '" +
                              runaway + "' includes itself?)");
      }
      return Error::invalid(name + " (" + *locale + ") " + part + ": " + message);
    }
    return Status::success();
  };
  if (auto st = run(src->subject, false, "subject", out.subject); !st) return st.error();
  // A subject is one line: collapse any line break a variable brought in.
  for (char& c : out.subject)
    if (c == '\r' || c == '\n') c = ' ';
  vars.set("subject_line", value(out.subject));
  if (auto st = run(src->text, false, "text", out.text); !st) return st.error();
  if (auto st = run(src->html, true, "html", out.html); !st) return st.error();
  if (auto st = run(src->sms, false, "sms", out.sms); !st) return st.error();
  return out;
}

}  // namespace dunning::templates
