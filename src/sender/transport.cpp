#include "dunning/sender/transport.hpp"

#include <curl/curl.h>

namespace dunning::sender {

void global_init() { curl_global_init(CURL_GLOBAL_DEFAULT); }

std::vector<Delivery> EmailTransport::send_all(const std::vector<OutgoingEmail>& messages,
                                               const SendBounds& bounds) {
  std::vector<Delivery> out;
  out.reserve(messages.size());
  bool stop = false;
  for (const auto& m : messages) {
    if (stop) {
      out.push_back(Delivery::not_attempted("not attempted: an earlier message failed"));
      continue;
    }
    if (bounds.reached()) {
      out.push_back(Delivery::not_attempted("not attempted: the batch ran out of time",
                                            bounds.past_start_by()));
      continue;
    }
    out.push_back(send(m.envelope_from, m.envelope_to, m.mime));
    stop = out.back().stops_batch();
  }
  return out;
}

}  // namespace dunning::sender
