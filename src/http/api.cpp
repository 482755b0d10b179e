#include "dunning/http/api.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/url/parse.hpp>
#include <cctype>
#include <cstdlib>
#include <mutex>
#include <nlohmann/json.hpp>
#include <utility>

#include "dunning/cases/lifecycle.hpp"
#include "dunning/cases/plan.hpp"
#include "dunning/config/secrets.hpp"
#include "dunning/core/crypto.hpp"
#include "dunning/core/guarded.hpp"
#include "dunning/core/integers.hpp"
#include "dunning/core/signed_link.hpp"
#include "dunning/http/console.hpp"
#include "dunning/ingest/api_event.hpp"
#include "dunning/ingest/stripe.hpp"
#include "dunning/ledger/attribution.hpp"
#include "http/health.hpp"
#include "http/timeline.hpp"

namespace dunning::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
using nlohmann::json;

namespace {

// Repeated opens of a card-update link within this window record one click (see redirect).
constexpr Seconds kClickWindow = std::chrono::hours(1);

std::vector<std::string> split_secrets(const std::string& s) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    auto comma = s.find(',', start);
    auto item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!item.empty() && item.front() == ' ') item.erase(0, 1);
    while (!item.empty() && item.back() == ' ') item.pop_back();
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::string error_body(const std::string& message, const std::string& field = "") {
  json j{{"error", message}};
  if (!field.empty()) j["field"] = field;
  return j.dump();
}

// A body refused field by field: {"error": "data.amount_minor must be ...", "field": "..."}.
std::string refusal_body(const Error& e) {
  return error_body(e.field.empty() ? e.message : e.field + " " + e.message, e.field);
}

Response html(unsigned status, const std::string& title) {
  Response res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::content_type, "text/html; charset=utf-8");
  res.body() = "<!doctype html><html><head><meta charset=\"utf-8\"><title>" + title +
               "</title></head><body><h1>" + title + "</h1></body></html>\n";
  res.prepare_payload();
  return res;
}

// The listings' pages: a page is built in memory, so its size is bounded (next_cursor pages on).
constexpr std::int64_t kMaxCasesPage = 1000;
constexpr std::int64_t kMaxLedgerPage = 10000;

// A query value or path id that is a whole number from 1 up (no sign, space or suffix).
std::optional<std::int64_t> positive_integer(std::string_view text) {
  return parse_integer(text, 1);
}

// One page of a listing: `fetch(n)` reads up to n rows; one row more than the page says whether
// a next page exists (and is dropped).
template <typename Fetch>
auto one_page(int size, Fetch&& fetch) {
  auto rows = fetch(size + 1);
  const bool more = rows.size() > static_cast<std::size_t>(size);
  if (more) rows.pop_back();
  return std::pair{std::move(rows), more};
}

json case_json(const store::CaseRecord& c) {
  json j{{"id", c.id},
         {"trigger", c.trigger},
         {"state", std::string(store::to_string(c.state))},
         {"customer_id", c.customer_id},
         {"subscription_id", c.subscription_id ? json(*c.subscription_id) : json()},
         {"invoice_id", c.invoice_id ? json(*c.invoice_id) : json()},
         {"amount_minor", c.amount.minor()},
         {"currency", c.amount.currency()},
         {"decline_code", c.decline_code},
         {"sequence_id", c.sequence_id},
         {"opened_at", format_iso8601(c.opened_at)},
         {"closed_at", c.closed_at ? json(format_iso8601(*c.closed_at)) : json()},
         {"next_step", c.next_step},
         {"next_due_at", c.next_due_at ? json(format_iso8601(*c.next_due_at)) : json()},
         {"attempt_count", c.attempt_count}};
  return j;
}

}  // namespace

struct Api::Impl : std::enable_shared_from_this<Api::Impl> {
  Impl(ConfigSnapshot c, std::unique_ptr<store::Engine> d, Metrics& m, const Clock& cl)
      : config(std::move(c)), db(std::move(d)), metrics(m), clock(cl) {
    auto cfg = config();
    token = config::read_secret(cfg->daemon.http.token_env).value_or("");
    stripe_secrets =
        split_secrets(config::read_secret(cfg->daemon.http.stripe_secrets_env).value_or(""));
    link_secret = config::read_secret(cfg->daemon.links.secret_env).value_or("");
    // A missing token or Stripe secret is reported once at start-up with every other missing
    // secret (config::missing_secrets), and by `dunningd check`.
    declare_api_metrics(metrics);
  }

