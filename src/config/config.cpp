#include "dunning/config/config.hpp"

#include <date/tz.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

#include "config/yaml_reader.hpp"
#include "dunning/core/crypto.hpp"
#include "dunning/core/integers.hpp"

namespace dunning::config {

using detail::YamlReader;
namespace fs = std::filesystem;

std::string ConfigError::to_string() const {
  std::string out = file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += warning ? ": warning: " : ": error: ";
  return out + message;
}

template <typename T>
bool Loaded<T>::ok() const {
  return std::none_of(errors.begin(), errors.end(), [](const auto& e) { return !e.warning; });
}
template struct Loaded<DaemonConfig>;
template struct Loaded<Sequences>;
template struct Loaded<Config>;

std::string Step::describe() const {
  if (channel == Channel::kAction) return "action " + std::string(to_string(action));
  return std::string(to_string(channel)) + " " + template_name;
}

const Sequence* Sequences::find(std::string_view id) const {
  for (const auto& s : sequences)
    if (s.id == id) return &s;
  return nullptr;
}

namespace {

fs::path resolve(const fs::path& base_file, const std::string& value) {
  fs::path p(value);
  if (p.is_absolute()) return p;
  return base_file.parent_path() / p;
}

void load_company(YamlReader& r, const YAML::Node& n, CompanyConfig& c) {
  if (!r.expect_map(n, "'company'")) return;
  r.allow_keys(n, {"name", "support_email", "url", "update_url"}, "'company'");
  if (n["name"]) c.name = r.string(n["name"], "company.name").value_or(c.name);
  if (n["support_email"])
    c.support_email = r.string(n["support_email"], "company.support_email").value_or("");
  if (n["url"]) c.url = r.string(n["url"], "company.url").value_or("");
  if (n["update_url"]) c.update_url = r.string(n["update_url"], "company.update_url").value_or("");
}

// A readable PEM file with at least one certificate: a typo in the path is a config error, not
// a TLS failure at the first send.
void load_ca_file(YamlReader& r, const YAML::Node& n, SmtpConfig& s) {
  auto value = r.string(n, "smtp.ca_file");
  if (!value) return;
  if (value->empty()) return r.error(n, "'smtp.ca_file' must not be empty");
  s.ca_file = resolve(r.file(), *value);
  std::error_code ec;
  if (!fs::is_regular_file(s.ca_file, ec)) {
    return r.error(n, "'smtp.ca_file': no such file " + s.ca_file.string());
  }
  std::ifstream in(s.ca_file, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    return r.error(n, "'smtp.ca_file': cannot read " + s.ca_file.string());
  }
  if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    r.error(n, "'smtp.ca_file': " + s.ca_file.string() +
                   " holds no PEM certificate (-----BEGIN CERTIFICATE-----)");
  }
}

// Why `uri` is not an acceptable List-Unsubscribe pattern, or empty when it is. Only mailto: and
// https: URIs; the header is "<uri>, <uri>" so a pattern must not contain what would end or
// split an entry (angle brackets, commas, quotes, whitespace, control or non-ASCII bytes).
std::string list_unsubscribe_problem(const std::string& uri) {
  if (uri.size() > 500) return "is longer than 500 characters";
  const bool mailto = uri.rfind("mailto:", 0) == 0;
  const bool https = uri.rfind("https://", 0) == 0;
  if (!mailto && !https) return "must be a mailto: or https:// URI";
  for (unsigned char c : uri) {
    if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' || c == '"' || c == ',' || c == '\\') {
      return "must not contain spaces, control or non-ASCII characters, angle brackets, quotes, "
             "backslashes or commas (write them percent-encoded)";
    }
  }
  std::string rest = uri;
  for (std::string_view key : {"{customer}", "{case}"}) {
    for (auto pos = rest.find(key); pos != std::string::npos; pos = rest.find(key, pos)) {
      rest.replace(pos, key.size(), "x");
    }
  }
  if (rest.find_first_of("{}") != std::string::npos) {
    return "has an unknown placeholder (only {customer} and {case} are replaced)";
  }
  if (mailto) {
    auto end = rest.find('?');
    auto address = rest.substr(7, end == std::string::npos ? std::string::npos : end - 7);
    if (address.find('@') == std::string::npos || address.front() == '@' || address.back() == '@') {
      return "needs an address after mailto: (mailto:unsubscribe@example.com?subject=...)";
    }
  } else if (rest.size() <= 8 || rest[8] == '/' || rest[8] == '?') {
    return "needs a host after https://";
  }
  return {};
}

