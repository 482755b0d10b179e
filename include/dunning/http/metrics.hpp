// A small thread-safe metrics registry (owned by the daemon, passed to whoever records) and its
// Prometheus text rendering. Also the daemon's health facts: last tick and last SMTP success.
// Every family has HELP and TYPE; series of a known label set read 0 from the start instead of
// appearing on first use; counters end in _total; the poll duration is a histogram.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/outcome_counters.hpp"

namespace dunning::http {

class Metrics final : public OutcomeCounters {
 public:
  // Declares every family the daemon itself records, with its series at 0, and
  // dunningd_build_info{version="..."} 1.
  Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // name{labels} += by. `labels` is the Prometheus label text: route="/v1/events",status="200".
  // Label values must come from a bounded set (see route_label): every series stays forever.
  void add(const std::string& name, const std::string& labels, double by = 1);
  void set(const std::string& name, const std::string& labels, double value);
  // Sets every series of `name` to 0 (before re-setting gauges read from the database), so a
  // state that empties reads 0 instead of vanishing.
  void zero(const std::string& name);
  // Declares the HELP/TYPE lines of a metric family (counter | gauge).
  void describe(const std::string& name, const std::string& type, const std::string& help);
  // Declares a histogram with these upper bounds (ascending; +Inf is implied).
  void describe_histogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds);
  // Records one observation of a histogram declared with describe_histogram.
  void observe(const std::string& name, double value);

  // A poll finished (ok or not: `error` says why) at `at`, taking `duration`.
  void tick_done(TimePoint at, std::chrono::milliseconds duration, bool ok,
                 const std::string& error = {});
  // Polls that failed in a row since the last good one, and the last one's error.
  struct PollFailures {
    int in_a_row = 0;
    std::string last_error;
  };
  PollFailures poll_failures() const;
  void smtp_success(TimePoint at);
  std::optional<TimePoint> last_tick() const;
  std::optional<TimePoint> last_smtp_success() const;

  // Several instances on one database (docs/instances.md): whether this one is the poller, its
  // id and the poller's ("" unknown). Sets dunningd_poller{instance=...} 1|0 and
  // dunningd_poller_holder{instance=<the poller>} 1 too.
  struct Role {
    bool poller = false;
    std::string instance;
    std::string holder;
  };
  void set_role(const Role& role);
  std::optional<Role> role() const;  // nullopt before the first poll

  // OutcomeCounters: dunningd_messages_{sent,failed,retried,skipped}_total{channel} and
  // dunningd_cases_{opened,recovered,lost}_total.
  void on_sent(std::string_view channel) override;
  void on_failed(std::string_view channel) override;
  void on_retried(std::string_view channel) override;
  void on_skipped(std::string_view channel) override;
  void on_cases(int opened, int recovered, int lost) override;

  // Every family in Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Histogram {
    std::vector<std::uint64_t> counts;  // per bound, not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    std::string type = "gauge";
    std::string help;
    std::map<std::string, double> values;  // labels -> value
    std::vector<double> bounds;            // histograms only
    Histogram histogram;                   // histograms only (no labels)
  };
  void add_locked(const std::string& name, const std::string& labels, double by);
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::optional<TimePoint> last_tick_;
  std::optional<TimePoint> last_smtp_;
  std::optional<Role> role_;
  PollFailures failures_;
};

// Declares the families the HTTP API records (requests, ingest, and the gauges /metrics reads
// from the database), each known series at 0.
void declare_api_metrics(Metrics& m);

// Escapes a label value for the text format.
std::string label_value(const std::string& v);

// The route label of a request from its decoded path segments: one of a fixed table
// ("/v1/events", "/v1/cases", "/v1/cases/{id}", "/v1/cases/{id}/{action}", "/v1/ledger",
// "/v1/webhooks/stripe", "/r/{token}", "/healthz", "/metrics", "other"), never the raw path,
// so a stranger's requests cannot grow the number of series.
std::string_view route_label(const std::vector<std::string>& segments);
// The same for a request target ("/v1/cases/42?x=1"), split on '/' without decoding.
std::string_view route_label(std::string_view target);

}  // namespace dunning::http
