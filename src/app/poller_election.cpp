#include "app/poller_election.hpp"

#include <boost/asio/post.hpp>

#include "dunning/app/database.hpp"

namespace dunning::app {

PollerElection::PollerElection(boost::asio::io_context& io,
                               std::unique_ptr<store::Leadership> leadership,
                               http::Metrics& metrics, std::chrono::seconds every)
    : timer_(io), leadership_(std::move(leadership)), metrics_(metrics), every_(every) {}

PollerElection::~PollerElection() { thread_.join(); }

void PollerElection::start() {
  poller_ = ask_poller_role(*leadership_, &metrics_);
  schedule();
}

void PollerElection::stop() {
  stopped_ = true;
  timer_.cancel();
}

void PollerElection::schedule() {
  timer_.expires_after(every_);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    // The ask blocks on the database: off the io_context. Asks never overlap: the next one is
    // scheduled only once this one has answered.
    boost::asio::post(thread_, [this] {
      poller_ = ask_poller_role(*leadership_, &metrics_);
      boost::asio::post(timer_.get_executor(), [this] {
        if (!stopped_) schedule();
      });
    });
  });
}

}  // namespace dunning::app