void load_list_unsubscribe(YamlReader& r, const YAML::Node& n, SmtpConfig& s) {
  if (!n.IsScalar() && !n.IsSequence()) {
    return r.error(n, "'smtp.list_unsubscribe' must be a URI or a list of URIs");
  }
  std::vector<YAML::Node> items;
  if (n.IsScalar()) {
    items.push_back(n);
  } else {
    for (const auto& item : n) items.push_back(item);
  }
  for (const auto& item : items) {
    auto uri = r.string(item, "smtp.list_unsubscribe");
    if (!uri) continue;
    auto problem = list_unsubscribe_problem(*uri);
    if (!problem.empty()) {
      r.error(item, "'smtp.list_unsubscribe' entry '" + *uri + "' " + problem);
      continue;
    }
    s.list_unsubscribe.push_back(*uri);
  }
}

void load_smtp(YamlReader& r, const YAML::Node& n, SmtpConfig& s) {
  if (!r.expect_map(n, "'smtp'")) return;
  r.allow_keys(n,
               {"url", "from", "reply_to", "username_env", "password_env", "require_tls", "timeout",
                "connections", "ca_file", "list_unsubscribe", "list_unsubscribe_post"},
               "'smtp'");
  if (n["url"]) {
    s.url = r.string(n["url"], "smtp.url").value_or("");
    if (s.url.rfind("smtp://", 0) != 0 && s.url.rfind("smtps://", 0) != 0) {
      r.error(n["url"], "'smtp.url' must start with smtp:// or smtps://");
    }
  } else {
    r.error(n, "'smtp' needs a 'url' (e.g. smtp://127.0.0.1:2525/dunningd.local)");
  }
  if (n["from"]) {
    s.from = r.string(n["from"], "smtp.from").value_or("");
  } else {
    r.error(n, "'smtp' needs a 'from' address");
  }
  if (n["reply_to"]) s.reply_to = r.string(n["reply_to"], "smtp.reply_to").value_or("");
  if (n["username_env"])
    s.username_env = r.string(n["username_env"], "smtp.username_env").value_or("");
  if (n["password_env"])
    s.password_env = r.string(n["password_env"], "smtp.password_env").value_or("");
  if (n["require_tls"])
    s.require_tls = r.boolean(n["require_tls"], "smtp.require_tls").value_or(false);
  if (n["timeout"]) s.timeout = r.duration(n["timeout"], "smtp.timeout").value_or(s.timeout);
  if (n["connections"])
    s.connections = r.integer(n["connections"], "smtp.connections", 1, 64).value_or(1);
  // The EHLO name is the URL's path. Without one, libcurl would greet with this machine's host
  // name (often "localhost", which costs spam score at real relays): the domain of `from:` is
  // the name the relay can check, so it is used instead.
  if (n["url"] && n["from"] && !s.url.empty()) {
    const auto authority = s.url.find("://") + 3;
    const auto slash = s.url.find('/', authority);
    if (slash == std::string::npos || slash + 1 == s.url.size()) {
      const auto at = s.from.rfind('@');
      std::string domain = at == std::string::npos ? "" : s.from.substr(at + 1);
      while (!domain.empty() && (domain.back() == '>' || domain.back() == ' ')) domain.pop_back();
      if (domain.empty() || domain.find_first_of(" <>/") != std::string::npos) {
        r.error(n["url"],
                "'smtp.url' has no EHLO name (smtp://host:port/ehlo.name) and 'smtp.from' has "
                "no domain to take it from");
      } else {
        s.url = s.url.substr(0, slash == std::string::npos ? s.url.size() : slash) + "/" + domain;
      }
    }
  }
  if (n["ca_file"]) load_ca_file(r, n["ca_file"], s);
  if (n["list_unsubscribe"]) load_list_unsubscribe(r, n["list_unsubscribe"], s);
  if (n["list_unsubscribe_post"]) {
    s.list_unsubscribe_post =
        r.boolean(n["list_unsubscribe_post"], "smtp.list_unsubscribe_post").value_or(false);
    const bool has_https = std::any_of(s.list_unsubscribe.begin(), s.list_unsubscribe.end(),
                                       [](const auto& u) { return u.rfind("https://", 0) == 0; });
    if (s.list_unsubscribe_post && !has_https) {
      r.error(n["list_unsubscribe_post"],
              "'smtp.list_unsubscribe_post' needs an https:// URI in 'smtp.list_unsubscribe' "
              "(one-click unsubscribe is an HTTPS POST, RFC 8058)");
    }
  }
}

// An http(s):// URL, or an error at the node.
std::string http_url(YamlReader& r, const YAML::Node& n, const std::string& field) {
  std::string url = r.string(n, field).value_or("");
  if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
    r.error(n, "'" + field + "' must start with http:// or https://");
  }
  return url;
}

void load_links(YamlReader& r, const YAML::Node& n, LinksConfig& l) {
  if (!r.expect_map(n, "'links'")) return;
  r.allow_keys(n, {"base_url", "secret_env", "ttl"}, "'links'");
  if (n["base_url"]) {
    l.base_url = http_url(r, n["base_url"], "links.base_url");
    while (!l.base_url.empty() && l.base_url.back() == '/') l.base_url.pop_back();
  }
  if (n["secret_env"]) l.secret_env = r.string(n["secret_env"], "links.secret_env").value_or("");
  if (n["ttl"]) l.ttl = r.duration(n["ttl"], "links.ttl").value_or(l.ttl);
  if (l.ttl.count() < 3600) r.error(n["ttl"] ? n["ttl"] : n, "'links.ttl' must be at least 1h");
}

