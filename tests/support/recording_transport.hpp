// Fakes of the output channels for tests: a RecordingTransport (email) records every send attempt
// (envelope and MIME) and answers "delivered" unless told to return another outcome for the next
// N sends; a RecordingHttp (SMS, billing, webhooks) records every POST and answers 200 `{}` or a
// scripted reply.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dunning/sender/dispatcher.hpp"
#include "dunning/sender/http_transport.hpp"
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

class RecordingHttp final : public sender::HttpTransport {
 public:
  struct Post {
    std::string url;
    std::string body;
    std::vector<std::string> headers;
  };
  sender::HttpReply post_json(const std::string& url, const std::string& json,
                              const std::vector<std::string>& headers) override {
    posts_.push_back({url, json, headers});
    if (!replies_.empty()) {
      auto r = replies_.front();
      replies_.erase(replies_.begin());
      return r;
    }
    sender::HttpReply r;
    r.status = 200;
    r.body = "{}";
    return r;
  }
  // The next POSTs get these replies, in order.
  void reply_next(sender::HttpReply r) { replies_.push_back(std::move(r)); }
  const std::vector<Post>& posts() const { return posts_; }

 private:
  std::vector<Post> posts_;
  std::vector<sender::HttpReply> replies_;
};

// An email transport and three HTTP channels that record instead of sending.
struct RecordingChannels {
  RecordingTransport email;
  RecordingHttp sms, billing, webhooks;
  sender::Channels view() { return {email, sms, billing, webhooks}; }
};

}  // namespace dunning::testing
