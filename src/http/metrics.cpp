#include "dunning/http/metrics.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "dunning/store/cases.hpp"
#include "dunning/store/outbox.hpp"

namespace dunning::http {

namespace {

// The label values the daemon's own families start with (0 until something happens).
constexpr const char* kChannels[] = {"email", "sms", "action", "webhook"};

std::string channel_label(std::string_view channel) {
  return "channel=" + label_value(std::string(channel));
}

// A sample value as Prometheus parses it (Go's ParseFloat).
std::string number(double v) { return fmt::format("{}", v); }

}  // namespace

Metrics::Metrics() {
  describe("dunningd_build_info", "gauge", "Always 1; the version label says which dunningd runs");
  set("dunningd_build_info", "version=" + label_value(DUNNINGD_VERSION), 1);
  describe("dunningd_ticks_total", "counter", "Polls finished, by result (ok | error)");
  set("dunningd_ticks_total", "result=\"ok\"", 0);
  set("dunningd_ticks_total", "result=\"error\"", 0);
  describe_histogram("dunningd_tick_duration_seconds",
                     "Duration of a poll (scheduler tick and outbox dispatch)",
                     {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120});
  describe("dunningd_last_tick_timestamp_seconds", "gauge",
           "Unix time the last poll finished (0: none yet)");
  set("dunningd_last_tick_timestamp_seconds", "", 0);
  describe("dunningd_smtp_last_success_timestamp_seconds", "gauge",
           "Unix time of the last poll that delivered a message (0: none yet)");
  set("dunningd_smtp_last_success_timestamp_seconds", "", 0);
  const struct {
    const char* name;
    const char* help;
  } outcomes[] = {
      {"dunningd_messages_sent_total", "Steps delivered or accepted, by channel"},
      {"dunningd_messages_failed_total", "Steps failed permanently, by channel"},
      {"dunningd_messages_retried_total", "Transient delivery failures (tried again), by channel"},
      {"dunningd_messages_skipped_total",
       "Steps with nothing to send on their channel (recorded as skipped), by channel"},
  };
  for (const auto& o : outcomes) {
    describe(o.name, "counter", o.help);
    for (const char* c : kChannels) set(o.name, channel_label(c), 0);
  }
  describe("dunningd_cases_opened_total", "counter", "Cases opened by the scheduler");
  describe("dunningd_cases_recovered_total", "counter", "Cases closed as recovered");
  describe("dunningd_cases_lost_total", "counter", "Cases closed as lost");
  for (const char* n : {"dunningd_cases_opened_total", "dunningd_cases_recovered_total",
                        "dunningd_cases_lost_total"})
    set(n, "", 0);
  // Several instances on one database (docs/instances.md); the series come with the first
  // answer of the election (set_role).
  describe("dunningd_poller", "gauge",
           "1 while this instance is the poller (opens and closes cases), else 0");
  describe("dunningd_poller_holder", "gauge", "1 for the instance that holds the poller role");
}

void Metrics::add_locked(const std::string& name, const std::string& labels, double by) {
  families_[name].values[labels] += by;
}

void Metrics::add(const std::string& name, const std::string& labels, double by) {
  std::lock_guard lock(mutex_);
  add_locked(name, labels, by);
}

void Metrics::set(const std::string& name, const std::string& labels, double value) {
  std::lock_guard lock(mutex_);
  families_[name].values[labels] = value;
}

void Metrics::zero(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) {
    for (auto& [labels, v] : it->second.values) v = 0;
  }
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  f.type = type;
  f.help = help;
}

void Metrics::describe_histogram(const std::string& name, const std::string& help,
                                 std::vector<double> bounds) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  f.type = "histogram";
  f.help = help;
  std::sort(bounds.begin(), bounds.end());
  f.bounds = std::move(bounds);
  f.histogram = Histogram{};
  f.histogram.counts.assign(f.bounds.size(), 0);
}

void Metrics::observe(const std::string& name, double value) {
  std::lock_guard lock(mutex_);
  auto it = families_.find(name);
  if (it == families_.end() || it->second.type != "histogram") return;
  auto& f = it->second;
  auto bound = std::lower_bound(f.bounds.begin(), f.bounds.end(), value);
  if (bound != f.bounds.end())
    ++f.histogram.counts[static_cast<std::size_t>(bound - f.bounds.begin())];
  ++f.histogram.count;
  f.histogram.sum += value;
}

void Metrics::tick_done(TimePoint at, std::chrono::milliseconds duration, bool ok,
                        const std::string& error) {
  {
    std::lock_guard lock(mutex_);
    last_tick_ = at;
    if (ok) {
      failures_ = {};
    } else {
      ++failures_.in_a_row;
      failures_.last_error = error;
    }
  }
  observe("dunningd_tick_duration_seconds", static_cast<double>(duration.count()) / 1000.0);
  add("dunningd_ticks_total", ok ? "result=\"ok\"" : "result=\"error\"");
  set("dunningd_last_tick_timestamp_seconds", "",
      static_cast<double>(at.time_since_epoch().count()));
}

void Metrics::smtp_success(TimePoint at) {
  {
    std::lock_guard lock(mutex_);
    last_smtp_ = at;
  }
  set("dunningd_smtp_last_success_timestamp_seconds", "",
      static_cast<double>(at.time_since_epoch().count()));
}

Metrics::PollFailures Metrics::poll_failures() const {
  std::lock_guard lock(mutex_);
  return failures_;
}

std::optional<TimePoint> Metrics::last_tick() const {
  std::lock_guard lock(mutex_);
  return last_tick_;
}

