// What customers read never has an empty slot: every shipped template of every locale, rendered
// with each optional value missing (no name, plan, card brand/last4/expiry, retry, cancel date,
// company.url) and present, reads as whole sentences; the template lint finds nothing to warn
// about in the shipped set and catches an unguarded optional value where it is.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "dunning/templates/lint.hpp"
#include "dunning/templates/renderer.hpp"

namespace fs = std::filesystem;
using dunning::Money;
using dunning::TimePoint;
namespace templates = dunning::templates;

namespace {

const fs::path kTemplates = fs::path(DUNNING_SOURCE_DIR) / "templates";

// The optional values, each of which a combination sets or leaves empty.
enum Optional {
  kName,
  kPlan,
  kBrand,
  kLast4,
  kExp,
  kNextRetry,
  kCancel,
  kCompanyUrl,
  kOptionalCount
};
const char* const kVariable[kOptionalCount] = {
    "customer.name", "subscription.plan", "card.brand",  "card.last4",
    "card.exp",      "next_retry_date",   "cancel_date", "company.url"};

using Set = std::vector<bool>;  // indexed by Optional

// All empty, all set, and each value alone empty or alone set.
std::vector<Set> combinations() {
  std::vector<Set> out{Set(kOptionalCount, false), Set(kOptionalCount, true)};
  for (int i = 0; i < kOptionalCount; ++i) {
    Set one_empty(kOptionalCount, true), one_set(kOptionalCount, false);
    one_empty[i] = false;
    one_set[i] = true;
    out.push_back(one_empty);
    out.push_back(one_set);
  }
  return out;
}

std::string describe(const Set& set) {
  std::string out;
  for (int i = 0; i < kOptionalCount; ++i) {
    out += std::string(out.empty() ? "" : ", ") + kVariable[i] + (set[i] ? " set" : " empty");
  }
  return out;
}

std::vector<std::string> locales() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kTemplates)) {
    if (e.is_directory()) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> template_names(const std::string& locale) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(kTemplates / locale)) {
    const auto name = e.path().filename().string();
    if (e.path().extension() == ".yaml" && name.front() != '_')
      out.push_back(e.path().stem().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const TimePoint kRetryAt =
    std::chrono::sys_days(std::chrono::year(2026) / 11 / 12) + std::chrono::hours(10);
const TimePoint kCancelAt =
    std::chrono::sys_days(std::chrono::year(2026) / 11 / 30) + std::chrono::hours(10);

templates::MessageData message(const std::string& locale, const Set& set) {
  templates::MessageData d;
  d.case_id = 7;
  d.customer_id = "cus_7";
  d.customer_email = "ana@example.com";
  d.locale = locale;
  d.time_zone = "Europe/Zagreb";
  d.amount = Money(4900, "EUR");
  d.invoice_id = "INV-2026-0042";
  d.decline_code = "insufficient_funds";
  d.update_url = "https://pay.example.test/u/abc123";
  if (set[kName]) d.customer_name = "Ana Novak";
  if (set[kPlan]) d.plan = "Pro";
  if (set[kBrand]) d.card_brand = "Visa";
  if (set[kLast4]) d.card_last4 = "4242";
  if (set[kExp]) {
    d.card_exp_month = 8;
    d.card_exp_year = 2027;
  }
  if (set[kNextRetry]) d.next_retry_at = kRetryAt;
  if (set[kCancel]) d.cancel_at = kCancelAt;
  return d;
}

// What each set value renders as in `locale`.
std::vector<std::string> rendered_values(const std::string& locale) {
  return {"Ana Novak",
          "Pro",
          "Visa",
          "4242",
          "08/2027",
          templates::format_date(kRetryAt, locale, "Europe/Zagreb"),
          templates::format_date(kCancelAt, locale, "Europe/Zagreb"),
          "https://acme.example"};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::size_t at = 0;
  for (;;) {
    const auto nl = s.find('\n', at);
    out.push_back(s.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return out;
}

// The ways a missing value shows in a rendered message, or "" when `part` has none.
std::string broken_sentence(const std::string& part) {
  static const std::vector<std::string> kBefore = {".", ",", ";", ":", "!", "?", "،", "؟", ")"};
  static const std::vector<std::string> kAnywhere = {
      "()", "( ", "href=\"\"", "href=\"mailto:\"", "\"></a>", "<bdi></bdi>", "{{", "}}"};
  const std::string dot = "·";
  if (contains(part, "\n\n\n")) return "an empty paragraph (two blank lines in a row)";
  for (const auto& line : split_lines(part)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    const std::string body = line.substr(first);
    for (const auto& p : kBefore) {
      if (contains(body, " " + p)) return "a space before '" + p + "' in: " + line;
    }
    for (const auto& s : kAnywhere) {
      if (contains(body, s)) return "'" + s + "' in: " + line;
    }
    if (contains(body, "  ")) return "two spaces in a row in: " + line;
    if (body.back() == ' ') return "a space at the end of: " + line;
    if (body.rfind(dot, 0) == 0) return "a line starting with '·': " + line;
    if (body.size() >= dot.size() && body.compare(body.size() - dot.size(), dot.size(), dot) == 0)
      return "a line ending in '·': " + line;
    if (contains(body, " -") || body.front() == '-') {
      const auto at = body.front() == '-' ? 0 : body.find(" -") + 1;
      if (at + 1 < body.size() && body[at + 1] != ' ') return "a word starting with '-': " + line;
    }
  }
  return "";
}

struct Sources {
  std::string subject, text, html, sms;
};

struct Part {
  const char* name;
  const std::string& rendered;
  const std::string& source;
};

// The template's parts with the locale's partials pasted in, to see which variables each uses.
Sources sources(const std::string& locale, const std::string& name) {
  Sources s;
  const YAML::Node root = YAML::LoadFile((kTemplates / locale / (name + ".yaml")).string());
  const YAML::Node partials = YAML::LoadFile((kTemplates / locale / "_partials.yaml").string());
  auto part = [&](const char* key) {
    std::string text = root[key] ? root[key].as<std::string>() : "";
    for (const auto& kv : partials) {
      const std::string tag = "{{> " + kv.first.as<std::string>() + "}}";
      for (auto at = text.find(tag); at != std::string::npos; at = text.find(tag))
        text.replace(at, tag.size(), kv.second.as<std::string>());
    }
    return text;
  };
  s.subject = part("subject");
  s.text = part("text");
  s.html = part("html");
  s.sms = part("sms");
  return s;
}

}  // namespace

TEST_CASE("every shipped template reads as whole sentences with any optional value missing",
          "[templates]") {
  const auto all_locales = locales();
  REQUIRE(all_locales.size() >= 6);
  int renders = 0;
  for (const auto& set : combinations()) {
    dunning::config::CompanyConfig company;
    company.name = "Acme Cloud";
    company.support_email = "support@acme.example";
    company.url = set[kCompanyUrl] ? "https://acme.example" : "";
    const templates::Renderer renderer(kTemplates, "en", company);
    for (const auto& locale : all_locales) {
      const auto values = rendered_values(locale);
      for (const auto& name : template_names(locale)) {
        INFO(locale << "/" << name << ".yaml with " << describe(set));
        auto r = renderer.render(name, message(locale, set));
        REQUIRE(r);
        CHECK(r->locale == locale);
        const Sources src = sources(locale, name);
        const Part parts[] = {{"subject", r->subject, src.subject},
                              {"text", r->text, src.text},
                              {"html", r->html, src.html},
                              {"sms", r->sms, src.sms}};
        for (const auto& part : parts) {
          INFO(part.name << ":\n" << part.rendered);
          CHECK(broken_sentence(part.rendered) == "");
          for (int i = 0; i < kOptionalCount; ++i) {
            if (!set[i] || !contains(part.source, std::string("{{") + kVariable[i] + "}}")) {
              continue;
            }
            INFO("the " << part.name << " uses {{" << kVariable[i] << "}}");
            CHECK(contains(part.rendered, values[static_cast<std::size_t>(i)]));
          }
        }
        ++renders;
      }
    }
  }
  CHECK(renders >= 6 * 8 * 18);
}

TEST_CASE("the shipped templates guard every value that can be empty", "[templates]") {
  const auto findings = templates::lint_templates(kTemplates);
  for (const auto& f : findings) INFO(f.to_string());
  CHECK(findings.empty());
}

TEST_CASE("the template lint flags an unguarded optional value at its line", "[templates]") {
  const std::string text =
      "Hello{{#customer.name}} {{customer.name}}{{/customer.name}},\n"
      "\n"
      "We'll try again on {{next_retry_date}}.\n";
  const auto findings = templates::lint_text(text, "templates/en/x.yaml", 4);
  REQUIRE(findings.size() == 1);
  CHECK(findings[0].file == "templates/en/x.yaml");
  CHECK(findings[0].line == 6);
  CHECK(findings[0].warning);
  CHECK(contains(findings[0].message, "{{next_retry_date}}"));
}

TEST_CASE("the template lint accepts a value used inside a section that tests it", "[templates]") {
  using templates::lint_text;
  CHECK(lint_text("{{#next_retry_date}}We'll try again on {{next_retry_date}}.{{/next_retry_date}}",
                  "x.yaml", 1)
            .empty());
  SECTION("followed by an inverted section with the fallback") {
    CHECK(lint_text("cancelled {{#cancel_date}}on {{cancel_date}}{{/cancel_date}}"
                    "{{^cancel_date}}soon{{/cancel_date}} unless…",
                    "x.yaml", 1)
              .empty());
  }
  SECTION("inside an inverted section of another value within its own section") {
    CHECK(lint_text("{{#card.last4}}({{#card.brand}}{{card.brand}}{{/card.brand}}"
                    "{{^card.brand}}card{{/card.brand}} ending in {{card.last4}}){{/card.last4}}",
                    "x.yaml", 1)
              .empty());
  }
  SECTION("a value that is always set needs no section") {
    CHECK(lint_text("invoice {{invoice.id}} of {{amount}}", "x.yaml", 1).empty());
  }
}

TEST_CASE("the template lint does not take another section or an inverted one as a guard",
          "[templates]") {
  using templates::lint_text;
  SECTION("the inverted section of the same value") {
    const auto f =
        lint_text("{{^next_retry_date}}on {{next_retry_date}}{{/next_retry_date}}", "x.yaml", 1);
    CHECK(f.size() == 1);
  }
  SECTION("after its own section has closed") {
    const auto f = lint_text(
        "{{#next_retry_date}}soon{{/next_retry_date}}\n{{^next_retry_date}}x{{/next_retry_date}}"
        " on {{next_retry_date}}.",
        "x.yaml", 10);
    REQUIRE(f.size() == 1);
    CHECK(f[0].line == 11);
  }
  SECTION("a section of another value") {
    const auto f = lint_text("{{#cancel_date}}on {{next_retry_date}}{{/cancel_date}}", "x.yaml", 1);
    CHECK(f.size() == 1);
  }
}
