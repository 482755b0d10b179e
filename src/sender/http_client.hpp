// Internal: a small blocking HTTP client over one reused libcurl easy handle, for the SMS API, the
// billing endpoint and outbound webhooks. Not thread-safe: one per thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "dunning/core/clock.hpp"

namespace dunning::sender {

struct HttpReply {
  long status = 0;    // 0: no HTTP answer at all (connection refused, timeout...)
  std::string body;   // at most 64 KiB is kept
  std::string error;  // the network error when status == 0

  bool ok() const { return status >= 200 && status < 300; }
  // Worth another try later: no answer, 408, 425, 429 or 5xx.
  bool transient() const {
    return status == 0 || status == 408 || status == 425 || status == 429 || status >= 500;
  }
  std::string describe() const;  // "HTTP 503: <first 200 bytes of the body>" or the error
};

class HttpClient {
 public:
  explicit HttpClient(Seconds timeout);
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  ~HttpClient();

  // POSTs `json` (Content-Type: application/json) with the extra headers ("Name: value").
  HttpReply post_json(const std::string& url, const std::string& json,
                      const std::vector<std::string>& headers);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dunning::sender
