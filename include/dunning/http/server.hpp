// The HTTP server of `dunningd run` (Boost.Beast, on the daemon's io_context): accepts
// connections up to a limit, reads requests with a body limit and a timeout, and hands each to a
// Handler that answers through a Respond callback — possibly later and from another thread
// (after a group commit). It holds no business logic.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/http.hpp>
#include <functional>
#include <memory>

#include "dunning/config/config.hpp"
#include "dunning/core/result.hpp"

namespace dunning::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;
// Thread-safe; call exactly once per request.
using Respond = std::function<void(Response)>;
using Handler = std::function<void(Request&&, Respond)>;

// The server writes the client's address into this field of every request it hands on, after
// removing whatever the client itself sent under that name (per-address limits need it).
inline constexpr std::string_view kPeerField = "Dunningd-Peer";

class Server {
 public:
  Server(boost::asio::io_context& io, const config::HttpConfig& cfg, Handler handler);
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Binds and starts accepting; returns the bound endpoint (the real port when 0 was asked).
  Result<boost::asio::ip::tcp::endpoint> start();
  // Stops accepting and closes every open connection. Call on the io_context's thread.
  void stop();

  struct State;  // shared with the sessions

 private:
  std::shared_ptr<State> state_;
};

// A JSON response with `status` and `body`.
Response json_response(unsigned status, const std::string& body, unsigned version = 11);

}  // namespace dunning::http
