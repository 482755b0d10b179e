// Loading and validating the daemon config (dunningd.yaml) and the admin-edited sequences
// (sequences.yaml) into plain structs. Every mistake is reported with file:line:column.
// This module knows nothing about SQL or sockets.
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/decline.hpp"
#include "dunning/core/money.hpp"
#include "dunning/core/steps.hpp"

namespace dunning::config {

// A mistake in a config file, pointing at the offending node. line/column are 1-based (0 when
// the file could not be read at all).
struct ConfigError {
  std::string file;
  int line = 0;
  int column = 0;
  std::string message;
  bool warning = false;

  std::string to_string() const;  // "file:line:col: error: message"
};

struct SmtpConfig {
  std::string url;                                  // smtp://host:port/ehlo-name or smtps://...
  std::string from;                                 // "Example Billing <billing@example.com>"
  std::string reply_to;                             // optional
  std::string username_env = "DUNNINGD_SMTP_USER";  // secrets come from the environment
  std::string password_env = "DUNNINGD_SMTP_PASSWORD";
  bool require_tls = false;  // STARTTLS required on smtp://
  Seconds timeout{30};
  int connections = 1;  // parallel SMTP connections (each one reused across messages)
  // PEM bundle of the CAs trusted for the server's certificate, instead of the system store
  // (an internal relay's CA). Empty: the system store. Verification is never switched off.
  std::filesystem::path ca_file;
  // List-Unsubscribe URIs (RFC 2369), mailto: or https:, with {customer} and {case} replaced by
  // the percent-encoded values. Empty: no List-Unsubscribe header.
  std::vector<std::string> list_unsubscribe;
  // Also send "List-Unsubscribe-Post: List-Unsubscribe=One-Click" (RFC 8058); REQUIRES an
  // https: URI in list_unsubscribe (checked when loading).
  bool list_unsubscribe_post = false;
};

// The signed card-update link: update_url = base_url + "/r/" + token; the click redirect
// (GET /r/{token}) verifies it and sends the customer on to company.update_url.
struct LinksConfig {
  std::string base_url;                             // empty: company.update_url is used as is
  std::string secret_env = "DUNNINGD_LINK_SECRET";  // env var or systemd credential name
  Seconds ttl{30 * 86400};                          // a link stays valid this long after sending
};

// SMS over an HTTP API: POST url {"to": "+E.164", "text": "...", "from": ...} with a bearer token.
struct SmsConfig {
  std::string url;  // empty: no SMS transport (sms steps are skipped with that reason)
  std::string from;
  std::string token_env = "DUNNINGD_SMS_TOKEN";
  Seconds timeout{10};
};

// Outbound webhooks: POST url with a JSON event, signed with HMAC-SHA256 over "<ts>.<body>".
struct WebhooksConfig {
  std::string url;  // empty: no webhooks
  std::string secret_env = "DUNNINGD_WEBHOOK_SECRET";
  std::vector<std::string> events{"case.opened", "step.sent", "case.recovered", "case.lost"};
  Seconds timeout{10};
};

// The billing system's endpoint for retry / cancel / pause: POST url/<action>.
struct BillingConfig {
  std::string url;  // empty: retry/cancel/pause steps are skipped with that reason
  std::string token_env = "DUNNINGD_BILLING_TOKEN";
  Seconds timeout{30};
};

struct OutboxConfig {
  int batch_size = 200;              // rows claimed per dispatch round
  Seconds lease{300};                // a claimed row is re-sent after this if the sender died
  Seconds retry_base{60};            // first retry delay; doubles per attempt
  Seconds retry_max{3600};           // cap of one delay
  Seconds give_up_after{3 * 86400};  // transient failures turn permanent after this long
};

struct CompanyConfig {
  std::string name = "Example Ltd";
  std::string support_email = "support@example.com";
  std::string url;
  std::string update_url = "https://billing.example.com/update-card?customer={customer}";
};

// The browser console under /ui/ (docs/console.md). Two credentials, each a password held in
// the environment or a systemd credential (never in this file): admin (may pause, resume and
// close cases, check sequences) and finance (reads everything, changes nothing).
enum class SecureCookie { kAuto, kAlways, kNever };
struct ConsoleConfig {
  bool enabled = true;  // /ui/ is served when http is on and a password is available
  std::string admin_password_env = "DUNNINGD_CONSOLE_ADMIN_PASSWORD";
  std::string finance_password_env = "DUNNINGD_CONSOLE_FINANCE_PASSWORD";
  Seconds session_ttl{8 * 3600};  // a session ends this long after sign-in, whatever happens
  Seconds idle_timeout{30 * 60};  // ... or this long after its last request
  // kAuto: `Secure` when the request arrived over https (a proxy's X-Forwarded-Proto: https).
  SecureCookie secure_cookie = SecureCookie::kAuto;
  int login_attempts = 5;         // failed sign-ins from one address in login_window ...
  Seconds login_window{15 * 60};  // ... after which that address is refused until it passes
  int page_size = 50;             // cases and ledger rows per page
};

// The HTTP server inside `dunningd run` (ingest API, Stripe webhooks, read API, health, metrics,
// click redirects). Started only when the config has an `http` section.
struct HttpConfig {
  bool enabled = false;
  std::string listen = "127.0.0.1:8088";  // host:port; port 0 picks a free one
  std::string host = "127.0.0.1";         // parsed from `listen`
  int port = 8088;
  std::size_t max_body = 1024 * 1024;  // bytes; larger requests get 413
  int max_connections = 256;           // more get 503 and are closed
  Seconds timeout{30};                 // per request: read, handle, write
  // Names of environment variables (or systemd credentials) holding secrets, never the secrets.
  std::string token_env = "DUNNINGD_API_TOKEN";                // bearer token of /v1/*
  std::string stripe_secrets_env = "DUNNINGD_STRIPE_SECRETS";  // "whsec_new,whsec_old"
  Seconds stripe_tolerance{300};
  int commit_batch = 1000;  // most events in one group-commit transaction
  ConsoleConfig console;
};

// The signed card-update links in messages and their click redirect (GET /r/{token}).
struct DaemonConfig {
  std::filesystem::path file;  // where this config came from
  // SQLite file (relative paths are relative to `file`), or a PostgreSQL URI kept as written:
  // postgresql://user@host:port/db?sslmode=verify-full&sslrootcert=/etc/dunningd/db-ca.pem
  std::filesystem::path database;
  // PostgreSQL: the environment variable (or systemd credential) holding the password; empty
  // leaves it to libpq (PGPASSWORD, ~/.pgpass). Never the password itself.
  std::string database_password_env;
  std::filesystem::path sequences;  // sequences.yaml
  std::filesystem::path templates;  // templates/<locale>/<name>.yaml
  std::string default_locale = "en";
  std::string default_time_zone = "UTC";
  Seconds poll_interval{10};
  std::string log_level = "info";
  std::string log_format = "text";   // text | json (one JSON object per line)
  bool log_customer_emails = false;  // false: addresses appear masked (a***@example.com)
  CompanyConfig company;
  SmtpConfig smtp;
  OutboxConfig outbox;
  HttpConfig http;
  LinksConfig links;
  SmsConfig sms;
  WebhooksConfig webhooks;
  BillingConfig billing;
  std::map<std::string, DeclineClass> declines;  // overrides of the built-in table
};

// The step vocabulary is core's (core/steps.hpp): the store keeps the same names.
using dunning::Action;
using dunning::Channel;
using dunning::to_string;
using dunning::Trigger;

struct Step {
  Seconds at{0};  // offset from the case opening
  Channel channel = Channel::kEmail;
  std::string template_name;        // email/sms
  Action action = Action::kNone;    // channel == kAction
  std::string prefer;               // "payday" for retries
  std::vector<std::string> unless;  // "clicked", "card_updated"
  int line = 0;
  int column = 0;