void load_sms(YamlReader& r, const YAML::Node& n, SmsConfig& s) {
  if (!r.expect_map(n, "'sms'")) return;
  r.allow_keys(n, {"url", "from", "token_env", "timeout"}, "'sms'");
  if (n["url"]) s.url = http_url(r, n["url"], "sms.url");
  if (n["from"]) s.from = r.string(n["from"], "sms.from").value_or("");
  if (n["token_env"]) s.token_env = r.string(n["token_env"], "sms.token_env").value_or("");
  if (n["timeout"]) s.timeout = r.duration(n["timeout"], "sms.timeout").value_or(s.timeout);
}

void load_webhooks(YamlReader& r, const YAML::Node& n, WebhooksConfig& w) {
  if (!r.expect_map(n, "'webhooks'")) return;
  r.allow_keys(n, {"url", "secret_env", "events", "timeout"}, "'webhooks'");
  if (n["url"]) w.url = http_url(r, n["url"], "webhooks.url");
  if (n["secret_env"]) w.secret_env = r.string(n["secret_env"], "webhooks.secret_env").value_or("");
  if (n["events"]) {
    w.events = r.string_list(n["events"], "webhooks.events").value_or(w.events);
    for (const auto& e : w.events) {
      if (e != "case.opened" && e != "step.sent" && e != "case.recovered" && e != "case.lost") {
        r.error(n["events"], "unknown webhook event '" + e +
                                 "' (expected case.opened, step.sent, case.recovered, case.lost)");
      }
    }
  }
  if (n["timeout"]) w.timeout = r.duration(n["timeout"], "webhooks.timeout").value_or(w.timeout);
}

void load_billing(YamlReader& r, const YAML::Node& n, BillingConfig& b) {
  if (!r.expect_map(n, "'billing'")) return;
  r.allow_keys(n, {"url", "token_env", "timeout"}, "'billing'");
  if (n["url"]) {
    b.url = http_url(r, n["url"], "billing.url");
    while (!b.url.empty() && b.url.back() == '/') b.url.pop_back();
  }
  if (n["token_env"]) b.token_env = r.string(n["token_env"], "billing.token_env").value_or("");
  if (n["timeout"]) b.timeout = r.duration(n["timeout"], "billing.timeout").value_or(b.timeout);
}

// "1MiB", "512KiB", "1048576": a size in bytes.
std::optional<std::size_t> parse_size(const std::string& text) {
  std::size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  if (i == 0 || i > 12) return std::nullopt;
  const auto n = static_cast<std::size_t>(*parse_integer(std::string_view(text).substr(0, i)));
  std::string unit = text.substr(i);
  if (unit.empty() || unit == "B") return n;
  if (unit == "KiB" || unit == "K" || unit == "KB") return n * 1024;
  if (unit == "MiB" || unit == "M" || unit == "MB") return n * 1024 * 1024;
  return std::nullopt;
}

void load_console(YamlReader& r, const YAML::Node& n, ConsoleConfig& c) {
  if (n.IsNull()) return;
  if (!r.expect_map(n, "'http.console'")) return;
  r.allow_keys(n,
               {"enabled", "admin_password_env", "finance_password_env", "session_ttl",
                "idle_timeout", "secure_cookie", "login_attempts", "login_window", "page_size"},
               "'http.console'");
  if (n["enabled"]) c.enabled = r.boolean(n["enabled"], "http.console.enabled").value_or(c.enabled);
  if (n["admin_password_env"])
    c.admin_password_env =
        r.string(n["admin_password_env"], "http.console.admin_password_env").value_or("");
  if (n["finance_password_env"])
    c.finance_password_env =
        r.string(n["finance_password_env"], "http.console.finance_password_env").value_or("");
  for (const char* key : {"admin_password_env", "finance_password_env"}) {
    const auto& name = std::string_view(key) == "admin_password_env" ? c.admin_password_env
                                                                     : c.finance_password_env;
    if (n[key] && name.find('/') != std::string::npos) {
      r.error(n[key], std::string("'http.console.") + key +
                          "' names an environment variable or credential, not a path");
    }
  }
  auto duration_at_least = [&](const char* key, Seconds& out, Seconds min) {
    if (!n[key]) return;
    const std::string field = std::string("http.console.") + key;
    out = r.duration(n[key], field).value_or(out);
    if (out < min) {
      r.error(n[key], "'" + field + "' must be at least " + std::to_string(min.count()) + "s");
    }
  };
  duration_at_least("session_ttl", c.session_ttl, Seconds(60));
  duration_at_least("idle_timeout", c.idle_timeout, Seconds(60));
  duration_at_least("login_window", c.login_window, Seconds(1));
  if (c.idle_timeout > c.session_ttl && n["idle_timeout"]) {
    r.error(n["idle_timeout"], "'http.console.idle_timeout' is longer than 'session_ttl'");
  }
  if (n["secure_cookie"]) {
    auto text = r.string(n["secure_cookie"], "http.console.secure_cookie").value_or("auto");
    if (text == "auto") {
      c.secure_cookie = SecureCookie::kAuto;
    } else if (text == "true" || text == "always") {
      c.secure_cookie = SecureCookie::kAlways;
    } else if (text == "false" || text == "never") {
      c.secure_cookie = SecureCookie::kNever;
    } else {
      r.error(n["secure_cookie"], "'http.console.secure_cookie' must be auto, true or false");
    }
  }
  if (n["login_attempts"])
    c.login_attempts = r.integer(n["login_attempts"], "http.console.login_attempts", 1, 1000)
                           .value_or(c.login_attempts);
  if (n["page_size"])
    c.page_size =
        r.integer(n["page_size"], "http.console.page_size", 1, 1000).value_or(c.page_size);
}

