// The shipped templates rendered with hostile data (name, locale, invoice id, plan, brand,
// decline code, time zone, update URL) and turned into a message: render never throws, and the
// message passes mime_checks.hpp.
#include "dunning/sender/mime.hpp"
#include "dunning/templates/renderer.hpp"
#include "mime_checks.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  fuzz::quiet();
  static const templates::Renderer renderer(std::filesystem::path(DUNNING_SOURCE_DIR) / "templates",
                                            "en", config::CompanyConfig{});
  static const char* kNames[] = {
      "card-expiring",  "card-expiring-last",      "update-card",  "update-card-reminder",
      "payment-failed", "payment-failed-reminder", "final-notice", "recovered"};
  if (size < 1) return 0;
  auto f = fuzz::split(fuzz::view(data + 1, size - 1), 9);
  templates::MessageData d;
  d.case_id = 1;
  d.customer_id = "cus_1";
  d.customer_name = f[0];
  d.locale = f[1];
  d.invoice_id = f[2];
  d.plan = f[3];
  d.card_brand = f[4];
  d.decline_code = f[5];
  d.time_zone = f[6];
  d.update_url = f[7];
  d.card_last4 = f[8].substr(0, 4);
  d.card_exp_month = data[0] % 13;
  d.card_exp_year = 2026;
  d.amount = Money(static_cast<std::int64_t>(data[0]) * 1234567, data[0] % 2 ? "EUR" : "JPY");
  d.next_retry_at = fuzz::now();
  d.cancel_at = fuzz::now() + Seconds(86400 * 21);
  auto r = renderer.render(kNames[data[0] % 8], d);
  if (!r) return 0;
  sender::Email e;
  e.from = "Example Billing <billing@example.com>";
  e.to_name = d.customer_name;
  e.to_address = "customer@example.com";
  e.subject = r.value().subject;
  e.text = r.value().text;
  e.html = r.value().html;
  e.message_id = "dunningd.case-1.step-0@example.com";
  e.date = fuzz::now();
  fuzz::check_mime(sender::build_mime(e));
  return 0;
}