  // cancel / pause / mark_lost end the case as lost.
  bool is_final() const {
    return action == Action::kCancel || action == Action::kPause || action == Action::kMarkLost;
  }
  std::string describe() const;  // "email update-card", "action retry"
};

struct Match {
  std::string decline = "any";             // hard | soft | any
  std::vector<std::string> decline_codes;  // when a list of codes is given instead
  std::vector<std::string> plans;
  std::vector<std::string> currencies;
  std::vector<std::string> locales;
  std::optional<Money> amount_at_least;
  std::optional<Money> amount_below;
};

struct SendWindow {
  int from_minute = 0;  // minutes after local midnight
  int to_minute = 24 * 60;
  std::array<bool, 7> days{true, true, true, true, true, true, true};  // Sunday = 0
};

struct Sequence {
  std::string id;
  Trigger trigger = Trigger::kPaymentFailed;
  int days_before_expiry = 30;
  Match match;
  std::vector<Step> steps;
  std::vector<std::string> stop_on;  // recovered, card_updated, subscription_cancelled, unreachable
  std::vector<Step> on_card_updated;
  std::optional<SendWindow> send_window;
  std::string hash;  // of this sequence's definition; cases keep it
  int line = 0;
};

struct Defaults {
  SendWindow send_window;  // contact steps (email/sms) only; retries are not windowed
  int max_messages_per_customer_per_day = 1;  // counted in the customer's local day, all cases
  int min_hours_between_messages = 0;
  int holdout_percent = 0;
  // Local calendar dates on which no contact is sent (the customer's time zone).
  std::vector<std::chrono::sys_days> holidays;
  // `prefer: payday` moves a retry to the next of these days of the month, if one comes within
  // payday_max_days; otherwise the retry keeps its own time.
  std::vector<int> paydays{1, 15};
  int payday_max_days = 5;
  // No card gets more retries than this in any 30 days, whatever the sequences say (Visa: 20).
  int max_retries_per_card_per_30_days = 15;
};

struct Sequences {
  std::filesystem::path file;
  std::vector<Sequence> sequences;  // first match wins, top to bottom
  Defaults defaults;

  const Sequence* find(std::string_view id) const;
};

// All of it, loaded and validated together.
struct Config {
  DaemonConfig daemon;
  Sequences sequences;
};

template <typename T>
struct Loaded {
  T value;
  std::vector<ConfigError> errors;  // includes warnings
  bool ok() const;                  // no error (warnings allowed)
};

Loaded<DaemonConfig> load_daemon_config(const std::filesystem::path& file);
Loaded<Sequences> load_sequences(const std::filesystem::path& file);
// Every email/sms step of `seqs` whose template does not exist for daemon.default_locale in
// daemon.templates: one error at the step.
std::vector<ConfigError> missing_templates(const Sequences& seqs, const DaemonConfig& daemon);
// Loads the daemon config, then the sequences it names, then checks that every referenced
// template exists for the default locale. `templates_override` replaces the config's templates
// folder (to check a folder before deploying it).
Loaded<Config> load_config(const std::filesystem::path& file,
                           const std::optional<std::filesystem::path>& templates_override = {});

}  // namespace dunning::config