void load_http(YamlReader& r, const YAML::Node& n, HttpConfig& h) {
  h.enabled = true;
  if (n.IsNull()) return;
  if (!r.expect_map(n, "'http'")) return;
  r.allow_keys(n,
               {"listen", "max_body", "max_connections", "timeout", "token_env",
                "stripe_secrets_env", "stripe_tolerance", "commit_batch", "console"},
               "'http'");
  if (n["listen"]) {
    h.listen = r.string(n["listen"], "http.listen").value_or(h.listen);
    auto colon = h.listen.rfind(':');
    std::optional<std::int64_t> port;
    if (colon != std::string::npos && colon > 0) {
      port = parse_integer(std::string_view(h.listen).substr(colon + 1), 0, 65535);
    }
    if (!port) {
      r.error(n["listen"], "'http.listen' must be host:port (e.g. 127.0.0.1:8088)");
    } else {
      h.host = h.listen.substr(0, colon);
      if (h.host.size() > 2 && h.host.front() == '[' && h.host.back() == ']')
        h.host = h.host.substr(1, h.host.size() - 2);
      h.port = static_cast<int>(*port);
    }
  } else {
    h.host = "127.0.0.1";
    h.port = 8088;
  }
  if (n["max_body"]) {
    auto text = r.string(n["max_body"], "http.max_body").value_or("");
    auto size = parse_size(text);
    if (!size || *size < 1024 || *size > 64 * 1024 * 1024) {
      r.error(n["max_body"], "'http.max_body' must be a size between 1KiB and 64MiB (e.g. 1MiB)");
    } else {
      h.max_body = *size;
    }
  }
  if (n["max_connections"])
    h.max_connections = r.integer(n["max_connections"], "http.max_connections", 1, 100000)
                            .value_or(h.max_connections);
  if (n["timeout"]) {
    h.timeout = r.duration(n["timeout"], "http.timeout").value_or(h.timeout);
    if (h.timeout.count() < 1) r.error(n["timeout"], "'http.timeout' must be at least 1s");
  }
  if (n["token_env"]) h.token_env = r.string(n["token_env"], "http.token_env").value_or("");
  if (n["stripe_secrets_env"])
    h.stripe_secrets_env =
        r.string(n["stripe_secrets_env"], "http.stripe_secrets_env").value_or("");
  if (n["stripe_tolerance"])
    h.stripe_tolerance =
        r.duration(n["stripe_tolerance"], "http.stripe_tolerance").value_or(h.stripe_tolerance);
  if (n["commit_batch"])
    h.commit_batch =
        r.integer(n["commit_batch"], "http.commit_batch", 1, 100000).value_or(h.commit_batch);
  if (n["console"]) load_console(r, n["console"], h.console);
}

void load_outbox(YamlReader& r, const YAML::Node& n, OutboxConfig& o) {
  if (!r.expect_map(n, "'outbox'")) return;
  r.allow_keys(n, {"batch_size", "lease", "retry_base", "retry_max", "give_up_after"}, "'outbox'");
  if (n["batch_size"])
    o.batch_size =
        r.integer(n["batch_size"], "outbox.batch_size", 1, 100000).value_or(o.batch_size);
  if (n["lease"]) o.lease = r.duration(n["lease"], "outbox.lease").value_or(o.lease);
  if (n["retry_base"])
    o.retry_base = r.duration(n["retry_base"], "outbox.retry_base").value_or(o.retry_base);
  if (n["retry_max"])
    o.retry_max = r.duration(n["retry_max"], "outbox.retry_max").value_or(o.retry_max);
  if (n["give_up_after"])
    o.give_up_after =
        r.duration(n["give_up_after"], "outbox.give_up_after").value_or(o.give_up_after);
}

