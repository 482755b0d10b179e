#include "dunning/sender/smtp_transport.hpp"

#include <curl/curl.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "dunning/config/secrets.hpp"
#include "sender/curl_handles.hpp"

namespace dunning::sender {
namespace {

struct Upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t read_cb(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* up = static_cast<Upload*>(userdata);
  std::size_t room = size * nitems;
  std::size_t n = std::min(room, up->data.size() - up->offset);
  std::memcpy(buffer, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

std::string strip_credentials(const std::string& url) {
  auto at = url.find('@');
  auto scheme = url.find("://");
  if (at == std::string::npos || scheme == std::string::npos || at < scheme) return url;
  return url.substr(0, scheme + 3) + url.substr(at + 1);
}

// One SMTP connection: a curl easy handle whose connection cache keeps the session open.
class Connection {
 public:
  Connection(const config::SmtpConfig& cfg, const std::string& user, const std::string& password)
      : cfg_(cfg), user_(user), password_(password) {}

  Delivery send(std::string_view envelope_from, std::string_view envelope_to,
                std::string_view mime) {
    if (!curl_) curl_.reset(curl_easy_init());
    CURL* c = curl_.get();
    if (c == nullptr) return {Delivery::Outcome::kTransient, "curl_easy_init failed", true};
    curl_easy_reset(c);  // keeps the connection cache: the next message reuses the connection

    std::string from = "<" + std::string(envelope_from) + ">";
    std::string to = "<" + std::string(envelope_to) + ">";
    CurlSlist rcpt(curl_slist_append(nullptr, to.c_str()));
    Upload up{mime, 0};
    char errbuf[CURL_ERROR_SIZE] = {0};
    const long timeout_ms = static_cast<long>(cfg_.timeout.count()) * 1000;

    curl_easy_setopt(c, CURLOPT_URL, cfg_.url.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mime.size()));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    // smtp.timeout bounds each step, not the whole transaction: connecting, every reply of the
    // server, and a stalled upload (no byte moved for that long). A relay that answers every
    // command in 10 s still gets the message when the timeout is 30 s.
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_SERVER_RESPONSE_TIMEOUT, static_cast<long>(cfg_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(cfg_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (cfg_.require_tls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    // Peer and host verification stay on (curl's default); ca_file only changes whom we trust.
    if (!cfg_.ca_file.empty()) {
      curl_easy_setopt(c, CURLOPT_CAINFO, cfg_.ca_file.c_str());
      curl_easy_setopt(c, CURLOPT_CAPATH, nullptr);
    }
    if (!user_.empty()) {
      curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
      curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
    }

    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) return {Delivery::Outcome::kDelivered, std::to_string(code), false};

    // Never reuse a connection after a failure: its SMTP transaction may be half-open.
    curl_.reset();
    std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    if (code > 0 && detail.find(std::to_string(code)) == std::string::npos)
      detail += " (last reply " + std::to_string(code) + ")";
    switch (rc) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_OPERATION_TIMEDOUT:
        return {Delivery::Outcome::kTransient, detail, true};
      case CURLE_LOGIN_DENIED:
        return {Delivery::Outcome::kPermanent, "authentication failed: " + detail, false};
      case CURLE_USE_SSL_FAILED:
        return {Delivery::Outcome::kPermanent, "STARTTLS required but not available: " + detail,
                false};
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
        // Trying again cannot help until the certificate or smtp.ca_file is fixed.
        return {Delivery::Outcome::kPermanent,
                "the server's TLS certificate is not trusted (see smtp.ca_file): " + detail, false};
      default:
        break;
    }
    if (code >= 500 && code < 600) {
      // curl names the command the server refused ("RCPT failed: 550").
      if (detail.find("RCPT") != std::string::npos) {
        return {Delivery::Outcome::kRecipientRejected, detail, false};
      }
      return {Delivery::Outcome::kPermanent, detail, false};
    }
    // 4xx replies, dropped connections, half-finished transfers: worth another try. A 421 or a
    // connection dropped before any reply means the server is unwell: stop this round.
    return {Delivery::Outcome::kTransient, detail, code == 0 || code == 421};
  }

 private:
  const config::SmtpConfig& cfg_;
  const std::string& user_;
  const std::string& password_;
  CurlEasy curl_;
};

}  // namespace

struct SmtpTransport::Impl {
  config::SmtpConfig cfg;
  std::string username;
  std::string password;
  std::vector<std::unique_ptr<Connection>> connections;
};

SmtpTransport::SmtpTransport(const config::SmtpConfig& cfg) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = cfg;
  impl_->username = config::read_secret(cfg.username_env).value_or("");
  impl_->password = config::read_secret(cfg.password_env).value_or("");
  for (int i = 0; i < std::max(1, cfg.connections); ++i) {
    impl_->connections.push_back(
        std::make_unique<Connection>(impl_->cfg, impl_->username, impl_->password));
  }
}

SmtpTransport::~SmtpTransport() = default;

std::string SmtpTransport::name() const { return strip_credentials(impl_->cfg.url); }

Delivery SmtpTransport::send(std::string_view envelope_from, std::string_view envelope_to,
                             std::string_view mime) {
  return impl_->connections.front()->send(envelope_from, envelope_to, mime);
}

std::vector<Delivery> SmtpTransport::send_all(const std::vector<OutgoingEmail>& messages,
                                              const std::atomic<bool>* stop_flag) {
  std::vector<Delivery> out(
      messages.size(),
      Delivery{Delivery::Outcome::kTransient,
               "not attempted: the mail server failed earlier in this batch", false, false});
  const std::size_t workers = std::min(impl_->connections.size(), messages.size());
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  auto work = [&](Connection& conn) {
    for (;;) {
      if (stop.load() || (stop_flag != nullptr && stop_flag->load())) return;
      std::size_t i = next.fetch_add(1);
      if (i >= messages.size()) return;
      const auto& m = messages[i];
      out[i] = conn.send(m.envelope_from, m.envelope_to, m.mime);
      if (out[i].stops_batch()) stop.store(true);
    }
  };
  if (workers <= 1) {
    if (!messages.empty()) work(*impl_->connections.front());
    return out;
  }
  std::vector<std::jthread> threads;
  threads.reserve(workers);
  for (std::size_t w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] { work(*impl_->connections[w]); });
  }
  threads.clear();  // joins
  return out;
}

}  // namespace dunning::sender