  ConfigSnapshot config;
  std::unique_ptr<store::Engine> db;
  Metrics& metrics;
  const Clock& clock;
  std::string token;
  std::vector<std::string> stripe_secrets;
  std::string link_secret;
  asio::thread_pool pool{1};         // the only thread that touches `db`
  std::unique_ptr<Console> console;  // /ui/, on this same worker

  struct Pending {
    ingest::Event event;
    Respond respond;
  };
  std::mutex mutex;
  std::vector<Pending> queue;
  bool flushing = false;

  // ---- group commit: events queued while a commit runs go into the next one together.
  void enqueue(ingest::Event e, Respond respond) {
    std::lock_guard lock(mutex);
    queue.push_back({std::move(e), std::move(respond)});
    if (!flushing) {
      flushing = true;
      asio::post(pool, [self = shared_from_this()] { self->flush_round(); });
    }
  }

  void flush() {
    std::vector<Pending> batch;
    {
      std::lock_guard lock(mutex);
      auto n = std::min<std::size_t>(queue.size(),
                                     static_cast<std::size_t>(config()->daemon.http.commit_batch));
      batch.assign(std::make_move_iterator(queue.begin()),
                   std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(n)));
      queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(n));
    }
    std::vector<Response> answers;
    std::vector<std::string> results;
    try {
      // A batch is first written without a savepoint per event (on PostgreSQL each is two
      // statements more per event, half of what an event costs); only when one event fails is
      // the batch written again from the start, each event inside its own savepoint.
      if (!write_batch(batch, false, answers, results)) write_batch(batch, true, answers, results);
    } catch (const std::exception& e) {  // StoreError, or a bug: nothing of the batch is kept
      spdlog::error("ingest commit failed: {}", e.what());
      answers.assign(batch.size(), json_response(503, error_body("database unavailable, retry")));
      results.assign(batch.size(), "error");
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
      run_guarded("ingest answer", [&] {
        metrics.add(
            "dunningd_events_ingested_total",
            "source=" + label_value(batch[i].event.source) + ",result=" + label_value(results[i]));
        batch[i].respond(std::move(answers[i]));
      });
    }
  }

  // Writes `batch` in one transaction and fills one answer and result per event. With
  // `isolate`, each event is inside its own savepoint: one the database refuses (or a bug) is
  // answered alone and the rest commits. Without it, any failing event rolls the whole batch
  // back and the answer is false (nothing answered; write it again with `isolate`).
  bool write_batch(const std::vector<Pending>& batch, bool isolate, std::vector<Response>& answers,
                   std::vector<std::string>& results) {
    answers.clear();
    results.clear();
    answers.reserve(batch.size());
    store::Tx tx(db->db());
    for (const auto& p : batch) {
      try {
        std::optional<store::Savepoint> sp;
        if (isolate) sp.emplace(db->db());
        auto applied = ingest::apply_event(db->facts(), p.event);
        if (sp) sp->release();
        if (applied == ingest::Applied::kConflict) {
          // The first body stays; the sender learns that this one was not recorded.
          results.emplace_back("conflict");
          answers.push_back(
              json_response(409, json{{"error",
                                       "an event with this id was already accepted with a "
                                       "different body; nothing was recorded"},
                                      {"field", "id"},
                                      {"id", p.event.id}}
                                     .dump()));
          continue;
        }
        bool dup = applied == ingest::Applied::kDuplicate;
        results.emplace_back(dup ? "duplicate" : "written");
        answers.push_back(json_response(
            dup ? 200 : 202,
            json{{"id", p.event.id}, {"status", dup ? "duplicate" : "accepted"}}.dump()));
      } catch (const store::StoreError& e) {
        if (!isolate) return false;
        spdlog::warn("event {} refused by the database: {}", p.event.id, e.what());
        results.emplace_back("error");
        answers.push_back(json_response(422, error_body(std::string("refused: ") + e.what())));
      } catch (const std::exception& e) {  // a bug: this event fails, the batch goes on
        if (!isolate) return false;
        spdlog::critical("event {}: unexpected {}; answered 500", p.event.id, e.what());
        results.emplace_back("error");
        answers.push_back(json_response(500, error_body("internal error")));
      }
    }
    tx.commit();  // durable (synchronous=FULL) before any answer leaves
    metrics.add("dunningd_ingest_commits_total", "");
    return true;
  }

  // One group-commit round on the pool, then the next if more events are queued. Whatever
  // happens in the round, the queue never stalls with `flushing` left set.
  void flush_round() {
    run_guarded("ingest commit", [&] { flush(); });
    run_guarded("ingest queue", [&] {
      std::lock_guard lock(mutex);
      if (queue.empty()) {
        flushing = false;
      } else {
        asio::post(pool, [self = shared_from_this()] { self->flush_round(); });
      }
    });
  }

  // Runs `fn` on the database thread and answers with what it returns (500 on a store error).
  void on_db(Respond respond, std::function<Response(store::Engine&)> fn) {
    asio::post(pool, [self = shared_from_this(), respond = std::move(respond),
                      fn = std::move(fn)]() mutable {
      run_guarded("http request", [&] { self->answer_from_db(respond, fn); });
    });
  }

  void answer_from_db(const Respond& respond, const std::function<Response(store::Engine&)>& fn) {
    Response res;
    try {
      res = fn(*db);
    } catch (const store::StoreError& e) {
      spdlog::error("http: database error: {}", e.what());
      res = json_response(503, error_body("database unavailable"));
    } catch (const std::exception& e) {  // bad data or a bug: this request fails, not the daemon
      spdlog::critical("http: unexpected {}; answered 500", e.what());
      res = json_response(500, error_body("internal error"));
    }
    respond(std::move(res));
  }

  // `Authorization: Bearer <token>`; the scheme is case-insensitive (RFC 7235 2.1) and may be
  // followed by more than one space.
  bool authorized(const Request& req) const {
    auto it = req.find(bhttp::field::authorization);
    if (token.empty() || it == req.end()) return false;
    std::string_view v(it->value().data(), it->value().size());
    constexpr std::string_view kScheme = "bearer";
    if (v.size() <= kScheme.size() || v[kScheme.size()] != ' ') return false;
    for (std::size_t i = 0; i < kScheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(v[i])) != kScheme[i]) return false;
    }
    v.remove_prefix(kScheme.size());
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return constant_time_equal(v, token);
  }

  void route(Request&& req, Respond respond);
  void events(Request&& req, Respond respond);
  void stripe(Request&& req, Respond respond);
  void cases(const boost::urls::url_view& url, Respond respond);
  void case_detail(std::int64_t id, Respond respond);
  void case_action(std::int64_t id, const std::string& action, Respond respond);
  void ledger(const boost::urls::url_view& url, Respond respond);
  void healthz(Respond respond);
  void metrics_page(Respond respond);
  void redirect(const std::string& token, Respond respond);
};

