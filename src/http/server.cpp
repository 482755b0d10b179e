#include "dunning/http/server.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <list>

#include "dunning/core/guarded.hpp"

namespace dunning::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {
void fail(beast::error_code ec, const char* what) {
  if (ec == asio::error::operation_aborted || ec == bhttp::error::end_of_stream ||
      ec == beast::error::timeout || ec == asio::error::connection_reset ||
      ec == asio::error::eof || ec == asio::error::bad_descriptor) {
    return;
  }
  spdlog::debug("http {}: {}", what, ec.message());
}
}  // namespace

Response json_response(unsigned status, const std::string& body, unsigned version) {
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::server, "dunningd");
  res.set(bhttp::field::content_type, "application/json");
  res.body() = body;
  res.prepare_payload();
  return res;
}

class Session;

struct Server::State {
  State(asio::io_context& i, const config::HttpConfig& c, Handler h)
      : io(i),
        cfg(c),
        handler(std::move(h)),
        acceptor(asio::make_strand(i)),
        accept_timer(acceptor.get_executor()) {}
  asio::io_context& io;
  config::HttpConfig cfg;
  Handler handler;
  tcp::acceptor acceptor;
  // After a failed accept (EMFILE, ENFILE, ENOBUFS...) the next one waits: 50 ms, doubling up
  // to 1 s, back to none after a success. Without it a full descriptor table spins accept().
  asio::steady_timer accept_timer;
  std::chrono::milliseconds accept_backoff{0};
  std::atomic<int> connections = 0;  // a session may be released on the worker thread
  bool stopped = false;
  std::list<std::weak_ptr<Session>> sessions;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, std::shared_ptr<Server::State> state, bool over_limit)
      : stream_(std::move(socket)), state_(std::move(state)), over_limit_(over_limit) {}

  ~Session() {
    if (!over_limit_) --state_->connections;
  }

  void run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->do_read(); });
  }

  void close() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(state_->cfg.max_body);
    parser_->header_limit(16 * 1024);
    // A refused connection gets little time to send its request.
    stream_.expires_after(
        over_limit_ ? std::min<std::chrono::seconds>(state_->cfg.timeout, std::chrono::seconds(2))
                    : state_->cfg.timeout);
    bhttp::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == bhttp::error::body_limit) {
      write(json_response(413, R"x({"error":"request body too large","field":"(body)"})x"), false);
      return;
    }
    if (ec == bhttp::error::header_limit) {
      write(json_response(431,
                          R"x({"error":"request header fields too large","field":"(headers)"})x"),
            false);
      return;
    }
    if (ec == bhttp::error::end_of_stream) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      return;
    }
    // Any other parse error (bad method, target, version, field, chunk, content length...):
    // the client hears why before the connection closes. A request cut off by the client
    // itself (partial_message) has no one left to answer.
    if (ec && ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category() &&
        ec != bhttp::error::partial_message) {
      write(json_response(400, json_error("malformed request: " + ec.message())), false);
      return;
    }
    if (ec) return fail(ec, "read");
    if (state_->stopped) return;
    if (over_limit_) {
      // Read first, then refuse: closing with an unread request would reset the connection
      // before the client sees the 503.
      write(json_response(503, R"({"error":"too many connections"})"), false);
      return;
    }
    auto req = parser_->release();
    {
      req.erase(kPeerField);
      beast::error_code peer_ec;
      const auto peer = stream_.socket().remote_endpoint(peer_ec);
      req.set(kPeerField, peer_ec ? std::string("unknown") : peer.address().to_string());
    }
    bool keep_alive = req.keep_alive();
    unsigned version = req.version();
    // The handler may answer later from another thread: hop back onto this connection.
    auto self = shared_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    Respond respond = [self, keep_alive, version, answered](Response res) {
      answered->store(true);
      asio::post(self->stream_.get_executor(),
                 [self, keep_alive, version, res = std::move(res)]() mutable {
                   res.version(version);
                   res.keep_alive(keep_alive);
                   self->write(std::move(res), keep_alive && !self->state_->stopped);
                 });
    };
    // The one guard between a request and the io thread: an exception from the handler is
    // logged and answered 500; it never reaches io_context::run.
    if (!run_guarded("http request", [&] { state_->handler(std::move(req), respond); }) &&
        !answered->exchange(true)) {
      write(json_response(500, json_error("internal error"), version), false);
    }
  }

  void write(Response res, bool keep_alive) {
    auto msg = std::make_shared<Response>(std::move(res));
    if (!keep_alive) msg->keep_alive(false);
    stream_.expires_after(state_->cfg.timeout);
    bhttp::async_write(stream_, *msg,
                       [self = shared_from_this(), msg, keep_alive](
                           beast::error_code ec, std::size_t) { self->on_write(ec, keep_alive); });
  }

  void on_write(beast::error_code ec, bool keep_alive) {
    if (ec) return fail(ec, "write");
    if (!keep_alive) {
      beast::error_code ignored;
      stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
      drain();
      return;
    }
    do_read();
  }

  // A lingering close: what the client still sends (the rest of a refused request) is read and
  // dropped until it closes, for at most two seconds. Closing with unread bytes would make the
  // kernel reset the connection and destroy the answer before the client reads it.
  void drain() {
    if (!drain_deadline_set_) {
      stream_.expires_after(std::chrono::seconds(2));
      drain_deadline_set_ = true;
    }
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (!ec) self->drain();
                            });
  }

  static std::string json_error(const std::string& message) {
    std::string out = R"({"error":")";
    for (char c : message) {  // Beast's messages are plain ASCII; keep the JSON valid anyway
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) out += c;
    }
    return out + "\"}";
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::shared_ptr<Server::State> state_;
  bool over_limit_;
  bool drain_deadline_set_ = false;
  std::array<char, 4096> scratch_{};
};

