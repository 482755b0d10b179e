// Hostile templates and hostile template data (issue 14, item 5 and 11): bounded partials, locales
// that never become paths, every failure an error value, data on one line.
#include <catch2/catch.hpp>

#include "dunning/templates/renderer.hpp"
#include "support/temp_dir.hpp"

using namespace dunning;
using dunning::templates::MessageData;
using dunning::templates::Renderer;

namespace {

MessageData data_for(std::string locale) {
  MessageData d;
  d.customer_name = "Ann";
  d.locale = std::move(locale);
  d.amount = Money(1250, "EUR");
  d.invoice_id = "INV-1";
  return d;
}

}  // namespace

TEST_CASE("a partial that includes itself gives a clear error, not a stack overflow",
          "[templates][hostile]") {
  testing::TempDir dir;
  dir.write("en/t.yaml", "subject: \"Hello {{> p}}\"\ntext: \"{{> p}}\"\n");
  for (const char* partials :
       {"p: \"x{{> p}}\"\n", "p: \"{{> q}}\"\nq: \"{{> p}}\"\n",
        "p: \"{{> q}}{{> q}}\"\nq: \"{{> r}}{{> r}}\"\nr: \"{{> s}}{{> s}}\"\n"
        "s: \"{{> t}}{{> t}}\"\nt: \"{{> u}}{{> u}}\"\nu: \"{{> v}}{{> v}}\"\n"
        "v: \"{{> w}}{{> w}}\"\nw: \"{{> p}}\"\n"}) {
    INFO(partials);
    dir.write("en/_partials.yaml", partials);
    Renderer r(dir.path(), "en", config::CompanyConfig{});
    auto out = r.render("t", data_for("en"));
    REQUIRE_FALSE(out);
    CHECK(out.error().message.find("partials expanded more than 64 times") != std::string::npos);
  }
  // A layout that uses a few partials a few times still renders.
  dir.write("en/_partials.yaml", "sig: \"-- {{company.name}}\"\nhi: \"Hi {{customer.name}}\"\n");
  dir.write("en/t.yaml", "subject: \"{{> hi}}\"\ntext: \"{{> hi}} {{> sig}} {{> sig}}\"\n");
  Renderer r(dir.path(), "en", config::CompanyConfig{});
  auto out = r.render("t", data_for("en"));
  REQUIRE(out);
  CHECK(out.value().text == "Hi Ann -- Example Ltd -- Example Ltd");
}

TEST_CASE("a customer locale that is not a plain tag never becomes a path",
          "[templates][hostile]") {
  testing::TempDir root;
  root.write("templates/en/t.yaml", "subject: \"default\"\n");
  root.write("evil/t.yaml", "subject: \"evil\"\n");  // outside the templates folder
  root.write("templates/pt/t.yaml", "subject: \"pt\"\n");
  Renderer r(root.path() / "templates", "en", config::CompanyConfig{});
  for (std::string locale : {std::string("../evil"), std::string("en\0/../../evil", 14),
                             std::string("pt\0", 3), std::string("/etc"), std::string(".."),
                             std::string(5000, 'a'), std::string("pt-BR/../../../evil")}) {
    INFO(locale);
    auto out = r.render("t", data_for(locale));
    REQUIRE(out);  // rendered in the default locale, nothing thrown
    CHECK(out.value().subject == "default");
    CHECK(out.value().locale == "en");
  }
  auto out = r.render("t", data_for("pt-BR"));
  REQUIRE(out);
  CHECK(out.value().subject == "pt");
  // A template name that is not a plain name is "no such template", not a path.
  CHECK_FALSE(r.render("../evil/t", data_for("en")));
  CHECK_FALSE(r.render(std::string("t\0x", 3), data_for("en")));
}

TEST_CASE("unreadable or malformed template files are error values", "[templates][hostile]") {
  testing::TempDir dir;
  dir.write("en/bad.yaml", "subject: [unclosed\n");
  dir.write("en/list.yaml", "- a\n- b\n");
  dir.write("en/mustache.yaml", "subject: \"{{#open}} never closed\"\n");
  dir.write("en/_partials.yaml", "[not, a, mapping\n");
  dir.write("en/_reasons.yaml", "- a list\n");
  std::filesystem::create_directories(dir.path() / "en" / "dir.yaml");  // a folder, not a file
  Renderer r(dir.path(), "en", config::CompanyConfig{});
  for (const char* name : {"bad", "list", "mustache", "dir", "missing"}) {
    INFO(name);
    auto out = r.render(name, data_for("en"));
    CHECK_FALSE(out);
  }
  dir.write("en/ok.yaml", "subject: \"{{reason}} {{> p}}\"\n");
  auto out = r.render("ok", data_for("en"));
  REQUIRE(out);  // broken _partials/_reasons files: rendered without them
}

TEST_CASE("data values are rendered on one line without control characters",
          "[templates][hostile]") {
  testing::TempDir dir;
  dir.write("en/t.yaml",
            "subject: \"For {{customer.name}}\"\ntext: \"Dear {{customer.name}},\\n\\ninvoice "
            "{{invoice.id}}\"\n");
  Renderer r(dir.path(), "en", config::CompanyConfig{});
  auto d = data_for("en");
  d.customer_name = "Ann\r\n\r\nYour invoice is PAID\x1b[2J\x0b\x0c\x7f\xc2\x85";
  d.invoice_id = "INV-1\nBcc: x";
  auto out = r.render("t", d);
  REQUIRE(out);
  CHECK(out.value().text == "Dear Ann Your invoice is PAID [2J ,\n\ninvoice INV-1 Bcc: x");
  CHECK(out.value().subject == "For Ann Your invoice is PAID [2J ");
}