Api::Api(ConfigSnapshot config, std::unique_ptr<store::Engine> db, Metrics& metrics,
         const Clock& clock)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(db), metrics, clock)) {
  // The console's pages run on the API's database thread; it holds the API weakly (the API
  // owns the console).
  std::weak_ptr<Impl> weak = impl_;
  impl_->console = std::make_unique<Console>(
      impl_->config, clock, metrics,
      [weak](Respond respond, std::function<Response(store::Engine&)> fn) {
        if (auto self = weak.lock()) self->on_db(std::move(respond), std::move(fn));
      });
}

Api::~Api() { impl_->pool.join(); }

void Api::handle(Request&& req, Respond respond) {
  impl_->route(std::move(req), std::move(respond));
}

void Api::Impl::route(Request&& req, Respond respond) {
  if (Console::owns(std::string_view(req.target().data(), req.target().size()))) {
    return console->handle(std::move(req), [this, respond](Response res) {
      metrics.add("dunningd_http_requests_total",
                  "route=" + label_value("/ui") +
                      ",status=" + label_value(std::to_string(res.result_int())));
      respond(std::move(res));
    });
  }
  auto parsed =
      boost::urls::parse_origin_form(std::string_view(req.target().data(), req.target().size()));
  if (!parsed) {
    respond(json_response(400, error_body("bad request target")));
    return;
  }
  boost::urls::url_view url = *parsed;
  // No route has more than four segments: a longer path is not copied at all.
  if (url.segments().size() > 4) {
    respond(json_response(404, error_body("not found")));
    return;
  }
  std::vector<std::string> seg;
  for (auto s : url.segments()) seg.push_back(s);
  auto method = req.method();
  // Counts every answer by route and status.
  auto answer = [&](const std::string& label) {
    return Respond([this, label, respond](Response res) {
      metrics.add("dunningd_http_requests_total",
                  "route=" + label_value(label) +
                      ",status=" + label_value(std::to_string(res.result_int())));
      respond(std::move(res));
    });
  };
  auto wrong_method = [&](const std::string& label) {
    answer(label)(json_response(405, error_body("method not allowed")));
  };
  auto unauthorized = [&](const std::string& label) {
    auto res = json_response(401, error_body("missing or wrong bearer token", "Authorization"));
    res.set(bhttp::field::www_authenticate, "Bearer");
    answer(label)(std::move(res));
  };

  if (seg == std::vector<std::string>{"healthz"}) {
    if (method != bhttp::verb::get) return wrong_method("/healthz");
    return healthz(answer("/healthz"));
  }
  if (seg == std::vector<std::string>{"metrics"}) {
    if (method != bhttp::verb::get) return wrong_method("/metrics");
    return metrics_page(answer("/metrics"));
  }
  if (seg.size() == 2 && seg[0] == "r") {
    if (method != bhttp::verb::get) return wrong_method("/r/{token}");
    return redirect(seg[1], answer("/r/{token}"));
  }
  if (seg == std::vector<std::string>{"v1", "webhooks", "stripe"}) {
    if (method != bhttp::verb::post) return wrong_method("/v1/webhooks/stripe");
    return stripe(std::move(req), answer("/v1/webhooks/stripe"));
  }
  if (!seg.empty() && seg[0] == "v1") {
    // The label comes from a fixed table (route_label), never from the request: an
    // unauthenticated client cannot make the metrics (or anything else) grow.
    const std::string label(route_label(seg));
    if (!authorized(req)) return unauthorized(label);
    if (seg.size() == 2 && seg[1] == "events") {
      if (method != bhttp::verb::post) return wrong_method(label);
      return events(std::move(req), answer(label));
    }
    if (seg.size() == 2 && seg[1] == "ledger") {
      if (method != bhttp::verb::get) return wrong_method(label);
      return ledger(url, answer(label));
    }
    if (seg.size() >= 2 && seg[1] == "cases") {
      if (seg.size() == 2) {
        if (method != bhttp::verb::get) return wrong_method(label);
        return cases(url, answer(label));
      }
      const std::int64_t id = positive_integer(seg[2]).value_or(0);
      if (id == 0) return answer(label)(json_response(404, error_body("no such case")));
      if (seg.size() == 3) {
        if (method != bhttp::verb::get) return wrong_method(label);
        return case_detail(id, answer(label));
      }
      if (seg.size() == 4 && (seg[3] == "pause" || seg[3] == "resume" || seg[3] == "close")) {
        if (method != bhttp::verb::post) return wrong_method(label);
        return case_action(id, seg[3], answer(label));
      }
    }
  }
  answer("other")(json_response(404, error_body("not found")));
}

