#include "dunning/sender/smtp_transport.hpp"

#include <curl/curl.h>

#include <cstdlib>
#include <cstring>

#include "dunning/config/secrets.hpp"

namespace dunning::sender {
namespace {

struct CurlEasyDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

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

}  // namespace

struct SmtpTransport::Impl {
  config::SmtpConfig cfg;
  std::unique_ptr<CURL, CurlEasyDeleter> curl;
  std::string username;
  std::string password;
};

SmtpTransport::SmtpTransport(const config::SmtpConfig& cfg) : impl_(std::make_unique<Impl>()) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  impl_->cfg = cfg;
  // The environment first, then a systemd credential of the same name (LoadCredential=).
  if (auto u = config::read_secret(cfg.username_env)) impl_->username = *u;
  if (auto p = config::read_secret(cfg.password_env)) impl_->password = *p;
}

SmtpTransport::~SmtpTransport() = default;

std::string SmtpTransport::name() const { return strip_credentials(impl_->cfg.url); }

Delivery SmtpTransport::send(std::string_view envelope_from, std::string_view envelope_to,
                             std::string_view mime) {
  if (!impl_->curl) impl_->curl.reset(curl_easy_init());
  CURL* c = impl_->curl.get();
  if (c == nullptr) return {Delivery::Outcome::kTransient, "curl_easy_init failed", false};
  curl_easy_reset(c);  // keeps the connection cache: the next message reuses the connection

  std::string from = "<" + std::string(envelope_from) + ">";
  std::string to = "<" + std::string(envelope_to) + ">";
  std::unique_ptr<curl_slist, SlistDeleter> rcpt(curl_slist_append(nullptr, to.c_str()));
  Upload up{mime, 0};
  char errbuf[CURL_ERROR_SIZE] = {0};
  const auto& cfg = impl_->cfg;
  long timeout_ms = static_cast<long>(cfg.timeout.count()) * 1000;

  curl_easy_setopt(c, CURLOPT_URL, cfg.url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(mime.size()));
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (cfg.require_tls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
  if (!impl_->username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, impl_->username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, impl_->password.c_str());
  }

  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (rc == CURLE_OK) return {Delivery::Outcome::kDelivered, std::to_string(code), false};

  std::string detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (code > 0) detail += " (last reply " + std::to_string(code) + ")";
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
      return {Delivery::Outcome::kTransient, detail, true};
    case CURLE_LOGIN_DENIED:
      return {Delivery::Outcome::kPermanent, "authentication failed: " + detail, false};
    default:
      break;
  }
  if (code >= 500 && code < 600) {
    // curl says which command the server refused ("RCPT failed: 550").
    if (detail.find("RCPT") != std::string::npos) {
      return {Delivery::Outcome::kRecipientRejected, detail, false};
    }
    return {Delivery::Outcome::kPermanent, detail, false};
  }
  // 4xx replies, dropped connections, half-finished transfers: worth another try.
  curl_easy_cleanup(impl_->curl.release());  // never reuse a connection in an unknown state
  return {Delivery::Outcome::kTransient, detail, code == 0};
}

}  // namespace dunning::sender
