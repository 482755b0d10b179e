#include "dunning/sender/transport.hpp"

#include <curl/curl.h>

namespace dunning::sender {

void global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

std::vector<Delivery> EmailTransport::send_all(const std::vector<OutgoingEmail>& messages,
                                               const std::atomic<bool>* stop_flag) {
  std::vector<Delivery> out;
  out.reserve(messages.size());
  bool stop = false;
  for (const auto& m : messages) {
    if (stop || (stop_flag != nullptr && stop_flag->load())) {
      out.push_back({Delivery::Outcome::kTransient, "not attempted: an earlier message failed",
                     false, false});
      continue;
    }
    out.push_back(send(m.envelope_from, m.envelope_to, m.mime));
    stop = out.back().stops_batch();
  }
  return out;
}

}  // namespace dunning::sender
