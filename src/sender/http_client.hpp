// Internal: a small blocking HTTP client over one reused libcurl easy handle, for the SMS API, the
// billing endpoint and outbound webhooks. Not thread-safe: one per thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dunning/core/clock.hpp"
#include "dunning/sender/http_transport.hpp"

namespace dunning::sender {

class HttpClient final : public HttpTransport {
 public:
  explicit HttpClient(Seconds timeout);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient() override;

  // POSTs `json` (Content-Type: application/json) with the extra headers ("Name: value").
  HttpReply post_json(const std::string& url, const std::string& json,
                      const std::vector<std::string>& headers) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dunning::sender
