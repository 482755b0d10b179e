#include "sender/http_client.hpp"

#include <curl/curl.h>

#include "sender/curl_handles.hpp"

namespace dunning::sender {
namespace {

constexpr std::size_t kMaxBody = 64 * 1024;

std::size_t write_cb(char* data, std::size_t size, std::size_t nmemb, void* userdata) {
  auto* out = static_cast<std::string*>(userdata);
  std::size_t n = size * nmemb;
  if (out->size() < kMaxBody) out->append(data, std::min(n, kMaxBody - out->size()));
  return n;
}

}  // namespace

std::string HttpReply::describe() const {
  if (status == 0) return error.empty() ? "no answer" : error;
  std::string s = "HTTP " + std::to_string(status);
  if (!body.empty()) {
    std::string b = body.substr(0, 200);
    for (char& c : b)
      if (c == '\r' || c == '\n') c = ' ';
    s += ": " + b;
  }
  return s;
}

struct HttpClient::Impl {
  Seconds timeout;
  CurlEasy curl;
};

HttpClient::HttpClient(Seconds timeout) : impl_(std::make_unique<Impl>()) {
  impl_->timeout = timeout;
}

std::unique_ptr<HttpTransport> make_http_transport(Seconds timeout) {
  return std::make_unique<HttpClient>(timeout);
}

HttpClient::~HttpClient() = default;

HttpReply HttpClient::post_json(const std::string& url, const std::string& json,
                                const std::vector<std::string>& headers) {
  HttpReply reply;
  if (!impl_->curl) impl_->curl.reset(curl_easy_init());
  CURL* c = impl_->curl.get();
  if (c == nullptr) {
    reply.error = "curl_easy_init failed";
    return reply;
  }
  curl_easy_reset(c);  // keeps the connection cache
  CurlSlist list(curl_slist_append(nullptr, "Content-Type: application/json"));
  for (const auto& h : headers) {
    std::string one = h;
    for (char& ch : one)
      if (ch == '\r' || ch == '\n') ch = ' ';  // no header injection through a value
    list.reset(curl_slist_append(list.release(), one.c_str()));
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  const long timeout_ms = static_cast<long>(impl_->timeout.count()) * 1000;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    reply.status = 0;
    reply.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    impl_->curl.reset();  // never reuse a connection in an unknown state
    return reply;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  return reply;
}

}  // namespace dunning::sender