void Api::Impl::events(Request&& req, Respond respond) {
  auto parsed = ingest::parse_api_event(req.body(), clock.now());
  if (!parsed) {
    respond(json_response(422, refusal_body(parsed.error())));
    return;
  }
  enqueue(std::move(parsed).value(), std::move(respond));
}

void Api::Impl::stripe(Request&& req, Respond respond) {
  auto cfg = config();
  auto it = req.find("Stripe-Signature");
  if (it == req.end()) {
    respond(json_response(400, error_body("missing Stripe-Signature", "Stripe-Signature")));
    return;
  }
  // Verified on the raw bytes, before anything parses them.
  auto ok = ingest::verify_stripe_signature(
      std::string_view(it->value().data(), it->value().size()), req.body(), stripe_secrets,
      clock.now(), cfg->daemon.http.stripe_tolerance);
  if (!ok) {
    respond(json_response(400, error_body(ok.error().message, "Stripe-Signature")));
    return;
  }
  auto parsed = ingest::map_stripe_event(req.body(), clock.now());
  if (!parsed) {
    respond(json_response(422, refusal_body(parsed.error())));
    return;
  }
  auto& e = parsed.value();
  if (e.facts.empty()) {
    // Acknowledged and ignored: nothing to write for an event type dunningd does not use.
    respond(json_response(200, json{{"id", e.id}, {"status", "ignored"}}.dump()));
    return;
  }
  enqueue(std::move(e), std::move(respond));
}

