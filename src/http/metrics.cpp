#include "dunning/http/metrics.hpp"

#include <fmt/format.h>

namespace dunning::http {

void Metrics::add(const std::string& name, const std::string& labels, double by) {
  std::lock_guard lock(mutex_);
  families_[name].values[labels] += by;
}

void Metrics::set(const std::string& name, const std::string& labels, double value) {
  std::lock_guard lock(mutex_);
  families_[name].values[labels] = value;
}

void Metrics::clear(const std::string& name) {
  std::lock_guard lock(mutex_);
  if (auto it = families_.find(name); it != families_.end()) it->second.values.clear();
}

void Metrics::describe(const std::string& name, const std::string& type, const std::string& help) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  f.type = type;
  f.help = help;
}

void Metrics::tick_done(TimePoint at, std::chrono::milliseconds duration, bool ok) {
  {
    std::lock_guard lock(mutex_);
    last_tick_ = at;
  }
  set("dunningd_tick_duration_seconds", "", static_cast<double>(duration.count()) / 1000.0);
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

std::optional<TimePoint> Metrics::last_tick() const {
  std::lock_guard lock(mutex_);
  return last_tick_;
}

std::optional<TimePoint> Metrics::last_smtp_success() const {
  std::lock_guard lock(mutex_);
  return last_smtp_;
}

void Metrics::set_role(const Role& role) {
  {
    std::lock_guard lock(mutex_);
    role_ = role;
  }
  describe("dunningd_poller", "gauge", "1 while this instance is the poller (opens and closes cases)");
  clear("dunningd_poller");
  set("dunningd_poller", "instance=" + label_value(role.instance), role.poller ? 1 : 0);
  describe("dunningd_poller_holder", "gauge", "The instance that holds the poller role");
  clear("dunningd_poller_holder");
  if (!role.holder.empty()) set("dunningd_poller_holder", "instance=" + label_value(role.holder), 1);
}

std::optional<Metrics::Role> Metrics::role() const {
  std::lock_guard lock(mutex_);
  return role_;
}

std::string Metrics::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += fmt::format("# HELP {} {}\n", name, f.help);
    out += fmt::format("# TYPE {} {}\n", name, f.type);
    for (const auto& [labels, v] : f.values) {
      out += name;
      if (!labels.empty()) out += "{" + labels + "}";
      out += fmt::format(" {}\n", v);
    }
  }
  return out;
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

}  // namespace dunning::http