std::optional<int> parse_hhmm(const std::string& s) {
  if (s == "24:00") return 24 * 60;
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  if (!isdigit(s[0]) || !isdigit(s[1]) || !isdigit(s[3]) || !isdigit(s[4])) return std::nullopt;
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::optional<SendWindow> load_window(YamlReader& r, const YAML::Node& n) {
  if (!r.expect_map(n, "'send_window'")) return std::nullopt;
  r.allow_keys(n, {"from", "to", "days"}, "'send_window'");
  SendWindow w;
  bool good = true;
  for (auto [key, target] : {std::pair{"from", &w.from_minute}, std::pair{"to", &w.to_minute}}) {
    if (!n[key]) continue;
    auto s = r.string(n[key], std::string("send_window.") + key);
    auto v = s ? parse_hhmm(*s) : std::nullopt;
    if (!v) {
      if (s)
        r.error(n[key], std::string("'send_window.") + key + "' must be a time like \"09:00\"");
      good = false;
    } else {
      *target = *v;
    }
  }
  if (n["days"]) {
    static const std::map<std::string, int> kDays = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                                     {"thu", 4}, {"fri", 5}, {"sat", 6}};
    w.days.fill(false);
    if (auto days = r.string_list(n["days"], "send_window.days")) {
      for (const auto& d : *days) {
        auto it = kDays.find(d);
        if (it == kDays.end()) {
          r.error(n["days"], "unknown day '" + d + "' in 'send_window.days' (use mon..sun)");
          good = false;
        } else {
          w.days[static_cast<std::size_t>(it->second)] = true;
        }
      }
    }
    if (std::none_of(w.days.begin(), w.days.end(), [](bool b) { return b; })) {
      r.error(n["days"], "'send_window.days' has no day: no message could ever be sent");
      good = false;
    }
  }
  if (good && w.from_minute >= w.to_minute) {
    r.error(n, "'send_window' has no hours: 'from' must be before 'to'");
    good = false;
  }
  return good ? std::optional(w) : std::nullopt;
}

std::optional<Step> load_step(YamlReader& r, const YAML::Node& n, const std::string& where) {
  if (!r.expect_map(n, where)) return std::nullopt;
  r.allow_keys(n, {"at", "email", "sms", "action", "prefer", "unless"}, where);
  Step s;
  s.line = n.Mark().line + 1;
  s.column = n.Mark().column + 1;
  if (!n["at"]) {
    r.error(n, where + " needs 'at' (an offset from the case opening, e.g. 3d)");
    return std::nullopt;
  }
  // Bounded so that no due time derived from a fact can leave the range of ISO 8601 years.
  auto at = r.duration(n["at"], "at", kMaxStepOffset);
  if (!at) return std::nullopt;
  s.at = *at;
  int kinds = (n["email"] ? 1 : 0) + (n["sms"] ? 1 : 0) + (n["action"] ? 1 : 0);
  if (kinds != 1) {
    r.error(n, where + " needs exactly one of 'email', 'sms' or 'action'");
    return std::nullopt;
  }
  if (n["email"] || n["sms"]) {
    s.channel = n["email"] ? Channel::kEmail : Channel::kSms;
    auto name = r.string(n["email"] ? n["email"] : n["sms"], "template");
    if (!name) return std::nullopt;
    s.template_name = *name;
  } else {
    s.channel = Channel::kAction;
    auto a = r.string(n["action"], "action");
    if (!a) return std::nullopt;
    const auto action = parse_action(*a);
    if (!action || *action == Action::kNone) {
      r.error(n["action"],
              "unknown action '" + *a + "' (expected retry, webhook, cancel, pause or mark_lost)");
      return std::nullopt;
    }
    s.action = *action;
  }
  if (n["prefer"]) {
    s.prefer = r.string(n["prefer"], "prefer").value_or("");
    if (s.prefer != "payday")
      r.error(n["prefer"], "unknown 'prefer' value '" + s.prefer + "' (expected payday)");
    if (s.action != Action::kRetry)
      r.error(n["prefer"], "'prefer' applies only to 'action: retry'");
  }
  if (n["unless"]) {
    s.unless = r.string_list(n["unless"], "unless").value_or(std::vector<std::string>{});
    for (const auto& u : s.unless) {
      if (u != "clicked" && u != "card_updated") {
        r.error(n["unless"],
                "unknown 'unless' condition '" + u + "' (expected clicked or card_updated)");
      }
    }
  }
  return s;
}