void Api::Impl::cases(const boost::urls::url_view& url, Respond respond) {
  store::CaseFilter filter;
  for (auto p : url.params()) {
    if (p.key == "state") filter.state = p.value;
    if (p.key == "customer") filter.customer_id = p.value;
    if (p.key == "limit") {
      auto n = positive_integer(p.value);
      if (!n || *n > kMaxCasesPage) {
        respond(json_response(422, error_body("limit must be a whole number from 1 to " +
                                                  std::to_string(kMaxCasesPage),
                                              "limit")));
        return;
      }
      filter.limit = static_cast<int>(*n);
    }
    if (p.key == "cursor") {  // the previous page's last case id (its next_cursor)
      auto n = positive_integer(p.value);
      if (!n) {
        respond(json_response(
            422, error_body("cursor must be a next_cursor this listing gave", "cursor")));
        return;
      }
      filter.after_id = *n;
    }
  }
  on_db(std::move(respond), [filter](store::Engine& st) {
    auto [rows, more] = one_page(filter.limit, [&](int n) {
      auto f = filter;
      f.limit = n;
      return st.cases().find(f);
    });
    json arr = json::array();
    for (const auto& c : rows) arr.push_back(case_json(c));
    json next = more ? json(std::to_string(rows.back().id)) : json();
    return json_response(200, json{{"cases", arr}, {"next_cursor", next}}.dump());
  });
}

void Api::Impl::case_detail(std::int64_t id, Respond respond) {
  auto cfg = config();
  on_db(std::move(respond), [id, cfg](store::Engine& st) {
    auto c = st.cases().get(id);
    if (!c) return json_response(404, error_body("no such case"));
    json j = case_json(*c);
    j["timeline"] = timeline_json(st.cases().events(id));
    json outbox = json::array();
    for (const auto& r : st.outbox().for_case(id)) {
      outbox.push_back({{"step", r.step_index},
                        {"channel", r.channel},
                        {"template", r.template_name},
                        {"action", r.action},
                        {"state", std::string(store::to_string(r.state))},
                        {"attempts", r.attempts},
                        {"due_at", format_iso8601(r.due_at)},
                        {"sent_at", r.sent_at ? json(format_iso8601(*r.sent_at)) : json()},
                        {"last_error", r.last_error}});
    }
    j["outbox"] = outbox;
    // The case's plan: the same one its emails state (cases::plan_of).
    const auto view = cases::plan_of(*c, *cfg, st.feed(), st.cases(), st.outbox());
    auto planned = [](const std::optional<rules::PlannedStep>& s) {
      return s ? json{{"at", format_iso8601(s->at)}, {"step", s->step_index}, {"why", s->why}}
               : json();
    };
    j["time_zone"] = view.zone.zone->name();
    j["next_retry_at"] =
        view.plan.next_retry ? json(format_iso8601(view.plan.next_retry->at)) : json();
    j["next_contact_at"] =
        view.plan.next_contact ? json(format_iso8601(view.plan.next_contact->at)) : json();
    j["cancel_at"] = view.plan.cancel_at ? json(format_iso8601(*view.plan.cancel_at)) : json();
    j["plan"] = {{"next_retry", planned(view.plan.next_retry)},
                 {"next_contact", planned(view.plan.next_contact)},
                 {"final_step", planned(view.plan.final_step)}};
    j["outstanding_minor"] = c->outstanding().minor();
    return json_response(200, j.dump());
  });
}