namespace {
void do_accept(const std::shared_ptr<Server::State>& state);

// Waits out the accept backoff, then accepts again.
void accept_later(const std::shared_ptr<Server::State>& state, const beast::error_code& ec) {
  using std::chrono::milliseconds;
  auto& backoff = state->accept_backoff;
  if (backoff == milliseconds(0)) {
    spdlog::warn("http: accept failed ({}); accepting again with a backoff of up to 1 s",
                 ec.message());
  }
  backoff = std::clamp(backoff * 2, milliseconds(50), milliseconds(1000));
  state->accept_timer.expires_after(backoff);
  state->accept_timer.async_wait([state](beast::error_code timer_ec) {
    if (!timer_ec && !state->stopped) do_accept(state);
  });
}

void do_accept(const std::shared_ptr<Server::State>& state) {
  state->acceptor.async_accept(
      asio::make_strand(state->io), [state](beast::error_code ec, tcp::socket socket) {
        if (ec) {
          fail(ec, "accept");
          if (ec == asio::error::operation_aborted || state->stopped) return;
          return accept_later(state, ec);
        } else {
          if (state->accept_backoff.count() > 0) {
            spdlog::info("http: accepting connections again");
            state->accept_backoff = std::chrono::milliseconds(0);
          }
          // The acceptor's strand and the io thread are the same thread in `dunningd run`.
          bool over = state->connections >= state->cfg.max_connections;
          if (!over) ++state->connections;
          spdlog::debug("http: accepted, {} open connections{}", state->connections.load(),
                        over ? " (over the limit: 503)" : "");
          auto session = std::make_shared<Session>(std::move(socket), state, over);
          state->sessions.remove_if([](const auto& w) { return w.expired(); });
          state->sessions.push_back(session);
          session->run();
        }
        if (!state->stopped) do_accept(state);
      });
}
}  // namespace

Server::Server(asio::io_context& io, const config::HttpConfig& cfg, Handler handler)
    : state_(std::make_shared<State>(io, cfg, std::move(handler))) {}

Server::~Server() = default;

Result<tcp::endpoint> Server::start() {
  beast::error_code ec;
  auto address = asio::ip::make_address(state_->cfg.host, ec);
  if (ec) return Error::invalid("http.listen: bad address " + state_->cfg.host);
  tcp::endpoint ep(address, static_cast<unsigned short>(state_->cfg.port));
  auto& a = state_->acceptor;
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Error::unavailable("cannot listen on " + state_->cfg.listen + ": " + ec.message());
  auto bound = a.local_endpoint(ec);
  do_accept(state_);
  return bound;
}

void Server::stop() {
  state_->stopped = true;
  beast::error_code ec;
  state_->accept_timer.cancel();
  state_->acceptor.close(ec);
  for (auto& w : state_->sessions) {
    if (auto s = w.lock()) s->close();
  }
  state_->sessions.clear();
}

}  // namespace dunning::http