void load_match(YamlReader& r, const YAML::Node& n, Match& m) {
  if (!r.expect_map(n, "'match'")) return;
  r.allow_keys(n, {"decline", "plans", "currencies", "amount_at_least", "amount_below", "locales"},
               "'match'");
  if (n["decline"]) {
    const auto& d = n["decline"];
    if (d.IsScalar() && (d.Scalar() == "hard" || d.Scalar() == "soft" || d.Scalar() == "any")) {
      m.decline = d.Scalar();
    } else if (d.IsSequence()) {
      m.decline = "codes";
      m.decline_codes = r.string_list(d, "match.decline").value_or(std::vector<std::string>{});
    } else {
      r.error(d, "'match.decline' must be hard, soft, any or a list of decline codes");
    }
  }
  if (n["plans"])
    m.plans = r.string_list(n["plans"], "match.plans").value_or(std::vector<std::string>{});
  if (n["currencies"])
    m.currencies =
        r.string_list(n["currencies"], "match.currencies").value_or(std::vector<std::string>{});
  if (n["locales"])
    m.locales = r.string_list(n["locales"], "match.locales").value_or(std::vector<std::string>{});
  if (n["amount_at_least"])
    m.amount_at_least = r.money(n["amount_at_least"], "match.amount_at_least");
  if (n["amount_below"]) m.amount_below = r.money(n["amount_below"], "match.amount_below");
}

void check_steps(YamlReader& r, const YAML::Node& steps_node, const std::vector<Step>& steps) {
  for (std::size_t i = 1; i < steps.size(); ++i) {
    const Step& prev = steps[i - 1];
    const Step& cur = steps[i];
    const YAML::Node& node = steps_node[i];
    if (cur.at < prev.at) {
      r.error(node, "step at " + format_duration(cur.at) + " comes before the previous step at " +
                        format_duration(prev.at) + ": steps must be in time order");
    } else if (cur.channel != Channel::kAction) {
      // Any earlier step at the same time on the same channel, not only the previous one.
      for (std::size_t j = 0; j < i; ++j) {
        if (steps[j].at == cur.at && steps[j].channel == cur.channel) {
          r.error(node, "step overlaps step #" + std::to_string(j + 1) + ": two " +
                            std::string(to_string(cur.channel)) + " steps at " +
                            format_duration(cur.at));
          break;
        }
      }
    }
    if (prev.is_final()) {
      r.error(node, "step can never run: it follows the final action '" +
                        std::string(to_string(prev.action)) + "'");
    }
  }
}

std::optional<Sequence> load_sequence(YamlReader& r, const YAML::Node& n, std::size_t index) {
  const std::string where = "sequence #" + std::to_string(index + 1);
  if (!r.expect_map(n, where)) return std::nullopt;
  r.allow_keys(n,
               {"id", "trigger", "days_before_expiry", "match", "steps", "stop_on",
                "on_card_updated", "send_window"},
               where);
  Sequence s;
  s.line = n.Mark().line + 1;
  if (n["id"]) {
    s.id = r.string(n["id"], "id").value_or("");
  } else {
    r.error(n, where + " needs an 'id'");
  }
  if (n["trigger"]) {
    auto t = r.string(n["trigger"], "trigger").value_or("");
    if (auto trigger = parse_trigger(t)) {
      s.trigger = *trigger;
    } else {
      r.error(n["trigger"],
              "unknown trigger '" + t + "' (expected payment_failed or card_expiring)");
    }
  } else {
    r.error(n, where + " needs a 'trigger'");
  }
  if (n["days_before_expiry"]) {
    s.days_before_expiry =
        r.integer(n["days_before_expiry"], "days_before_expiry", 1, 366).value_or(30);
  }
  if (n["match"]) load_match(r, n["match"], s.match);
  if (n["send_window"]) s.send_window = load_window(r, n["send_window"]);
  if (!n["steps"] || !n["steps"].IsSequence() || n["steps"].size() == 0) {
    r.error(n["steps"] ? n["steps"] : n, where + " needs a non-empty list of 'steps'");
  } else {
    for (std::size_t i = 0; i < n["steps"].size(); ++i) {
      if (auto step = load_step(r, n["steps"][i], "step #" + std::to_string(i + 1))) {
        s.steps.push_back(*step);
      }
    }
    if (s.steps.size() == n["steps"].size()) check_steps(r, n["steps"], s.steps);
  }
  if (n["on_card_updated"]) {
    const auto& list = n["on_card_updated"];
    if (!list.IsSequence()) {
      r.error(list, "'on_card_updated' must be a list of steps");
    } else {
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (auto step = load_step(r, list[i], "on_card_updated step #" + std::to_string(i + 1))) {
          s.on_card_updated.push_back(*step);
        }
      }
    }
  }
  if (n["stop_on"]) {
    s.stop_on = r.string_list(n["stop_on"], "stop_on").value_or(std::vector<std::string>{});
    for (const auto& c : s.stop_on) {
      if (c != "recovered" && c != "card_updated" && c != "subscription_cancelled" &&
          c != "unreachable") {
        r.error(n["stop_on"],
                "unknown stop condition '" + c +
                    "' (expected recovered, card_updated, subscription_cancelled or unreachable)");
      }
    }
  }
  YAML::Emitter canonical;
  canonical << n;
  s.hash = sha256_hex(canonical.c_str()).substr(0, 16);
  return s;
}

