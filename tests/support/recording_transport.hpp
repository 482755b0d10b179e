// A fake EmailTransport for tests: records every send attempt (envelope and MIME) and answers
// "delivered" unless told to return another outcome for the next N sends.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dunning/sender/transport.hpp"

namespace dunning::testing {

class RecordingTransport final : public sender::EmailTransport {
 public:
  struct Attempt {
    std::string envelope_from;
    std::string envelope_to;
    std::string mime;
    sender::Delivery::Outcome outcome;
  };

  sender::Delivery send(std::string_view envelope_from, std::string_view envelope_to,
                        std::string_view mime) override {
    sender::Delivery d;
    d.outcome = sender::Delivery::Outcome::kDelivered;
    d.detail = "250 2.0.0 accepted";
    if (scripted_left_ > 0) {
      --scripted_left_;
      d = scripted_;
    }
    attempts_.push_back(
        {std::string(envelope_from), std::string(envelope_to), std::string(mime), d.outcome});
    return d;
  }

  std::string name() const override { return "recording"; }

  // The next `n` sends return `outcome` instead of delivering.
  void fail_next(int n, sender::Delivery outcome) {
    scripted_left_ = n;
    scripted_ = std::move(outcome);
  }
  void fail_next(int n, sender::Delivery::Outcome outcome, std::string detail,
                 bool connection_failed = false) {
    sender::Delivery d;
    d.outcome = outcome;
    d.detail = std::move(detail);
    d.connection_failed = connection_failed;
    fail_next(n, std::move(d));
  }

  // Every call of send(), in order, whatever its outcome.
  const std::vector<Attempt>& attempts() const { return attempts_; }

  // Only the sends that were answered "delivered".
  std::vector<Attempt> delivered() const {
    std::vector<Attempt> out;
    for (const auto& a : attempts_)
      if (a.outcome == sender::Delivery::Outcome::kDelivered) out.push_back(a);
    return out;
  }

 private:
  std::vector<Attempt> attempts_;
  int scripted_left_ = 0;
  sender::Delivery scripted_;
};

}  // namespace dunning::testing