void Api::Impl::case_action(std::int64_t id, const std::string& action, Respond respond) {
  auto now = clock.now();
  const auto parsed = cases::parse_admin_action(action);
  if (!parsed) {
    respond(json_response(404, error_body("not found")));
    return;
  }
  on_db(std::move(respond), [id, act = *parsed, now](store::Engine& st) {
    store::Tx tx(st.db());
    auto done = cases::apply_admin_action(st.cases(), st.outbox(), st.ledger(), id, act,
                                          "an admin through the API", now);
    if (done.kind == cases::AdminOutcome::Kind::kNoSuchCase) {
      return json_response(404, error_body("no such case"));
    }
    if (done.kind == cases::AdminOutcome::Kind::kRefused) {
      return json_response(409, error_body(done.message));
    }
    tx.commit();
    return json_response(200, case_json(*st.cases().get(id)).dump());
  });
}

void Api::Impl::ledger(const boost::urls::url_view& url, Respond respond) {
  store::LedgerPage page;
  for (auto p : url.params()) {
    auto refuse = [&](const std::string& message) {
      respond(json_response(422, error_body(p.key + " " + message, p.key)));
    };
    if (p.key == "from" || p.key == "to") {
      auto t = parse_iso8601(p.value);
      if (!t) return refuse("must be an ISO 8601 time");
      (p.key == "from" ? page.from : page.to) = t;
    } else if (p.key == "limit") {
      auto n = positive_integer(p.value);
      if (!n || *n > kMaxLedgerPage) {
        return refuse("must be a whole number from 1 to " + std::to_string(kMaxLedgerPage));
      }
      page.limit = static_cast<int>(*n);
    } else if (p.key == "cursor") {
      // "<occurred_at in Unix seconds>.<id>" of the previous page's last row (see next_cursor).
      const auto dot = p.value.find('.');
      // Seconds from 0 (a row at the epoch itself can be paged past) to the last time a fact
      // may carry.
      auto secs = dot == std::string::npos
                      ? std::nullopt
                      : parse_integer(std::string_view(p.value).substr(0, dot), 0,
                                      kLastIsoTime.time_since_epoch().count());
      auto id = dot == std::string::npos ? std::nullopt : positive_integer(p.value.substr(dot + 1));
      if (!secs || !id) return refuse("must be a next_cursor this listing gave");
      page.after_at = TimePoint(Seconds(*secs));
      page.after_id = *id;
    }
  }
  on_db(std::move(respond), [page](store::Engine& st) {
    auto [entries, more] = one_page(page.limit, [&](int n) {
      auto p = page;
      p.limit = n;
      return st.ledger().page(p);
    });
    json rows = json::array();
    for (const auto& e : entries) {
      rows.push_back({{"id", e.id},
                      {"case_id", e.case_id},
                      {"kind", store::to_string(e.kind)},
                      {"customer_id", e.customer_id},
                      {"invoice_id", e.invoice_id ? json(*e.invoice_id) : json()},
                      {"amount_minor", e.amount.minor()},
                      {"currency", e.amount.currency()},
                      {"step_index", e.step_index ? json(*e.step_index) : json()},
                      {"channel", e.channel},
                      {"template", e.template_name},
                      {"sequence_id", e.sequence_id},
                      {"decline_code", e.decline_code},
                      {"opened_at", format_iso8601(e.opened_at)},
                      {"occurred_at", format_iso8601(e.occurred_at)}});
    }
    json next;
    if (more) {
      const auto& last = entries.back();
      next = std::to_string(last.occurred_at.time_since_epoch().count()) + "." +
             std::to_string(last.id);
    }
    return json_response(200, json{{"ledger", rows}, {"next_cursor", next}}.dump());
  });
}