void load_defaults(YamlReader& r, const YAML::Node& n, Defaults& d) {
  if (!r.expect_map(n, "'defaults'")) return;
  r.allow_keys(n,
               {"send_window", "max_messages_per_customer_per_day", "min_hours_between_messages",
                "holdout_percent", "holidays", "paydays", "payday_max_days",
                "max_retries_per_card_per_30_days"},
               "'defaults'");
  if (n["send_window"]) d.send_window = load_window(r, n["send_window"]).value_or(d.send_window);
  if (n["max_messages_per_customer_per_day"]) {
    d.max_messages_per_customer_per_day = r.integer(n["max_messages_per_customer_per_day"],
                                                    "max_messages_per_customer_per_day", 1, 100)
                                              .value_or(d.max_messages_per_customer_per_day);
  }
  if (n["min_hours_between_messages"]) {
    d.min_hours_between_messages =
        r.integer(n["min_hours_between_messages"], "min_hours_between_messages", 0, 24 * 30)
            .value_or(0);
  }
  if (n["holdout_percent"]) {
    d.holdout_percent = r.integer(n["holdout_percent"], "holdout_percent", 0, 100).value_or(0);
  }
  if (n["holidays"]) {
    const auto& list = n["holidays"];
    if (!list.IsSequence()) {
      r.error(list, "'holidays' must be a list of dates like 2026-12-25");
    } else {
      for (const auto& item : list) {
        auto text = item.IsScalar() ? item.Scalar() : std::string();
        auto t = text.size() == 10 ? parse_iso8601(text) : std::nullopt;
        if (!t) {
          r.error(item, "holiday '" + text + "' must be a date like 2026-12-25");
          continue;
        }
        d.holidays.push_back(std::chrono::floor<std::chrono::days>(*t));
      }
    }
  }
  if (n["paydays"]) {
    d.paydays.clear();
    const auto& list = n["paydays"];
    if (!list.IsSequence() || list.size() == 0) {
      r.error(list, "'paydays' must be a non-empty list of days of the month (1..31)");
    } else {
      for (const auto& item : list) {
        if (auto v = r.integer(item, "paydays", 1, 31)) d.paydays.push_back(*v);
      }
    }
  }
  if (n["payday_max_days"]) {
    d.payday_max_days =
        r.integer(n["payday_max_days"], "payday_max_days", 0, 31).value_or(d.payday_max_days);
  }
  if (n["max_retries_per_card_per_30_days"]) {
    // Visa allows 20 attempts per card in 30 days; the cap may only be stricter.
    d.max_retries_per_card_per_30_days =
        r.integer(n["max_retries_per_card_per_30_days"], "max_retries_per_card_per_30_days", 1, 20)
            .value_or(d.max_retries_per_card_per_30_days);
  }
}

}  // namespace

Loaded<DaemonConfig> load_daemon_config(const fs::path& file) {
  YamlReader r(file.string());
  DaemonConfig c;
  c.file = file;
  c.database = resolve(file, "dunningd.db");
  c.sequences = resolve(file, "sequences.yaml");
  c.templates = "/usr/share/dunningd/templates";
  YAML::Node root = r.load_file();
  if (!root.IsDefined() || root.IsNull()) {
    if (r.errors().empty()) r.errors().push_back({file.string(), 0, 0, "the file is empty"});
    return {c, std::move(r.errors())};
  }
  if (!r.expect_map(root, "the daemon config")) return {c, std::move(r.errors())};
  r.allow_keys(
      root,
      {"database", "database_password_env", "sequences", "templates", "default_locale",
       "default_time_zone", "poll_interval", "log_level", "log_format", "log_customer_emails",
       "company", "smtp", "outbox", "declines", "http", "links", "sms", "webhooks", "billing"},
      "the daemon config");
  if (root["database"]) {
    const std::string db = r.string(root["database"], "database").value_or("");
    // A PostgreSQL URI is not a path: it stays as written.
    const bool uri = db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
    c.database = uri ? fs::path(db) : resolve(file, db);
  }
  if (root["database_password_env"]) {
    c.database_password_env =
        r.string(root["database_password_env"], "database_password_env").value_or("");
  }
  if (root["sequences"])
    c.sequences = resolve(file, r.string(root["sequences"], "sequences").value_or(""));
  if (root["templates"])
    c.templates = resolve(file, r.string(root["templates"], "templates").value_or(""));
  if (root["default_locale"])
    c.default_locale = r.string(root["default_locale"], "default_locale").value_or("en");
  if (root["default_time_zone"]) {
    c.default_time_zone = r.string(root["default_time_zone"], "default_time_zone").value_or("UTC");
    // An unknown zone would silently become UTC wherever it is used: refuse it here.
    try {
      (void)date::locate_zone(c.default_time_zone);
    } catch (const std::exception&) {
      r.error(root["default_time_zone"],
              "unknown default_time_zone '" + c.default_time_zone +
                  "' (an IANA time zone name like Europe/Zagreb, see /usr/share/zoneinfo)");
    }
  }
  if (root["poll_interval"])
    c.poll_interval = r.duration(root["poll_interval"], "poll_interval").value_or(c.poll_interval);
  if (c.poll_interval.count() < 1)
    r.error(root["poll_interval"], "'poll_interval' must be at least 1s");
  if (root["log_level"]) {
    c.log_level = r.string(root["log_level"], "log_level").value_or("info");
    static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                  "error", "critical", "off"};
    if (!kLevels.count(c.log_level))
      r.error(root["log_level"], "unknown log_level '" + c.log_level + "'");
  }
  if (root["log_format"]) {
    c.log_format = r.string(root["log_format"], "log_format").value_or("text");
    if (c.log_format != "text" && c.log_format != "json")
      r.error(root["log_format"], "unknown log_format '" + c.log_format + "' (text or json)");
  }
  if (root["log_customer_emails"]) {
    c.log_customer_emails = r.boolean(root["log_customer_emails"], "log_customer_emails")
                                .value_or(c.log_customer_emails);
  }
  if (root["company"]) load_company(r, root["company"], c.company);
  if (root["smtp"]) {
    load_smtp(r, root["smtp"], c.smtp);
  } else {
    r.error(root, "the daemon config needs an 'smtp' section with 'url' and 'from'");
  }
  if (root["outbox"]) load_outbox(r, root["outbox"], c.outbox);
  if (root["http"]) load_http(r, root["http"], c.http);
  if (root["links"]) load_links(r, root["links"], c.links);
  if (root["sms"]) load_sms(r, root["sms"], c.sms);
  if (root["webhooks"]) load_webhooks(r, root["webhooks"], c.webhooks);
  if (root["billing"]) load_billing(r, root["billing"], c.billing);
  if (root["declines"] && r.expect_map(root["declines"], "'declines'")) {
    for (const auto& kv : root["declines"]) {
      auto v = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (v == "hard") {
        c.declines[kv.first.Scalar()] = DeclineClass::kHard;
      } else if (v == "soft") {
        c.declines[kv.first.Scalar()] = DeclineClass::kSoft;
      } else {
        r.error(kv.second, "decline code '" + kv.first.Scalar() + "' must be hard or soft");
      }
    }
  }
  return {c, std::move(r.errors())};
}

