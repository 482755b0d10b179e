// Internal to `dunningd run`: asks the store's Leadership every poll interval, on a thread of its
// own, whether this instance is the poller, so that the role changes hands within one interval
// even while this instance is busy sending a long backlog. The worker reads the last answer
// before each tick (docs/instances.md). The answer and the poller's id go to /healthz and
// /metrics (Metrics::set_role).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <memory>

#include "dunning/http/metrics.hpp"
#include "dunning/store/leadership.hpp"

namespace dunning::app {

class PollerElection {
 public:
  PollerElection(boost::asio::io_context& io, std::unique_ptr<store::Leadership> leadership,
                 http::Metrics& metrics, std::chrono::seconds every);
  PollerElection(const PollerElection&) = delete;
  PollerElection& operator=(const PollerElection&) = delete;
  ~PollerElection();

  // Asks once now (on the caller's thread, so the first tick knows), then every `every`.
  void start();
  // Cancels the timer (from the io_context's thread); asks in flight finish in the destructor.
  void stop();
  // The last answer: true while this instance is the poller. Any thread.
  bool poller() const { return poller_; }

 private:
  void schedule();

  boost::asio::steady_timer timer_;
  boost::asio::thread_pool thread_{1};  // the one thread that touches `leadership_`
  std::unique_ptr<store::Leadership> leadership_;
  http::Metrics& metrics_;
  std::chrono::seconds every_;
  std::atomic<bool> poller_{false};
  bool stopped_ = false;  // io_context thread only
};

}  // namespace dunning::app