void Api::Impl::healthz(Respond respond) {
  auto now = clock.now();
  auto poll = config()->daemon.poll_interval;
  auto last_tick = metrics.last_tick();
  auto last_smtp = metrics.last_smtp_success();
  auto failures = metrics.poll_failures();
  auto role = metrics.role();
  on_db(std::move(respond), [now, poll, last_tick, last_smtp, failures, role](store::Engine& st) {
    const Health health = check_health(st, now, poll, last_tick, failures);
    json j{{"database", health.database_ok ? "ok" : "unreachable"},
           {"last_tick_age_seconds", last_tick ? json((now - *last_tick).count()) : json()},
           {"last_smtp_success", last_smtp ? json(format_iso8601(*last_smtp)) : json()},
           {"paused_channels", paused_channels_json(health.paused)},
           {"failing_polls", failures.in_a_row},
           {"last_poll_error", failures.last_error.empty() ? json() : json(failures.last_error)},
           {"status", std::string(health.status())}};
    if (role) {  // several instances share the database: who opens and closes cases
      j["role"] = role->poller ? "poller" : "sender";
      j["instance"] = role->instance;
      j["poller"] = role->holder.empty() ? json() : json(role->holder);
    }
    return json_response(health.ok() ? 200 : 503, j.dump());
  });
}

void Api::Impl::metrics_page(Respond respond) {
  on_db(std::move(respond), [this](store::Engine& st) {
    metrics.zero("dunningd_cases");
    for (const auto& c : st.reports().cases_by_state())
      metrics.set("dunningd_cases", "state=" + label_value(c.a), static_cast<double>(c.n));
    metrics.zero("dunningd_steps");
    std::int64_t depth = 0;
    for (const auto& c : st.reports().outbox_by_channel_state()) {
      metrics.set("dunningd_steps", "channel=" + label_value(c.a) + ",state=" + label_value(c.b),
                  static_cast<double>(c.n));
      if (c.b == to_string(store::OutboxState::kPending)) depth += c.n;
    }
    metrics.set("dunningd_outbox_depth", "", static_cast<double>(depth));
    metrics.zero("dunningd_channel_paused");
    for (const auto& p : st.contacts().channel_pauses())
      metrics.set("dunningd_channel_paused",
                  "channel=" + label_value(std::string(to_string(p.channel))), 1);
    metrics.zero("dunningd_recovered_minor_total");
    for (const auto& c : st.reports().recovered_by_currency())
      metrics.set("dunningd_recovered_minor_total", "currency=" + label_value(c.a),
                  static_cast<double>(c.n));
    Response res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = metrics.render();
    res.prepare_payload();
    return res;
  });
}

void Api::Impl::redirect(const std::string& link_token, Respond respond) {
  auto now = clock.now();
  if (link_secret.empty()) {
    respond(html(404, "This link is not valid"));
    return;
  }
  auto claims = verify_link_token(link_token, link_secret, now);
  if (!claims) {
    // A token that verifies at the epoch but not now is genuine but expired.
    bool expired = verify_link_token(link_token, link_secret, TimePoint{}).has_value();
    respond(expired ? html(410, "This link has expired") : html(404, "This link is not valid"));
    return;
  }
  const std::string target = expand_link_pattern(config()->daemon.company.update_url,
                                                 claims->customer_id, claims->case_id);
  on_db(std::move(respond), [claims = *claims, target, now](store::Engine& st) {
    store::Tx tx(st.db());
    // A genuine signature for a case that is not (or no longer) in the database: nothing to
    // record and nowhere to send the customer.
    auto c = st.cases().get(claims.case_id);
    if (!c || c->customer_id != claims.customer_id) return html(404, "This link is not valid");
    // One click per case per kClickWindow: a mail scanner's prefetch, a double click and
    // reloads count once; a customer who comes back later counts again.
    if (st.cases().record_click(claims.case_id, claims.customer_id, now, kClickWindow)) {
      st.cases().add_event(claims.case_id, now, "clicked", "card-update link opened");
    }
    tx.commit();
    Response res{bhttp::status::found, 11};
    res.set(bhttp::field::location, target);
    res.set(bhttp::field::cache_control, "no-store");
    res.prepare_payload();
    return res;
  });
}

}  // namespace dunning::http
