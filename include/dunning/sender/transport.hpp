// The extension point of the sender: a transport delivers one rendered message. One concrete
// transport per file beside this one (smtp_transport.hpp, ...).
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

namespace dunning::sender {

// Process-wide set-up of the transports' libraries (libcurl): once, from main(), before any
// thread starts. Not thread-safe.
void global_init();

struct Delivery {
  enum class Outcome {
    kDelivered,          // the server accepted the message
    kTransient,          // 4xx, timeout, connection refused: try again later
    kRecipientRejected,  // permanent refusal of this recipient (e.g. 550 no such user)
    kPermanent,          // permanent refusal not about the recipient (auth, relay denied)
  };
  Outcome outcome = Outcome::kDelivered;
  std::string detail;  // the server's words or the network error, for the log and the outbox

  bool delivered() const { return outcome == Outcome::kDelivered; }
  // The server could not be reached at all: later messages of this round will fail the same way.
  bool connection_failed = false;
  // False when the message was never handed to the server (the batch stopped before it).
  bool attempted = true;

  // Further messages to the same server would fail the same way.
  bool stops_batch() const { return connection_failed || outcome == Outcome::kPermanent; }
};

// One message of a batch handed to EmailTransport::send_all.
struct OutgoingEmail {
  std::string envelope_from;
  std::string envelope_to;
  std::string mime;
};

class EmailTransport {
 public:
  EmailTransport() = default;
  EmailTransport(const EmailTransport&) = delete;
  EmailTransport& operator=(const EmailTransport&) = delete;
  virtual ~EmailTransport() = default;

  // Sends a complete MIME message from `envelope_from` to `envelope_to`.
  virtual Delivery send(std::string_view envelope_from, std::string_view envelope_to,
                        std::string_view mime) = 0;
  // Sends a batch, possibly over several connections in parallel; one Delivery per message, in
  // order. After a connection failure or a permanent refusal not about the recipient, messages
  // not yet started are not attempted (kTransient, attempted == false); so are they once *stop
  // turns true. The default sends one after the other through send().
  virtual std::vector<Delivery> send_all(const std::vector<OutgoingEmail>& messages,
                                         const std::atomic<bool>* stop = nullptr);
  // A short human name for logs ("smtp://127.0.0.1:2525").
  virtual std::string name() const = 0;
};

}  // namespace dunning::sender
