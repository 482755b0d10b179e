// A small thread-safe metrics registry (owned by the daemon, passed to whoever records) and its
// Prometheus text rendering. Also the daemon's health facts: last tick and last SMTP success.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "dunning/core/clock.hpp"

namespace dunning::http {

class Metrics {
 public:
  Metrics() = default;
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // name{labels} += by. `labels` is the Prometheus label text: route="/v1/events",status="200".
  void add(const std::string& name, const std::string& labels, double by = 1);
  void set(const std::string& name, const std::string& labels, double value);
  // Drops every series of `name` (before re-setting gauges read from the database).
  void clear(const std::string& name);
  // Declares the HELP/TYPE lines of a metric family (counter | gauge).
  void describe(const std::string& name, const std::string& type, const std::string& help);

  // A poll finished (ok or not) at `at`, taking `duration`.
  void tick_done(TimePoint at, std::chrono::milliseconds duration, bool ok);
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

  // Every family in Prometheus text exposition format 0.0.4.
  std::string render() const;

 private:
  struct Family {
    std::string type = "gauge";
    std::string help;
    std::map<std::string, double> values;  // labels -> value
  };
  mutable std::mutex mutex_;
  std::map<std::string, Family> families_;
  std::optional<TimePoint> last_tick_;
  std::optional<TimePoint> last_smtp_;
  std::optional<Role> role_;
};

// Escapes a label value for the text format.
std::string label_value(const std::string& v);

}  // namespace dunning::http