std::optional<TimePoint> Metrics::last_smtp_success() const {
  std::lock_guard lock(mutex_);
  return last_smtp_;
}

void Metrics::set_role(const Role& role) {
  // One series each: this instance's (its id is fixed for the life of the process) and the
  // current holder's (a holder that changed hands is gone from the page, not left at 0).
  std::lock_guard lock(mutex_);
  role_ = role;
  families_["dunningd_poller"].values = {
      {"instance=" + label_value(role.instance), role.poller ? 1 : 0}};
  auto& holder = families_["dunningd_poller_holder"].values;
  holder.clear();
  if (!role.holder.empty()) holder["instance=" + label_value(role.holder)] = 1;
}

std::optional<Metrics::Role> Metrics::role() const {
  std::lock_guard lock(mutex_);
  return role_;
}

void Metrics::on_sent(std::string_view channel) {
  add("dunningd_messages_sent_total", channel_label(channel));
}

void Metrics::on_failed(std::string_view channel) {
  add("dunningd_messages_failed_total", channel_label(channel));
}

void Metrics::on_retried(std::string_view channel) {
  add("dunningd_messages_retried_total", channel_label(channel));
}

void Metrics::on_skipped(std::string_view channel) {
  add("dunningd_messages_skipped_total", channel_label(channel));
}

void Metrics::on_cases(int opened, int recovered, int lost) {
  std::lock_guard lock(mutex_);
  add_locked("dunningd_cases_opened_total", "", opened);
  add_locked("dunningd_cases_recovered_total", "", recovered);
  add_locked("dunningd_cases_lost_total", "", lost);
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n", name, f.help.empty() ? name : f.help);
    out += fmt::format("# TYPE {} {}\n", name, f.type);
    if (f.type == "histogram") {
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < f.bounds.size(); ++i) {
        cumulative += f.histogram.counts[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, number(f.bounds[i]), cumulative);
      }
      out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, f.histogram.count);
      out += fmt::format("{}_sum {}\n{}_count {}\n", name, number(f.histogram.sum), name,
                         f.histogram.count);
      continue;
    }
    for (const auto& [labels, v] : f.values) {
      out += name;
      if (!labels.empty()) out += "{" + labels + "}";
      out += " " + number(v) + "\n";
    }
  }
  return out;
}

void declare_api_metrics(Metrics& m) {
  m.describe("dunningd_http_requests_total", "counter", "HTTP requests by route and status");
  m.describe("dunningd_events_ingested_total", "counter",
             "Events accepted by source and result (written | duplicate)");
  m.describe("dunningd_ingest_commits_total", "counter",
             "Group-commit transactions of the ingest API");
  m.describe("dunningd_cases", "gauge", "Cases by state");
  m.describe("dunningd_steps", "gauge", "Outbox steps by channel and state");
  m.describe("dunningd_outbox_depth", "gauge", "Pending outbox rows");
  m.describe("dunningd_channel_paused", "gauge",
             "1 while a channel is paused for everyone by a permanent refusal");
  m.describe("dunningd_recovered_minor_total", "counter",
             "Recovered amount per currency in minor units");
  for (const char* source : {"api", "stripe"})
    for (const char* result : {"written", "duplicate", "error"})
      m.set("dunningd_events_ingested_total",
            std::string("source=\"") + source + "\",result=\"" + result + "\"", 0);
  m.set("dunningd_ingest_commits_total", "", 0);
  m.set("dunningd_outbox_depth", "", 0);
  for (const char* channel : {"email", "sms", "action", "webhook"})
    m.set("dunningd_channel_paused", std::string("channel=\"") + channel + "\"", 0);
  for (auto state :
       {store::CaseState::kOpen, store::CaseState::kPaused, store::CaseState::kRecovered,
        store::CaseState::kLost, store::CaseState::kCancelled})
    m.set("dunningd_cases", "state=" + label_value(std::string(store::to_string(state))), 0);
  for (const char* channel : {"email", "sms", "action"})
    for (auto state :
         {store::OutboxState::kPending, store::OutboxState::kSent, store::OutboxState::kFailed,
          store::OutboxState::kCancelled, store::OutboxState::kSkipped})
      m.set("dunningd_steps",
            std::string("channel=\"") + channel +
                "\",state=" + label_value(std::string(store::to_string(state))),
            0);
}

std::string label_value(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string_view route_label(const std::vector<std::string>& s) {
  const auto n = s.size();
  if (n == 1 && s[0] == "healthz") return "/healthz";
  if (n == 1 && s[0] == "metrics") return "/metrics";
  if (n == 2 && s[0] == "r") return "/r/{token}";
  if (n < 2 || s[0] != "v1") return "other";
  if (n == 2 && s[1] == "events") return "/v1/events";
  if (n == 2 && s[1] == "ledger") return "/v1/ledger";
  if (n == 3 && s[1] == "webhooks" && s[2] == "stripe") return "/v1/webhooks/stripe";
  if (s[1] == "cases") {
    if (n == 2) return "/v1/cases";
    if (n == 3) return "/v1/cases/{id}";
    if (n == 4) return "/v1/cases/{id}/{action}";
  }
  return "other";
}

std::string_view route_label(std::string_view target) {
  target = target.substr(0, target.find_first_of("?#"));
  std::vector<std::string> segments;
  if (!target.empty() && target.front() == '/') target.remove_prefix(1);
  while (true) {
    auto slash = target.find('/');
    segments.emplace_back(target.substr(0, slash));
    if (slash == std::string_view::npos) break;
    target.remove_prefix(slash + 1);
    if (segments.size() > 4) return "other";  // no route is that deep
  }
  return route_label(segments);
}

}  // namespace dunning::http
