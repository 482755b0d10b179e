// SMTP delivery through libcurl: smtp:// (STARTTLS when required) or smtps://, AUTH from the
// environment or a systemd credential, `connections` parallel connections each reused across
// messages, timeouts. Replies are classified: 5xx to RCPT is about the recipient; any other
// permanent refusal (AUTH, MAIL FROM, DATA, TLS unavailable) is about the server or our account.
#pragma once

#include <memory>

#include "dunning/config/config.hpp"
#include "dunning/sender/transport.hpp"

namespace dunning::sender {

class SmtpTransport final : public EmailTransport {
 public:
  // Credentials are the secrets the config names (environment variable, else
  // $CREDENTIALS_DIRECTORY/<name>); never YAML.
  explicit SmtpTransport(const config::SmtpConfig& cfg);
  ~SmtpTransport() override;

  Delivery send(std::string_view envelope_from, std::string_view envelope_to,
                std::string_view mime) override;
  // Spreads the batch over cfg.connections connections (one thread each).
  std::vector<Delivery> send_all(const std::vector<OutgoingEmail>& messages,
                                 const SendBounds& bounds = {}) override;
  std::string name() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dunning::sender
