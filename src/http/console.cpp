#include "dunning/http/console.hpp"

#include <date/date.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/process.hpp>
#include <boost/process/handles.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <kainjow/mustache.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "dunning/cases/lifecycle.hpp"
#include "dunning/cases/plan.hpp"
#include "dunning/config/secrets.hpp"
#include "dunning/core/crypto.hpp"
#include "dunning/core/integers.hpp"
#include "dunning/http/console_auth.hpp"
#include "dunning/ledger/export.hpp"
#include "dunning/ledger/summary.hpp"
#include "dunning/rules/plan.hpp"
#include "dunning/rules/rules.hpp"
#include "http/console_assets.hpp"
#include "http/health.hpp"
#include "http/timeline.hpp"

namespace dunning::http {

namespace bhttp = boost::beast::http;
namespace fs = std::filesystem;
namespace assets = console_assets;
using console::Role;
using console::Session;
using nlohmann::json;

namespace {

constexpr std::string_view kLoginCookie = "dunningd_login";
// Every console page: no caching, no framing, scripts and styles only from the daemon itself.
constexpr const char* kPageCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

// ---- rendering

kainjow::mustache::data to_data(const json& j) {
  using kainjow::mustache::data;
  if (j.is_object()) {
    data d{data::type::object};
    for (const auto& [k, v] : j.items()) d.set(k, to_data(v));
    return d;
  }
  if (j.is_array()) {
    data d{data::type::list};
    for (const auto& v : j) d.push_back(to_data(v));
    return d;
  }
  // Absent and empty values are false: {{#x}}…{{/x}} shows only what is there.
  if (j.is_null()) return data{false};
  if (j.is_boolean()) return data{j.get<bool>()};
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    return s.empty() ? data{false} : data{s};
  }
  return data{j.dump()};
}

// The uplift of a report in one sentence: both groups' recoveries, the difference with its 95%
// interval, or why there is none yet.
std::string uplift_text(const ledger::Uplift& up) {
  auto side = [](const ledger::UpliftSide& s) {
    return s.recovered == 0 && s.cases == 0
               ? std::string("no cases")
               : std::to_string(s.recovered) + " of " + std::to_string(s.cases) + " recovered";
  };
  std::string text = "Contacted: " + side(up.contacted) + "; holdout: " + side(up.holdout) + ". ";
  if (const auto& d = up.difference) {
    text +=
        fmt::format("Difference {:+.1f} percentage points (95% interval {:+.1f} to {:+.1f}), {}.",
                    d->difference * 100, d->ci95.low * 100, d->ci95.high * 100,
                    d->significant ? "significant" : "not significant");
  } else {
    text += "No uplift yet: " + (up.note.empty() ? std::string("not enough cases") : up.note) + ".";
  }
  return text;
}

// One table row per step of every sequence's funnel.
json funnel_rows(const ledger::Report& report) {
  json rows = json::array();
  for (const auto& [seq, f] : report.funnel) {
    for (const auto& step : f.steps) {
      rows.push_back({{"sequence", seq},
                      {"step", std::to_string(step.step)},
                      {"channel", step.channel},
                      {"template", step.template_name},
                      {"reached", std::to_string(step.reached)},
                      {"after", std::to_string(step.recovered_after)}});
    }
  }
  return rows;
}

// The report's SVG charts (drawn and escaped by the ledger's renderer), for {{{charts}}}.
std::string charts_html(const ledger::Report& report) {
  std::ostringstream out;
  ledger::write_report_charts(report, out);
  return out.str();
}

std::string render(std::string_view tpl, const json& values) {
  kainjow::mustache::mustache m{std::string(tpl)};
  if (!m.is_valid()) throw std::logic_error("console template: " + m.error_message());
  return m.render(to_data(values));
}

void security_headers(Response& res, const char* csp = kPageCsp) {
  res.set(bhttp::field::server, "dunningd");
  res.set(bhttp::field::cache_control, "no-store");
  res.set("Content-Security-Policy", csp);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("X-Frame-Options", "DENY");
  res.set("Referrer-Policy", "same-origin");
}

Response html_response(unsigned status, std::string body) {
  Response res{static_cast<bhttp::status>(status), 11};
  security_headers(res);
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response download(std::string body, const std::string& type, const std::string& filename,
                  const char* csp = kPageCsp) {
  Response res{bhttp::status::ok, 11};
  security_headers(res, csp);
  res.set(bhttp::field::content_type, type);
  res.set(bhttp::field::content_disposition, "attachment; filename=\"" + filename + "\"");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response see_other(const std::string& location) {
  Response res{bhttp::status::see_other, 11};
  security_headers(res);
  res.set(bhttp::field::location, location);
  res.prepare_payload();
  return res;
}

std::string pct(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// "?a=1&b=2" of the non-empty pairs, or "".
std::string query(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string q;
  for (const auto& [k, v] : pairs) {
    if (v.empty()) continue;
    q += (q.empty() ? "?" : "&") + k + "=" + pct(v);
  }
  return q;
}

std::string iso(TimePoint t) { return format_iso8601(t); }
json opt_iso(const std::optional<TimePoint>& t) { return t ? json(iso(*t)) : json(); }

std::string local_time(TimePoint t, const date::time_zone* zone) {
  if (zone == nullptr) return iso(t);
  return date::format("%Y-%m-%d %H:%M %Z", date::make_zoned(zone, t));
}

std::string money_text(std::int64_t minor, const std::string& currency) {
  return Money(minor, currency).to_string();
}

// ---- the finance report's figures on the report page

// A rate as the page shows it: in percent, one decimal.
std::string rate_text(const std::optional<double>& rate) {
  if (!rate) return "—";
  return fmt::format("{:.1f}%", *rate * 100.0);
}

// One row of cells per currency of the totals: cases, every amount, the rate and the median.
json totals_rows(const ledger::GroupFigures& totals) {
  struct Amount {
    const char* key;
    const Money* money;
    std::optional<std::int64_t> count;  // none for the failed amount and net recovered
  };
  json rows = json::array();
  for (const auto& [cur, s] : totals.currencies) {
    auto counted = [](const char* key, const ledger::CountedMoney& c) {
      return Amount{key, &c.money, c.count};
    };
    const Amount amounts[] = {{"amount", &s.failed, std::nullopt},
                              counted("recovered", s.recovered),
                              counted("recovered_without_contact", s.recovered_without_contact),
                              counted("partial", s.partial),
                              counted("late", s.late),
                              counted("refunded", s.refunded),
                              {"net_recovered", &s.net_recovered, std::nullopt},
                              counted("lost", s.lost),
                              counted("cancelled", s.cancelled),
                              counted("open", s.open)};
    const std::string base = "/totals/currencies/" + cur + "/";
    const std::string cases = std::to_string(s.cases);
    json cells = json::array();
    cells.push_back({{"key", base + "cases"}, {"value", cases}, {"text", cases}});
    for (const Amount& a : amounts) {
      std::string text = a.money->to_string();
      if (a.count) text += " (" + std::to_string(*a.count) + ")";
      cells.push_back({{"key", base + a.key + "/amount_minor"},
                       {"value", std::to_string(a.money->minor())},
                       {"text", text}});
    }
    // data-value: the figure's text in the json report
    cells.push_back({{"key", base + "recovery_rate"},
                     {"value", ledger::json_text(ledger::figure(s.recovery_rate))},
                     {"text", rate_text(s.recovery_rate)}});
    const std::string median = ledger::json_text(ledger::figure(s.median_days_to_recover));
    cells.push_back({{"key", base + "median_days_to_recover"},
                     {"value", median},
                     {"text", s.median_days_to_recover ? median : "—"}});
    rows.push_back({{"currency", cur}, {"cells", cells}});
  }
  return rows;
}

// One row per currency of every group: cases, recovered, lost and the rate.
json group_rows(const std::map<std::string, ledger::GroupFigures>& groups) {
  json rows = json::array();
  for (const auto& [g, gs] : groups) {
    for (const auto& [cur, s] : gs.currencies) {
      rows.push_back({{"group", g},
                      {"currency", cur},
                      {"key", "/groups/" + g + "/currencies/" + cur},
                      {"cases", std::to_string(s.cases)},
                      {"recovered", s.recovered_total.money.to_string()},
                      {"lost", s.lost.money.to_string()},
                      {"rate", rate_text(s.recovery_rate)}});
    }
  }
  return rows;
}

std::string offset_text(Seconds at) {
  const auto days = at.count() / 86400, hours = (at.count() % 86400) / 3600,
             minutes = (at.count() % 3600) / 60;
  std::string out;
  if (days) out += std::to_string(days) + "d";
  if (hours) out += (out.empty() ? "" : " ") + std::to_string(hours) + "h";
  if (minutes) out += (out.empty() ? "" : " ") + std::to_string(minutes) + "min";
  return out.empty() ? "0h" : out;
}

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// A period bound from a form: "YYYY-MM-DD" (midnight UTC) or a full ISO 8601 time.
struct PeriodInput {
  std::optional<TimePoint> from, to;
  std::string from_text, to_text;
  std::string error;
};

PeriodInput read_period(const boost::urls::url_view& url) {
  PeriodInput p;
  for (auto kv : url.params()) {
    if (kv.key != "from" && kv.key != "to") continue;
    if (kv.value.empty()) continue;
    auto t = parse_iso8601(kv.value);
    if (!t) {
      p.error = "'" + kv.key + "' must be a date (YYYY-MM-DD) or an ISO 8601 time";
      continue;
    }
    (kv.key == "from" ? p.from : p.to) = t;
    (kv.key == "from" ? p.from_text : p.to_text) = kv.value;
  }
  if (p.from && p.to && *p.from >= *p.to) p.error = "'from' must be before 'to'";
  return p;
}

std::string text_of(boost::beast::string_view v) { return std::string(v.data(), v.size()); }

std::string path_of(const boost::urls::url_view& url) {
  const auto p = url.encoded_path();
  return std::string(p.data(), p.size());
}

std::string param(const boost::urls::url_view& url, std::string_view key) {
  for (auto p : url.params()) {
    if (p.key == key) return p.value;
  }
  return "";
}

}  // namespace

struct Console::Impl : std::enable_shared_from_this<Console::Impl> {
  Impl(ConfigSnapshot c, const Clock& cl, Metrics& m, OnDb db)
      : config(std::move(c)),
        clock(cl),
        metrics(m),
        on_db(std::move(db)),
        settings(config()->daemon.http.console),
        sessions(settings.session_ttl, settings.idle_timeout),
        throttle(settings.login_attempts, settings.login_window) {
    admin_password = config::read_secret(settings.admin_password_env).value_or("");
    finance_password = config::read_secret(settings.finance_password_env).value_or("");
    enabled = settings.enabled && (!admin_password.empty() || !finance_password.empty());
    // Which roles can sign in; a console nobody can open was reported by missing_secrets.
    if (enabled) {
      spdlog::info("console: /ui/ open for {}{}{}", admin_password.empty() ? "" : "admin",
                   admin_password.empty() || finance_password.empty() ? "" : " and ",
                   finance_password.empty() ? "" : "finance");
    }
  }

  ConfigSnapshot config;
  const Clock& clock;
  Metrics& metrics;
  OnDb on_db;
  config::ConsoleConfig settings;
  console::Sessions sessions;
  console::LoginThrottle throttle;
  std::string admin_password, finance_password;
  bool enabled = false;
  std::atomic<bool> previewing{false};  // one sequence preview at a time
  // The overview's report of this month, rebuilt at most once a minute. Only the database
  // worker (one thread) reads or writes it.
  struct MonthReport {
    TimePoint built;
    TimePoint month_start;
    ledger::Report report;
  } month_report;

  // ---- request context
  struct Ctx {
    std::string target;
    std::string peer;
    bool secure = false;
    std::optional<Session> session;
  };

  bool secure_request(const Request& req) const {
    switch (settings.secure_cookie) {
      case config::SecureCookie::kAlways:
        return true;
      case config::SecureCookie::kNever:
        return false;
      case config::SecureCookie::kAuto:
        break;
    }
    auto it = req.find("X-Forwarded-Proto");
    return it != req.end() && beast_iequals(it->value(), "https");
  }

  static bool beast_iequals(boost::beast::string_view a, std::string_view b) {
    return boost::beast::iequals(a, boost::beast::string_view(b.data(), b.size()));
  }

  std::optional<std::string> cookie(const Request& req, std::string_view name) const {
    auto it = req.find(bhttp::field::cookie);
    if (it == req.end()) return std::nullopt;
    return console::cookie_value(std::string_view(it->value().data(), it->value().size()), name);
  }

  // The whole page around `body`.
  std::string page(const Ctx& ctx, const std::string& title, const std::string& nav,
                   const std::string& body, const std::string& flash = "",
                   const std::string& error = "") const {
    json v{{"title", title}, {"body", body}, {"flash", flash}, {"error", error}};
    if (ctx.session) {
      v["signed_in"] = true;
      v["csrf"] = ctx.session->csrf;
      v["role"] = std::string(console::to_string(ctx.session->role));
      v["nav_" + nav] = true;
    }
    return render(assets::kLayout, v);
  }

  Response message(const Ctx& ctx, unsigned status, const std::string& title,
                   const std::string& text, const std::string& back = "/ui/",
                   const std::string& back_label = "Back to the overview") const {
    return html_response(
        status, page(ctx, title, "",
                     render(assets::kMessage,
                            {{"message", text}, {"back", back}, {"back_label", back_label}})));
  }

  void handle(Request&& req, Respond respond);
  void login_page(const Ctx& ctx, const std::string& next, const std::string& error,
                  unsigned status, const std::string& flash, Respond respond);
  void login(Request&& req, Ctx ctx, Respond respond);
  void overview(const Ctx& ctx, Respond respond);
  void case_list(const Ctx& ctx, const boost::urls::url_view& url, Respond respond);
  void case_page(const Ctx& ctx, std::int64_t id, const std::string& flash, Respond respond);
  void case_action(const Ctx& ctx, std::int64_t id, cases::AdminAction action, Respond respond);
  void report(const Ctx& ctx, const boost::urls::url_view& url, const std::string& format,
              Respond respond);
  void ledger(const Ctx& ctx, const boost::urls::url_view& url, const std::string& format,
              Respond respond);
  void sequences(const Ctx& ctx, const std::string& yaml, bool checked, Respond respond,
                 json preview = nullptr);
  void preview(const Ctx& ctx, const std::string& yaml, const std::string& from,
               const std::string& to, Respond respond);
};

Console::Console(ConfigSnapshot config, const Clock& clock, Metrics& metrics, OnDb on_db)
    : impl_(std::make_shared<Impl>(std::move(config), clock, metrics, std::move(on_db))) {}

Console::~Console() = default;

bool Console::owns(std::string_view path) {
  return path == "/ui" || path.rfind("/ui/", 0) == 0 || path.rfind("/ui?", 0) == 0;
}

void Console::handle(Request&& req, Respond respond) {
  impl_->handle(std::move(req), std::move(respond));
}

void Console::Impl::handle(Request&& req, Respond respond) {
  Ctx ctx;
  ctx.target = std::string(req.target().data(), req.target().size());
  auto peer = req.find(kPeerField);
  ctx.peer = peer == req.end() ? "unknown" : text_of(peer->value());
  ctx.secure = secure_request(req);
  auto parsed = boost::urls::parse_origin_form(ctx.target);
  if (!parsed) return respond(message(ctx, 400, "Bad request", "This address is not valid."));
  const boost::urls::url_view url = *parsed;
  if (!enabled) {
    return respond(html_response(
        404, page(ctx, "Console off", "",
                  render(assets::kMessage,
                         {{"message",
                           "The console is not configured: set the admin or finance password "
                           "(http.console.admin_password_env / finance_password_env)."}}))));
  }
  std::vector<std::string> seg;
  for (auto s : url.segments()) {
    if (seg.size() > 4) break;
    seg.push_back(s);
  }
  if (!seg.empty() && seg.back().empty()) seg.pop_back();  // "/ui/" is "/ui"
  const auto method = req.method();
  const bool get = method == bhttp::verb::get;
  const bool post = method == bhttp::verb::post;
  if (!get && !post) return respond(message(ctx, 405, "Method not allowed", "Use GET or POST."));

  // Assets need no session (the sign-in page uses them).
  if (seg.size() == 3 && seg[1] == "static" && get) {
    const bool css = seg[2] == "console.css", js = seg[2] == "console.js";
    if (css || js) {
      Response res{bhttp::status::ok, 11};
      security_headers(res);
      res.set(bhttp::field::cache_control, "no-cache");
      res.set(bhttp::field::content_type,
              css ? "text/css; charset=utf-8" : "text/javascript; charset=utf-8");
      res.body() = std::string(css ? assets::kCss : assets::kJs);
      res.prepare_payload();
      return respond(std::move(res));
    }
  }

  if (auto id = cookie(req, console::kSessionCookie)) ctx.session = sessions.find(*id, clock.now());

  if (seg.size() == 2 && seg[1] == "login") {
    if (post) return login(std::move(req), std::move(ctx), std::move(respond));
    if (ctx.session) return respond(see_other("/ui/"));
    return login_page(ctx, param(url, "next"), "", 200,
                      param(url, "signed_out").empty() ? "" : "You are signed out.",
                      std::move(respond));
  }
  if (!ctx.session) return respond(see_other("/ui/login?next=" + pct(ctx.target)));

  // Every state-changing request carries the session's CSRF token in its form.
  console::Form form;
  if (post) {
    auto type = req.find(bhttp::field::content_type);
    const bool urlencoded =
        type != req.end() && std::string_view(type->value().data(), type->value().size())
                                     .rfind("application/x-www-form-urlencoded", 0) == 0;
    auto f = urlencoded ? console::parse_form(req.body()) : std::nullopt;
    auto token = f ? f->find("csrf") : console::Form::iterator{};
    if (!f || token == f->end() || !console::csrf_matches(*ctx.session, token->second)) {
      spdlog::warn("console: POST {} from {} refused: missing or wrong CSRF token", path_of(url),
                   ctx.peer);
      return respond(message(ctx, 403, "Refused",
                             "This form has expired or did not come from this console. Reload "
                             "the page and try again."));
    }
    form = std::move(*f);
  }
  const bool admin = ctx.session->role == Role::kAdmin;
  auto admins_only = [&] {
    spdlog::warn("console: {} session tried POST {} from {}: admins only",
                 console::to_string(ctx.session->role), path_of(url), ctx.peer);
    respond(message(ctx, 403, "Not allowed",
                    "Only an admin may do this; the finance role reads and changes nothing."));
  };

  if (seg.size() == 1) {
    if (!get) return respond(message(ctx, 405, "Method not allowed", "Use GET."));
    return overview(ctx, std::move(respond));
  }
  const std::string& page_name = seg[1];
  if (seg.size() == 2 && page_name == "logout" && post) {
    sessions.remove(cookie(req, console::kSessionCookie).value_or(""));
    spdlog::info("console: {} signed out from {}", console::to_string(ctx.session->role), ctx.peer);
    auto res = see_other("/ui/login?signed_out=1");
    res.set(bhttp::field::set_cookie, console::clearing_cookie(ctx.secure));
    return respond(std::move(res));
  }
  if (page_name == "cases") {
    if (seg.size() == 2 && get) return case_list(ctx, url, std::move(respond));
    // A case id: a whole number from 1 up, nothing else (no sign, space or suffix).
    const std::int64_t id = seg.size() >= 3 ? parse_integer(seg[2], 1).value_or(0) : 0;
    if (id > 0 && seg.size() == 3 && get) {
      const auto done = param(url, "done");
      std::string flash;
      if (done == "pause") flash = "The case is paused: nothing is sent until it is resumed.";
      if (done == "resume") flash = "The case is resumed.";
      if (done == "close") flash = "The case is closed as cancelled.";
      return case_page(ctx, id, flash, std::move(respond));
    }
    if (id > 0 && seg.size() == 4 && post) {
      auto action = cases::parse_admin_action(seg[3]);
      if (action) {
        if (!admin) return admins_only();
        return case_action(ctx, id, *action, std::move(respond));
      }
    }
  }
  if (seg.size() == 2 && get) {
    if (page_name == "report") return report(ctx, url, "page", std::move(respond));
    if (page_name == "report.csv") return report(ctx, url, "csv", std::move(respond));
    if (page_name == "report.json") return report(ctx, url, "json", std::move(respond));
    if (page_name == "report.html") return report(ctx, url, "html", std::move(respond));
    if (page_name == "ledger") return ledger(ctx, url, "page", std::move(respond));
    if (page_name == "ledger.csv") return ledger(ctx, url, "csv", std::move(respond));
    if (page_name == "ledger.json") return ledger(ctx, url, "json", std::move(respond));
    if (page_name == "sequences") return sequences(ctx, "", false, std::move(respond));
  }
  if (seg.size() == 3 && page_name == "sequences" && seg[2] == "check" && post) {
    if (!admin) return admins_only();
    auto yaml = form.find("yaml");
    return sequences(ctx, yaml == form.end() ? "" : yaml->second, true, std::move(respond));
  }
  if (seg.size() == 3 && page_name == "sequences" && seg[2] == "preview" && post) {
    if (!admin) return admins_only();
    auto field = [&](const char* name) {
      auto it = form.find(name);
      return it == form.end() ? std::string() : it->second;
    };
    return preview(ctx, field("yaml"), field("from"), field("to"), std::move(respond));
  }
  respond(message(ctx, 404, "Not found", "There is no such page in the console."));
}

// ---- sign-in

void Console::Impl::login_page(const Ctx& ctx, const std::string& next, const std::string& error,
                               unsigned status, const std::string& flash, Respond respond) {
  // The sign-in form's own CSRF token (double submit): a cookie and the same value in the form,
  // so another site cannot sign a browser in under its own credentials.
  const std::string token = random_hex(16);
  auto res = html_response(
      status, page(ctx, "Sign in", "",
                   render(assets::kLogin, {{"login_csrf", token}, {"next", next}}), flash, error));
  res.set(bhttp::field::set_cookie, std::string(kLoginCookie) + "=" + token +
                                        "; Path=/ui; Max-Age=3600; HttpOnly; SameSite=Strict" +
                                        (ctx.secure ? "; Secure" : ""));
  respond(std::move(res));
}

void Console::Impl::login(Request&& req, Ctx ctx, Respond respond) {
  const auto now = clock.now();
  if (auto wait = throttle.blocked_for(ctx.peer, now); wait.count() > 0) {
    spdlog::warn("console: sign-in from {} refused: too many failed attempts (retry in {}s)",
                 ctx.peer, wait.count());
    auto res = message(ctx, 429, "Too many failed sign-ins",
                       "Too many failed sign-ins from this address. Try again in " +
                           std::to_string(wait.count()) + " seconds.",
                       "/ui/login", "Back to sign-in");
    res.set(bhttp::field::retry_after, std::to_string(wait.count()));
    return respond(std::move(res));
  }
  auto form = console::parse_form(req.body());
  auto field = [&](const char* name) -> std::string {
    if (!form) return "";
    auto it = form->find(name);
    return it == form->end() ? "" : it->second;
  };
  const auto login_cookie = cookie(req, kLoginCookie);
  if (!form || !login_cookie || login_cookie->empty() ||
      !constant_time_equal(sha256_hex(*login_cookie), sha256_hex(field("csrf")))) {
    spdlog::warn("console: sign-in from {} refused: missing or wrong CSRF token", ctx.peer);
    return login_page(ctx, field("next"), "The sign-in form expired. Please try again.", 403, "",
                      std::move(respond));
  }
  const std::string user = field("user");
  auto role = console::check_credentials(user, field("password"), admin_password, finance_password);
  // The user name is logged only when it is one of the two roles; never the password.
  const std::string who = (user == "admin" || user == "finance") ? user : "(unknown user)";
  if (!role) {
    throttle.failed(ctx.peer, now);
    spdlog::warn("console: failed sign-in as {} from {}", who, ctx.peer);
    return login_page(ctx, field("next"), "Wrong user or password.", 401, "", std::move(respond));
  }
  throttle.succeeded(ctx.peer);
  auto s = sessions.create(*role, now);
  spdlog::info("console: {} signed in from {}", console::to_string(*role), ctx.peer);
  // Only a path of this console: never an open redirect.
  std::string next = field("next");
  if (next.rfind("/ui", 0) != 0 || next.find("//") != std::string::npos ||
      next.find('\\') != std::string::npos || next.rfind("/ui/login", 0) == 0) {
    next = "/ui/";
  }
  auto res = see_other(next);
  res.insert(bhttp::field::set_cookie,
             console::session_cookie(s.id, settings.session_ttl, ctx.secure));
  res.insert(bhttp::field::set_cookie, std::string(kLoginCookie) +
                                           "=; Path=/ui; Max-Age=0; HttpOnly; SameSite=Strict" +
                                           (ctx.secure ? "; Secure" : ""));
  respond(std::move(res));
}

// ---- overview

void Console::Impl::overview(const Ctx& ctx, Respond respond) {
  const auto now = clock.now();
  const auto cfg = config();
  const auto last_tick = metrics.last_tick();
  const auto failures = metrics.poll_failures();
  on_db(std::move(respond), [self = shared_from_this(), ctx, now, cfg, last_tick,
                             failures](store::Engine& st) {
    json v;
    const Health health = check_health(st, now, cfg->daemon.poll_interval, last_tick, failures);
    std::int64_t depth = 0;
    for (const auto& c : st.reports().outbox_by_channel_state()) {
      if (c.b == to_string(store::OutboxState::kPending)) depth += c.n;
    }
    v["health_status"] = std::string(health.status());  // the verdict of /healthz
    v["health_last_tick"] =
        last_tick ? std::to_string((now - *last_tick).count()) + " s ago" : "no poll yet";
    v["health_outbox_depth"] = std::to_string(depth);
    v["health_poll_error"] = failures.last_error;
    v["paused_channels"] = paused_channels_json(health.paused);
    v["has_paused_channels"] = !health.paused.empty();
    std::map<std::string, std::int64_t> states;
    for (auto s : {"open", "paused", "recovered", "lost", "cancelled"}) states[s] = 0;
    for (const auto& c : st.reports().cases_by_state()) states[c.a] = c.n;
    json rows = json::array();
    for (auto s : {"open", "paused", "recovered", "lost", "cancelled"}) {
      rows.push_back({{"state", s}, {"n", std::to_string(states[s])}});
    }
    v["states"] = rows;
    v["open_cases"] = std::to_string(states["open"] + states["paused"]);
    v["paused_cases"] = std::to_string(states["paused"]);

    // This calendar month (UTC), from the ledger: money that moved, per kind and currency.
    const date::year_month_day ymd{std::chrono::floor<date::days>(now)};
    const TimePoint month_start{date::sys_days{ymd.year() / ymd.month() / 1}};
    std::map<std::string, std::map<store::LedgerKind, std::pair<std::int64_t, std::int64_t>>> month;
    st.ledger().for_each(month_start, std::nullopt, [&](const store::LedgerEntry& e) {
      auto& cell = month[e.amount.currency()][e.kind];
      ++cell.first;
      cell.second += e.amount.minor();
    });
    json month_rows = json::array();
    for (auto& [cur, kinds] : month) {
      auto cell = [&, &kinds = kinds, &cur = cur](store::LedgerKind kind) {
        auto it = kinds.find(kind);
        if (it == kinds.end()) return money_text(0, cur);
        return money_text(it->second.second, cur) + " (" + std::to_string(it->second.first) + ")";
      };
      month_rows.push_back({{"currency", cur},
                            {"recovered", cell(store::LedgerKind::kRecovered)},
                            {"without_contact", cell(store::LedgerKind::kRecoveredWithoutContact)},
                            {"lost", cell(store::LedgerKind::kLost)},
                            {"cancelled", cell(store::LedgerKind::kCancelled)},
                            {"correction", cell(store::LedgerKind::kCorrection)}});
    }
    v["month_rows"] = month_rows;
    v["has_month"] = !month_rows.empty();
    v["month"] = date::format("%Y-%m", ymd);
    v["month_start"] = iso(month_start);
    v["month_first_day"] = date::format("%F", date::sys_days{ymd.year() / ymd.month() / 1});
    // The funnel and uplift of the cases opened this month: the report reads every case of the
    // month, so the overview reuses one built less than a minute ago (same month).
    auto& cached = self->month_report;
    if (cached.built == TimePoint{} || cached.month_start != month_start ||
        now - cached.built >= std::chrono::minutes(1) || now < cached.built) {
      ledger::ReportOptions ro;
      ro.from = month_start;
      ro.as_of = now;
      cached.report = ledger::build_report(st.reports(), ro);
      cached.built = now;
      cached.month_start = month_start;
    }
    v["month_uplift"] = uplift_text(cached.report.uplift);
    v["month_funnel"] = funnel_rows(cached.report);
    v["month_report_as_of"] = iso(cached.built);
    return html_response(200,
                         self->page(ctx, "Overview", "overview", render(assets::kOverview, v)));
  });
}

// ---- cases

void Console::Impl::case_list(const Ctx& ctx, const boost::urls::url_view& url, Respond respond) {
  store::CaseFilter f;
  f.state = param(url, "state");
  f.sequence_id = param(url, "sequence");
  f.decline_code = param(url, "decline");
  f.currency = param(url, "currency");
  for (auto& ch : f.currency) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  const std::string customer = param(url, "customer");
  (customer.find('@') != std::string::npos ? f.customer_email : f.customer_id) = customer;
  f.after_id = parse_integer(param(url, "after"), 0).value_or(0);  // unreadable: the first page
  const int page_size = settings.page_size;
  f.limit = page_size + 1;  // one more tells whether there is a next page
  const auto cfg = config();
  on_db(std::move(respond), [self = shared_from_this(), ctx, f, customer, page_size,
                             cfg](store::Engine& st) {
    auto found = st.cases().find(f);
    const bool more = static_cast<int>(found.size()) > page_size;
    if (more) found.resize(static_cast<std::size_t>(page_size));
    json rows = json::array();
    for (const auto& c : found) {
      rows.push_back({{"id", std::to_string(c.id)},
                      {"state", std::string(store::to_string(c.state))},
                      {"sequence", c.sequence_id},
                      {"customer", c.customer_id},
                      {"amount", c.amount.to_string()},
                      {"decline", c.decline_code},
                      {"opened", iso(c.opened_at)},
                      {"next_due", opt_iso(c.next_due_at)}});
    }
    json v;
    v["cases"] = rows;
    v["count"] = std::to_string(found.size());
    json states = json::array({{{"value", ""}, {"label", "any"}, {"selected", f.state.empty()}}});
    for (auto s : {"open", "paused", "recovered", "lost", "cancelled"}) {
      states.push_back({{"value", s}, {"label", s}, {"selected", f.state == s}});
    }
    v["states"] = states;
    json seqs =
        json::array({{{"value", ""}, {"label", "any"}, {"selected", f.sequence_id.empty()}}});
    bool listed = f.sequence_id.empty();
    for (const auto& s : cfg->sequences.sequences) {
      seqs.push_back({{"value", s.id}, {"label", s.id}, {"selected", f.sequence_id == s.id}});
      listed = listed || f.sequence_id == s.id;
    }
    if (!listed)
      seqs.push_back({{"value", f.sequence_id}, {"label", f.sequence_id}, {"selected", true}});
    v["sequences"] = seqs;
    v["filter_decline"] = f.decline_code;
    v["filter_currency"] = f.currency;
    v["filter_customer"] = customer;
    std::vector<std::pair<std::string, std::string>> q{{"state", f.state},
                                                       {"sequence", f.sequence_id},
                                                       {"decline", f.decline_code},
                                                       {"currency", f.currency},
                                                       {"customer", customer}};
    v["filtered"] = !query(q).empty();
    if (f.after_id > 0) v["first_href"] = "/ui/cases" + query(q);
    if (more) {
      q.emplace_back("after", std::to_string(found.back().id));
      v["next_href"] = "/ui/cases" + query(q);
    }
    return html_response(200, self->page(ctx, "Cases", "cases", render(assets::kCases, v)));
  });
}

void Console::Impl::case_page(const Ctx& ctx, std::int64_t id, const std::string& flash,
                              Respond respond) {
  const auto cfg = config();
  on_db(std::move(respond), [self = shared_from_this(), ctx, id, cfg, flash](store::Engine& st) {
    auto c = st.cases().get(id);
    if (!c) {
      return self->message(ctx, 404, "No such case",
                           "There is no case #" + std::to_string(id) + ".", "/ui/cases",
                           "Back to the cases");
    }
    json v;
    v["id"] = std::to_string(c->id);
    v["state"] = std::string(store::to_string(c->state));
    v["customer_id"] = c->customer_id;
    if (auto cust = st.feed().customer(c->customer_id)) {
      v["customer_email"] = cust->email;
      v["customer_name"] = cust->name;
    }
    v["invoice"] = c->invoice_id.value_or("—");
    v["amount"] = c->amount.to_string();
    if (c->paid_minor != 0) v["outstanding"] = c->outstanding().to_string();
    v["decline"] = c->decline_code.empty() ? "—" : c->decline_code;
    v["sequence"] = c->sequence_id;
    v["holdout"] = c->holdout;
    v["opened"] = iso(c->opened_at);
    v["closed"] = opt_iso(c->closed_at);
    v["attempts"] = std::to_string(c->attempt_count);
    // The case's plan: the same one its emails state and the API returns (cases::plan_of).
    const auto view = cases::plan_of(*c, *cfg, st.feed(), st.cases(), st.outbox());
    v["zone"] = view.zone.zone ? view.zone.zone->name() : "UTC";
    v["zone_note"] = view.zone.note;
    auto planned = [&](const std::optional<rules::PlannedStep>& s) -> json {
      if (!s) return nullptr;
      return {
          {"at", iso(s->at)},
          {"local", local_time(s->at, view.zone.zone)},
          {"why", s->why},
          {"what", s->step ? s->step->describe() : "step " + std::to_string(s->step_index + 1)}};
    };
    v["next_retry"] = planned(view.plan.next_retry);
    v["next_contact"] = planned(view.plan.next_contact);
    v["final_step"] = planned(view.plan.final_step);
    const bool admin = ctx.session && ctx.session->role == Role::kAdmin;
    v["admin"] = admin;
    v["csrf"] = ctx.session ? ctx.session->csrf : "";
    v["can_pause"] = c->state == store::CaseState::kOpen;
    v["can_resume"] = c->state == store::CaseState::kPaused;
    v["can_close"] = c->state == store::CaseState::kOpen || c->state == store::CaseState::kPaused;
    v["timeline"] = timeline_json(st.cases().events(id));
    json outbox = json::array();
    for (const auto& r : st.outbox().for_case(id)) {
      outbox.push_back({{"step", std::to_string(r.step_index + 1)},
                        {"channel", r.channel},
                        {"what", r.channel == Channel::kAction ? std::string(to_string(r.action))
                                                               : r.template_name},
                        {"state", std::string(store::to_string(r.state))},
                        {"attempts", std::to_string(r.attempts)},
                        {"due", iso(r.due_at)},
                        {"sent", opt_iso(r.sent_at)},
                        {"answer", r.last_error}});
    }
    v["outbox"] = outbox;
    json ledger_rows = json::array();
    for (const auto& e : st.ledger().for_case(id)) {
      std::string attribution(store::to_string(e.attribution));
      if (e.step_index)
        attribution += (attribution.empty() ? "" : ": ") + std::string("step ") +
                       std::to_string(*e.step_index + 1) +
                       (e.channel.empty() ? "" : " (" + e.channel + ")");
      ledger_rows.push_back({{"id", std::to_string(e.id)},
                             {"kind", store::to_string(e.kind)},
                             {"amount", e.amount.to_string()},
                             {"at", iso(e.occurred_at)},
                             {"attribution", attribution},
                             {"note", e.note}});
    }
    v["ledger"] = ledger_rows;
    return html_response(200, self->page(ctx, "Case #" + std::to_string(id), "cases",
                                         render(assets::kCase, v), flash));
  });
}

void Console::Impl::case_action(const Ctx& ctx, std::int64_t id, cases::AdminAction action,
                                Respond respond) {
  const auto now = clock.now();
  on_db(std::move(respond), [self = shared_from_this(), ctx, id, action, now](store::Engine& st) {
    store::Tx tx(st.db());
    auto done = cases::apply_admin_action(st.cases(), st.outbox(), st.ledger(), id, action,
                                          "an admin through the console", now);
    const std::string back = "/ui/cases/" + std::to_string(id);
    if (done.kind == cases::AdminOutcome::Kind::kNoSuchCase) {
      return self->message(ctx, 404, "No such case",
                           "There is no case #" + std::to_string(id) + ".", "/ui/cases",
                           "Back to the cases");
    }
    if (done.kind == cases::AdminOutcome::Kind::kRefused) {
      return self->message(ctx, 409, "Not possible", done.message, back, "Back to the case");
    }
    tx.commit();
    spdlog::info("console: admin from {}: {} case {}", ctx.peer, cases::to_string(action), id);
    return see_other(back + "?done=" + std::string(cases::to_string(action)));
  });
}

// ---- report and ledger

void Console::Impl::report(const Ctx& ctx, const boost::urls::url_view& url,
                           const std::string& format, Respond respond) {
  auto period = read_period(url);
  const std::string by_text = param(url, "by");
  const std::optional<ledger::GroupBy> by = ledger::parse_group_by(by_text);
  if (!by_text.empty() && !by) {
    std::string names;
    for (const auto& row : ledger::kGroupByNames.rows)
      names += (names.empty() ? "" : ", ") + std::string(row.second);
    period.error = "'by' must be one of " + names;
  }
  // Like `dunningd report --as-of`: outcomes as recorded up to that time.
  const std::string as_of_text = param(url, "as_of");
  std::optional<TimePoint> as_of;
  if (!as_of_text.empty()) {
    as_of = parse_iso8601(as_of_text);
    if (!as_of) period.error = "'as_of' must be an ISO 8601 time";
  }
  const auto now = clock.now();
  if (!period.error.empty() && format != "page") {
    return respond(
        message(ctx, 422, "Bad period", period.error, "/ui/report", "Back to the report"));
  }
  on_db(std::move(respond), [self = shared_from_this(), ctx, period, by, now, format, as_of,
                             as_of_text](store::Engine& st) {
    ledger::ReportOptions ro;
    if (period.error.empty()) {
      ro.from = period.from;
      ro.to = period.to;
      ro.by = by;
    }
    // As `dunningd report`: outcomes are known up to now, never as of a future date.
    ro.as_of = as_of ? *as_of : ro.to ? std::min(*ro.to, now) : now;
    const auto report = ledger::build_report(st.reports(), ro);
    std::ostringstream out;
    if (format == "json") {
      ledger::write_report_json(report, out);
      return download(out.str(), "application/json", "dunningd-report.json");
    }
    if (format == "csv") {
      ledger::write_report_csv(report, out);
      return download(out.str(), "text/csv; charset=utf-8", "dunningd-report.csv");
    }
    if (format == "html") {
      ledger::write_report_html(report, out);
      // The report file is self-contained: its own inline styles and SVG, no script.
      return download(out.str(), "text/html; charset=utf-8", "dunningd-report.html",
                      "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    }
    json v;
    v["from"] = period.from ? date::format("%F", std::chrono::floor<date::days>(*period.from)) : "";
    v["to"] = period.to ? date::format("%F", std::chrono::floor<date::days>(*period.to)) : "";
    const std::string by_name = ro.by ? std::string(to_string(*ro.by)) : "";
    json groups_opt =
        json::array({{{"value", ""}, {"label", "(no grouping)"}, {"selected", !ro.by}}});
    for (const auto& [g, name] : ledger::kGroupByNames.rows) {
      groups_opt.push_back(
          {{"value", std::string(name)}, {"label", std::string(name)}, {"selected", ro.by == g}});
    }
    v["group_options"] = groups_opt;
    const std::vector<std::pair<std::string, std::string>> q{
        {"from", period.from_text}, {"to", period.to_text}, {"by", by_name}, {"as_of", as_of_text}};
    v["query"] = query(q);
    v["ledger_query"] = query({{"from", period.from_text}, {"to", period.to_text}});
    std::string cli = "dunningd report --format json";
    if (ro.from) cli += " --from " + iso(*ro.from);
    if (ro.to) cli += " --to " + iso(*ro.to);
    if (ro.by) cli += " --by " + by_name;
    if (as_of) cli += " --as-of " + iso(*as_of);
    v["cli"] = cli;
    v["as_of"] = iso(report.as_of);
    v["totals_cases"] = std::to_string(report.totals.cases);
    v["totals_rate"] = rate_text(report.totals.recovery_rate);
    v["totals"] = totals_rows(report.totals);
    if (ro.by) {
      json groups = group_rows(report.groups);
      v["has_groups"] = !groups.empty();
      v["groups"] = std::move(groups);
      v["group_by"] = by_name;
    }
    v["uplift"] = uplift_text(report.uplift);
    v["funnel"] = funnel_rows(report);
    v["charts"] = charts_html(report);
    return html_response(
        period.error.empty() ? 200 : 422,
        self->page(ctx, "Finance report", "report", render(assets::kReport, v), "", period.error));
  });
}

void Console::Impl::ledger(const Ctx& ctx, const boost::urls::url_view& url,
                           const std::string& format, Respond respond) {
  auto period = read_period(url);
  if (!period.error.empty()) {
    return respond(
        message(ctx, 422, "Bad period", period.error, "/ui/ledger", "Back to the ledger"));
  }
  const int page_number =
      static_cast<int>(parse_integer(param(url, "page"), 1, 1000000).value_or(1));
  const int page_size = settings.page_size;
  on_db(std::move(respond), [self = shared_from_this(), ctx, period, format, page_number,
                             page_size](store::Engine& st) {
    if (format == "csv" || format == "json") {
      std::ostringstream out;
      if (format == "csv") {
        ledger::write_csv(st.ledger(), period.from, period.to, out);
        return download(out.str(), "text/csv; charset=utf-8", "dunningd-ledger.csv");
      }
      ledger::write_json(st.ledger(), period.from, period.to, out);
      return download(out.str(), "application/json", "dunningd-ledger.json");
    }
    // Streams the period; keeps only this page's rows.
    const std::int64_t skip = static_cast<std::int64_t>(page_number - 1) * page_size;
    std::int64_t seen = 0;
    bool more = false;
    json rows = json::array();
    st.ledger().for_each(period.from, period.to, [&](const store::LedgerEntry& e) {
      const std::int64_t i = seen++;
      if (i < skip) return;
      if (i >= skip + page_size) {
        more = true;
        return;
      }
      std::string step = e.sequence_id;
      if (e.step_index) step += " · step " + std::to_string(*e.step_index + 1);
      if (!e.channel.empty()) step += " (" + e.channel + ")";
      rows.push_back({{"id", std::to_string(e.id)},
                      {"at", iso(e.occurred_at)},
                      {"kind", store::to_string(e.kind)},
                      {"case_id", std::to_string(e.case_id)},
                      {"customer", e.customer_id},
                      {"invoice", e.invoice_id.value_or("")},
                      {"amount", e.amount.to_string()},
                      {"step", step},
                      {"attribution", store::to_string(e.attribution)},
                      {"note", e.note}});
    });
    json v;
    v["rows"] = rows;
    v["page"] = std::to_string(page_number);
    v["from"] = period.from ? date::format("%F", std::chrono::floor<date::days>(*period.from)) : "";
    v["to"] = period.to ? date::format("%F", std::chrono::floor<date::days>(*period.to)) : "";
    const std::vector<std::pair<std::string, std::string>> q{{"from", period.from_text},
                                                             {"to", period.to_text}};
    v["query"] = query(q);
    auto with_page = [&](int n) {
      auto pairs = q;
      pairs.emplace_back("page", std::to_string(n));
      return "/ui/ledger" + query(pairs);
    };
    if (page_number > 1) v["prev_href"] = with_page(page_number - 1);
    if (more) v["next_href"] = with_page(page_number + 1);
    return html_response(200, self->page(ctx, "Ledger", "ledger", render(assets::kLedger, v)));
  });
}

// ---- sequences

namespace {

json sequence_json(const config::Sequence& s, std::size_t index) {
  json steps = json::array();
  for (const auto& step : s.steps) {
    std::vector<std::string> extra;
    if (!step.prefer.empty()) extra.push_back("prefer " + step.prefer);
    if (!step.unless.empty()) extra.push_back("unless " + join(step.unless));
    steps.push_back({{"at", "day " + offset_text(step.at)},
                     {"what", step.describe()},
                     {"extra", join(extra, "; ")}});
  }
  for (const auto& step : s.on_card_updated) {
    steps.push_back({{"at", "on card update"}, {"what", step.describe()}, {"extra", ""}});
  }
  std::vector<std::string> match;
  if (s.trigger == config::Trigger::kCardExpiring) {
    match.push_back(std::to_string(s.days_before_expiry) + " days before expiry");
  }
  if (!s.match.decline_codes.empty()) {
    match.push_back("decline codes " + join(s.match.decline_codes));
  } else if (s.match.decline != "any") {
    match.push_back(s.match.decline + " declines");
  }
  if (!s.match.plans.empty()) match.push_back("plans " + join(s.match.plans));
  if (!s.match.currencies.empty()) match.push_back("currencies " + join(s.match.currencies));
  if (!s.match.locales.empty()) match.push_back("locales " + join(s.match.locales));
  if (s.match.amount_at_least) match.push_back("at least " + s.match.amount_at_least->to_string());
  if (s.match.amount_below) match.push_back("below " + s.match.amount_below->to_string());
  return {{"index", std::to_string(index)},
          {"id", s.id},
          {"trigger", std::string(config::to_string(s.trigger))},
          {"match", join(match)},
          {"steps", steps},
          {"stop_on", join(s.stop_on)}};
}

std::string window_text(const config::SendWindow& w) {
  static constexpr const char* kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
  const std::string hours = fmt::format("{:02}:{:02}–{:02}:{:02}", w.from_minute / 60,
                                        w.from_minute % 60, w.to_minute / 60, w.to_minute % 60);
  std::vector<std::string> days;
  for (int d = 0; d < 7; ++d) {
    if (w.days[static_cast<std::size_t>(d)]) days.emplace_back(kDays[d]);
  }
  return hours + " (" + join(days, " ") + ")";
}

// The findings `dunningd check` reports for a sequences file, for pasted text: loading (every
// error with line:column), templates that do not exist, then the rules' own checks.
// Pasted sequences.yaml text as a file in a folder of its own (its findings name the file, the
// preview's simulations write beside it); the folder is removed with this object.
class PastedFile {
 public:
  explicit PastedFile(const std::string& yaml)
      : dir_(fs::temp_directory_path() / ("dunningd-console-" + random_hex(8))) {
    fs::create_directory(dir_);
    std::ofstream out(file(), std::ios::binary);
    out << yaml;
  }
  PastedFile(const PastedFile&) = delete;
  PastedFile& operator=(const PastedFile&) = delete;
  ~PastedFile() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  const fs::path& dir() const { return dir_; }
  fs::path file() const { return dir_ / "sequences.yaml"; }

 private:
  fs::path dir_;
};

std::vector<config::ConfigError> check_pasted(const std::string& yaml,
                                              const config::Config& running,
                                              config::Sequences& loaded) {
  const PastedFile pasted(yaml);
  auto seqs = config::load_sequences(pasted.file());
  auto findings = seqs.errors;
  if (seqs.ok()) {
    auto more = config::missing_templates(seqs.value, running.daemon);
    findings.insert(findings.end(), more.begin(), more.end());
    config::Config candidate{running.daemon, seqs.value};
    for (auto extra : {rules::check_sequences(seqs.value), rules::check_capabilities(candidate)}) {
      findings.insert(findings.end(), extra.begin(), extra.end());
    }
    loaded = seqs.value;
  }
  return findings;
}

}  // namespace

// ---- the preview of a sequence change: `dunningd simulate` twice over a past period

namespace {

struct Simulated {
  std::string error;  // empty when it ran
  std::string summary;
  std::map<std::string, std::map<std::string, std::int64_t>> per_sequence;
};

// Runs this binary's `simulate` (a copy of the database, nothing sent) and reads its totals.
Simulated simulate(const std::vector<std::string>& args, const fs::path& dir,
                   const std::string& name, std::chrono::seconds timeout) {
  namespace bp = boost::process;
  Simulated r;
  const fs::path out = dir / (name + ".out"), err = dir / (name + ".err");
  std::error_code ec;
  const auto exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {"cannot find the dunningd binary: " + ec.message(), "", {}};
  bp::child child(exe.string(), bp::args(args), bp::std_out > out.string(),
                  bp::std_err > err.string(), bp::std_in < bp::null,
                  bp::limit_handles);  // the daemon's sockets and files stay with the daemon
  if (!child.wait_for(timeout)) {
    child.terminate();
    return {"the simulation took longer than " + std::to_string(timeout.count()) + " s", "", {}};
  }
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string total, kind, id;
    words >> total >> kind;
    if (total != "total") continue;
    if (kind == "cases") {
      std::int64_t n = 0;
      words >> n;
      r.summary = std::to_string(n) + " case(s)";
    } else if (kind == "sequence" && words >> id) {
      std::string key;
      std::int64_t n = 0;
      while (words >> key >> n) r.per_sequence[id][key] = n;
    }
  }
  if (child.exit_code() != 0) {
    std::ifstream e(err);
    std::string text((std::istreambuf_iterator<char>(e)), std::istreambuf_iterator<char>());
    r.error = "dunningd simulate failed (exit " + std::to_string(child.exit_code()) +
              "): " + text.substr(0, 2000);
  }
  return r;
}

}  // namespace

void Console::Impl::preview(const Ctx& ctx, const std::string& yaml, const std::string& from,
                            const std::string& to, Respond respond) {
  const auto cfg = config();
  const auto f = parse_iso8601(from), t = parse_iso8601(to);
  if (!f || !t || *t < *f || *t - *f > date::days(366)) {
    return respond(message(ctx, 422, "Bad period",
                           "The preview needs a start and an end date, the end not before the "
                           "start, at most a year apart.",
                           "/ui/sequences", "Back to the sequences"));
  }
  config::Sequences loaded;
  const auto findings = check_pasted(yaml, *cfg, loaded);
  if (std::any_of(findings.begin(), findings.end(), [](const auto& e) { return !e.warning; })) {
    return sequences(ctx, yaml, true, std::move(respond));  // the findings, no preview
  }
  if (cfg->daemon.database.string().rfind("postgres", 0) == 0) {
    return respond(message(ctx, 422, "Preview needs SQLite",
                           "dunningd simulate replays a copy of a SQLite database; on PostgreSQL "
                           "copy it first (docs/instances.md).",
                           "/ui/sequences", "Back to the sequences"));
  }
  if (previewing.exchange(true)) {
    return respond(message(ctx, 409, "A preview is running",
                           "One preview runs at a time; try again when it has finished.",
                           "/ui/sequences", "Back to the sequences"));
  }
  // Minutes for a big database: on a thread of its own, never the server's or the database
  // worker's; the answer goes out when both runs are done.
  std::thread([self = shared_from_this(), ctx, cfg, yaml, from, to,
               respond = std::move(respond)]() mutable {
    json preview;
    std::string error;
    try {
      const PastedFile pasted(yaml);
      const fs::path& dir = pasted.dir();
      const std::vector<std::string> base = {"simulate", "--config",     cfg->daemon.file.string(),
                                             "--from",   from,           "--to",
                                             to,         "--totals-only"};
      auto changed = base;
      changed.insert(changed.end(), {"--sequences", pasted.file().string()});
      const auto timeout = std::chrono::seconds(600);
      const auto now_side = simulate(base, dir, "current", timeout);
      const auto new_side =
          now_side.error.empty() ? simulate(changed, dir, "changed", timeout) : Simulated{};
      error = !now_side.error.empty() ? now_side.error : new_side.error;
      if (error.empty()) {
        std::set<std::string> ids;
        for (const auto& [id, _] : now_side.per_sequence) ids.insert(id);
        for (const auto& [id, _] : new_side.per_sequence) ids.insert(id);
        json rows = json::array();
        auto get = [](const Simulated& s, const std::string& id, const std::string& key) {
          auto it = s.per_sequence.find(id);
          if (it == s.per_sequence.end()) return std::int64_t{0};
          auto k = it->second.find(key);
          return k == it->second.end() ? std::int64_t{0} : k->second;
        };
        for (const auto& id : ids) {
          json cells = json::array();
          for (const char* key : {"cases", "messages", "retries", "recovered", "lost"}) {
            cells.push_back(
                {{"side", "current"}, {"key", key}, {"n", std::to_string(get(now_side, id, key))}});
            cells.push_back(
                {{"side", "changed"}, {"key", key}, {"n", std::to_string(get(new_side, id, key))}});
          }
          rows.push_back({{"sequence", id}, {"cells", cells}});
        }
        preview = {{"from", from.substr(0, 10)},
                   {"to", to.substr(0, 10)},
                   {"current_summary", now_side.summary},
                   {"proposed_summary", new_side.summary},
                   {"rows", rows}};
      }
    } catch (const std::exception& e) {
      error = e.what();
    }
    self->previewing = false;
    if (!error.empty()) {
      spdlog::warn("console: sequence preview failed: {}", error);
      return respond(self->message(ctx, 500, "Preview failed", error, "/ui/sequences",
                                   "Back to the sequences"));
    }
    self->sequences(ctx, yaml, true, std::move(respond), std::move(preview));
  }).detach();
}

void Console::Impl::sequences(const Ctx& ctx, const std::string& yaml, bool checked,
                              Respond respond, json preview) {
  const auto cfg = config();
  // Reading the pasted text and the template folder is file work: on the worker, not here.
  const auto now = clock.now();
  on_db(std::move(respond), [self = shared_from_this(), ctx, cfg, yaml, checked, now,
                             preview = std::move(preview)](store::Engine&) {
    json v;
    // The preview's period: the one asked for, else the last 30 days.
    const auto day = [](TimePoint t) {
      return date::format("%F", std::chrono::floor<date::days>(t));
    };
    v["preview_from"] = preview.is_object() ? preview["from"] : json(day(now - date::days(30)));
    v["preview_to"] = preview.is_object() ? preview["to"] : json(day(now - date::days(1)));
    v["preview"] = preview;
    v["file"] = cfg->sequences.file.string();
    const auto& d = cfg->sequences.defaults;
    v["defaults"] = window_text(d.send_window) + ", at most " +
                    std::to_string(d.max_messages_per_customer_per_day) +
                    " message(s) per customer per day, holdout " +
                    std::to_string(d.holdout_percent) + "%";
    json list = json::array();
    for (std::size_t i = 0; i < cfg->sequences.sequences.size(); ++i) {
      list.push_back(sequence_json(cfg->sequences.sequences[i], i));
    }
    v["sequences"] = list;
    v["admin"] = ctx.session && ctx.session->role == Role::kAdmin;
    v["csrf"] = ctx.session ? ctx.session->csrf : "";
    v["yaml"] = yaml;
    if (checked) {
      config::Sequences loaded;
      auto findings = check_pasted(yaml, *cfg, loaded);
      json rows = json::array();
      for (const auto& e : findings) {
        rows.push_back({{"where", std::to_string(e.line) + ":" + std::to_string(e.column)},
                        {"severity", e.warning ? "warning" : "error"},
                        {"message", e.message}});
      }
      v["checked"] = true;
      v["findings"] = rows;
      v["clean"] = findings.empty();
      v["count"] = std::to_string(loaded.sequences.size());
      json changes = json::array();
      // Each step in words; a step the other side does not have is marked, so a change reads
      // as a diff of the two timelines.
      auto steps_of = [](const config::Sequence* seq) {
        std::vector<std::string> out;
        if (seq == nullptr) return out;
        for (const auto& step : seq->steps) {
          std::string text = "day " + offset_text(step.at) + ": " + step.describe();
          if (!step.prefer.empty()) text += " (prefer " + step.prefer + ")";
          if (!step.unless.empty()) text += " (unless " + join(step.unless) + ")";
          out.push_back(text);
        }
        for (const auto& step : seq->on_card_updated) {
          out.push_back("on card update: " + step.describe());
        }
        return out;
      };
      auto marked = [](const std::vector<std::string>& mine,
                       const std::vector<std::string>& theirs) {
        json out = json::array();
        for (const auto& text : mine) {
          const bool differs = std::find(theirs.begin(), theirs.end(), text) == theirs.end();
          out.push_back({{"text", text}, {"differs", differs}});
        }
        return out;
      };
      auto change_row = [&](const std::string& id, const config::Sequence* running,
                            const config::Sequence* pasted) {
        const auto before = steps_of(running), after = steps_of(pasted);
        const char* change = !running                        ? "added"
                             : !pasted                       ? "removed"
                             : running->hash == pasted->hash ? "unchanged"
                                                             : "changed";
        return json{{"id", id},
                    {"change", change},
                    {"running_steps", marked(before, after)},
                    {"pasted_steps", marked(after, before)}};
      };
      if (!loaded.sequences.empty()) {
        for (const auto& s : loaded.sequences) {
          changes.push_back(change_row(s.id, cfg->sequences.find(s.id), &s));
        }
        for (const auto& s : cfg->sequences.sequences) {
          if (!loaded.find(s.id)) changes.push_back(change_row(s.id, &s, nullptr));
        }
      }
      v["changes"] = changes;
      v["has_changes"] = !changes.empty();
    }
    return html_response(200,
                         self->page(ctx, "Sequences", "sequences", render(assets::kSequences, v)));
  });
}

}  // namespace dunning::http
