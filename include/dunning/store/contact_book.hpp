// The contact book: delivery outcomes that outlive one outbox row. An address (or number) a
// provider refused permanently, per customer and channel; and a channel paused for everyone by
// a refusal that is not about the recipient. Which of a customer's addresses a step would use,
// and what a refusal means, is the caller's decision: the book only remembers exact addresses.
// One instance per connection, not thread-safe. Throws StoreError only. Writes join the caller's
// Tx (outside a Tx each write commits on its own).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/core/steps.hpp"

namespace dunning::store {

// An address or number a provider refused permanently.
struct ContactStatus {
  std::string customer_id;
  Channel channel = Channel::kEmail;  // kEmail | kSms
  std::string address;
  std::string state;  // unreachable
  std::string reason;
  TimePoint at;
};

// A channel stopped for everyone.
struct ChannelPause {
  Channel channel = Channel::kEmail;
  std::string reason;
  TimePoint since;
  TimePoint retry_at;
};

class ContactBook {
 public:
  ContactBook() = default;
  ContactBook(const ContactBook&) = delete;
  ContactBook& operator=(const ContactBook&) = delete;
  virtual ~ContactBook() = default;

  // ---- unreachable addresses
  // Records (or refreshes the reason of) a permanent refusal of this exact address.
  virtual void mark_unreachable(const std::string& customer_id, Channel channel,
                                const std::string& address, const std::string& reason,
                                TimePoint at) = 0;
  // The status of this exact address; nullopt when it was never refused (a new address of the
  // same customer is reachable again).
  virtual std::optional<ContactStatus> contact_status(const std::string& customer_id,
                                                      Channel channel,
                                                      const std::string& address) = 0;

  // ---- channel pauses
  // Pauses `channel` until retry_at; an ongoing pause keeps its `since` and gets the new reason
  // and retry_at.
  virtual void pause_channel(Channel channel, const std::string& reason, TimePoint since,
                             TimePoint retry_at) = 0;
  // Lifts the pause of `channel` (nothing when it is not paused).
  virtual void resume_channel(Channel channel) = 0;
  // Every paused channel (for /healthz and /metrics: a non-empty list is unhealthy).
  virtual std::vector<ChannelPause> channel_pauses() = 0;
};

}  // namespace dunning::store
