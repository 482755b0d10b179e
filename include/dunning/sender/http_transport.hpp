// The extension point of the HTTP channels (SMS API, billing endpoint, outbound webhooks): one
// JSON POST and its answer. The daemon wires libcurl clients (make_http_transport); `simulate`
// and tests wire recording ones, so no run of them can reach a real endpoint.
#pragma once

#include <memory>
#include <string>
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

class HttpTransport {
 public:
  HttpTransport() = default;
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;
  virtual ~HttpTransport() = default;

  // POSTs `json` (Content-Type: application/json) with the extra headers ("Name: value").
  // Not thread-safe: one per thread.
  virtual HttpReply post_json(const std::string& url, const std::string& json,
                              const std::vector<std::string>& headers) = 0;
};

// A libcurl client (one reused connection) whose whole exchange is bounded by `timeout`.
std::unique_ptr<HttpTransport> make_http_transport(Seconds timeout);

}  // namespace dunning::sender
