// SMTP delivery through libcurl, reusing one connection across messages.
#pragma once

#include <memory>

#include "dunning/config/config.hpp"
#include "dunning/sender/transport.hpp"

namespace dunning::sender {

class SmtpTransport final : public EmailTransport {
 public:
  // Credentials are read from the environment variables the config names (never from YAML).
  explicit SmtpTransport(const config::SmtpConfig& cfg);
  ~SmtpTransport() override;

  Delivery send(std::string_view envelope_from, std::string_view envelope_to,
                std::string_view mime) override;
  std::string name() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dunning::sender