Loaded<Sequences> load_sequences(const fs::path& file) {
  YamlReader r(file.string());
  Sequences out;
  out.file = file;
  YAML::Node root = r.load_file();
  if (!root.IsDefined() || root.IsNull()) {
    if (r.errors().empty()) r.errors().push_back({file.string(), 0, 0, "the file is empty"});
    return {out, std::move(r.errors())};
  }
  if (!r.expect_map(root, "the sequences file")) return {out, std::move(r.errors())};
  r.allow_keys(root, {"sequences", "defaults"}, "the sequences file");
  if (root["defaults"]) load_defaults(r, root["defaults"], out.defaults);
  const auto& list = root["sequences"];
  if (!list || !list.IsSequence() || list.size() == 0) {
    r.error(list ? list : root, "'sequences' must be a non-empty list");
    return {out, std::move(r.errors())};
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto s = load_sequence(r, list[i], i);
    if (!s) continue;
    if (!s->id.empty() && !ids.insert(s->id).second) {
      r.error(list[i]["id"], "duplicate sequence id '" + s->id + "'");
    }
    out.sequences.push_back(std::move(*s));
  }
  return {out, std::move(r.errors())};
}

std::vector<ConfigError> missing_templates(const Sequences& seqs, const DaemonConfig& daemon) {
  // Every referenced template must exist at least in the default locale.
  std::vector<ConfigError> out;
  const auto& tdir = daemon.templates;
  for (const auto& s : seqs.sequences) {
    auto check = [&](const Step& step) {
      if (step.channel == Channel::kAction) return;
      fs::path p = tdir / daemon.default_locale / (step.template_name + ".yaml");
      if (!fs::exists(p)) {
        out.push_back({seqs.file.string(), step.line, step.column,
                       "sequence '" + s.id + "' uses unknown template '" + step.template_name +
                           "' (no " + p.string() + ")"});
      }
    };
    for (const auto& step : s.steps) check(step);
    for (const auto& step : s.on_card_updated) check(step);
  }
  return out;
}

Loaded<Config> load_config(const fs::path& file,
                           const std::optional<fs::path>& templates_override) {
  Loaded<Config> out;
  auto daemon = load_daemon_config(file);
  if (templates_override) daemon.value.templates = *templates_override;
  out.value.daemon = daemon.value;
  out.errors = daemon.errors;
  if (!daemon.ok()) return out;
  auto seqs = load_sequences(daemon.value.sequences);
  out.value.sequences = seqs.value;
  out.errors.insert(out.errors.end(), seqs.errors.begin(), seqs.errors.end());
  if (!seqs.ok()) return out;

  auto missing = missing_templates(seqs.value, daemon.value);
  out.errors.insert(out.errors.end(), missing.begin(), missing.end());
  return out;
}

}  // namespace dunning::config
