// `dunningd preview`: renders one template for one locale with sample data or a real case's data,
// to stdout (subject + text + sms) or to an .html / .eml file, exactly as the sender would.
#include <fstream>
#include <iostream>

#include "app/commands.hpp"
#include "dunning/config/secrets.hpp"
#include "dunning/sender/dispatcher.hpp"
#include "dunning/sender/mime.hpp"
#include "dunning/templates/renderer.hpp"

namespace dunning::app {
namespace {

// Sample amounts in each shipped locale's usual currency.
Money sample_amount(const std::string& locale) {
  const std::string lang = locale.substr(0, locale.find_first_of("-_"));
  if (lang == "en") return Money(4900, "GBP");
  if (lang == "pl") return Money(4900, "PLN");
  if (lang == "ro") return Money(9900, "RON");
  if (lang == "nb") return Money(19900, "NOK");
  if (lang == "ar") return Money(4900, "SAR");
  return Money(1250, "EUR");
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Command add_preview_command(CLI::App& app, Cli& cli) {
  auto* sub = app.add_subcommand("preview", "render a message template with sample or real data");
  add_config_option(sub, cli);
  struct Options {
    std::string template_name;
    std::string locale;
    std::int64_t case_id = 0;
    std::string out;
    std::string now;
    std::string amount;
  };
  auto opt = std::make_shared<Options>();
  sub->add_option("-t,--template", opt->template_name, "template name (e.g. payment-failed)")
      ->required();
  sub->add_option("-l,--locale", opt->locale,
                  "locale (e.g. hr, pt-BR); default: the case's "
                  "customer's, else the default locale");
  sub->add_option("--case", opt->case_id, "use this case's real data instead of sample data");
  sub->add_option("-o,--out", opt->out,
                  "write to this file: .html (the HTML part) or .eml (the whole MIME message)");
  sub->add_option("--now", opt->now, "render as if it were this UTC time (ISO 8601)");
  sub->add_option("--amount", opt->amount, "sample amount, e.g. \"12.50 EUR\"");
  return {
      sub, [&cli, opt]() -> int {
        auto cfg = load_or_report(cli.config_file);
        if (!cfg) return kExitConfig;
        const TimePoint now = parse_time_option(opt->now, "--now").value_or(SystemClock().now());
        std::optional<std::string> secret;
        if (!cfg->daemon.links.base_url.empty())
          secret = config::read_secret(cfg->daemon.links.secret_env);

        templates::MessageData d;
        int step_index = 0;
        if (opt->case_id > 0) {
          auto store = open_store(*cfg, store::OpenMode::kExisting);
          if (!store) return kExitFailure;
          auto c = store->cases().get(opt->case_id);
          if (!c) {
            std::cerr << "dunningd: no case " << opt->case_id << '\n';
            return kExitFailure;
          }
          step_index = std::max(0, c->next_step - 1);
          d = sender::case_message_data(store->feed(), store->cases(), store->outbox(), *cfg, *c,
                                        now, secret);
          if (!opt->locale.empty()) d.locale = opt->locale;
        } else {
          d.case_id = 42;
          d.customer_id = "cus_sample";
          d.customer_name = "Alex Sample";
          d.customer_email = "alex@example.com";
          d.locale = opt->locale.empty() ? cfg->daemon.default_locale : opt->locale;
          d.time_zone = cfg->daemon.default_time_zone;
          d.amount = sample_amount(d.locale);
          if (!opt->amount.empty()) {
            auto m = Money::parse(opt->amount);
            if (!m) {
              std::cerr << "dunningd: --amount: " << m.error().message << '\n';
              return kExitConfig;
            }
            d.amount = *m;
          }
          d.invoice_id = "INV-2026-0042";
          d.plan = "Pro";
          d.card_brand = "Visa";
          d.card_last4 = "4242";
          d.card_exp_month = 12;
          d.card_exp_year = 2026;
          d.decline_code = "insufficient_funds";
          d.next_retry_at = now + Seconds(5 * 86400);
          d.cancel_at = now + Seconds(21 * 86400);
          d.update_url = sender::update_url(*cfg, d.customer_id, d.case_id, now, secret);
        }
        templates::Renderer renderer(cfg->daemon.templates, cfg->daemon.default_locale,
                                     cfg->daemon.company);
        auto r = renderer.render(opt->template_name, d);
        if (!r) {
          std::cerr << "dunningd: " << r.error().message << '\n';
          return kExitFailure;
        }
        if (opt->out.empty()) {
          std::cout << "Locale: " << r->locale << "\nSubject: " << r->subject << "\n\n" << r->text;
          if (!r->sms.empty()) std::cout << "\n--- sms ---\n" << r->sms << '\n';
          return kExitOk;
        }
        std::string content;
        if (ends_with(opt->out, ".html")) {
          content = r->html.empty() ? "<pre>" + r->text + "</pre>" : r->html;
        } else if (ends_with(opt->out, ".eml")) {
          sender::Email e;
          e.from = cfg->daemon.smtp.from;
          e.reply_to = cfg->daemon.smtp.reply_to;
          e.to_name = d.customer_name;
          e.to_address = d.customer_email;
          e.subject = r->subject;
          e.text = r->text;
          e.html = r->html;
          e.message_id = sender::Dispatcher::message_id(d.case_id, step_index, e.from);
          e.date = now;
          e.list_unsubscribe = sender::expand_uri_patterns(cfg->daemon.smtp.list_unsubscribe,
                                                           d.customer_id, d.case_id);
          e.list_unsubscribe_post = cfg->daemon.smtp.list_unsubscribe_post;
          content = sender::build_mime(e);
        } else {
          std::cerr << "dunningd: --out must end in .html or .eml\n";
          return kExitConfig;
        }
        std::ofstream f(opt->out, std::ios::binary);
        f << content;
        if (!f) {
          std::cerr << "dunningd: cannot write " << opt->out << '\n';
          return kExitFailure;
        }
        return kExitOk;
      }};
}

}  // namespace dunning::app
