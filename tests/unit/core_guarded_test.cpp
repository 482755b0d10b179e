// The one guarded boundary for posted work (issue 14, item 6): nothing a job throws reaches
// asio, and the HTTP server answers 500 for a handler that throws, then serves the next request.
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>

#include "dunning/core/guarded.hpp"
#include "dunning/http/server.hpp"

using namespace dunning;
namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

TEST_CASE("run_guarded swallows and reports any exception", "[core][guard]") {
  CHECK(run_guarded("ok", [] {}));
  CHECK_FALSE(run_guarded("logic", [] { throw std::logic_error("currency \"eur\""); }));
  CHECK_FALSE(run_guarded("int", [] { throw 42; }));
  // On a thread pool, where an escaping exception would std::terminate the process.
  asio::thread_pool pool(1);
  std::atomic<int> ran = 0;
  for (int i = 0; i < 3; ++i) {
    asio::post(pool, [&] {
      run_guarded("job", [&] {
        ++ran;
        throw std::runtime_error("boom");
      });
    });
  }
  pool.join();
  CHECK(ran == 3);
}

TEST_CASE("a handler that throws is answered 500 and the server goes on", "[core][guard][http]") {
  asio::io_context io;
  config::HttpConfig cfg;
  cfg.host = "127.0.0.1";
  cfg.port = 0;
  cfg.listen = "127.0.0.1:0";
  int calls = 0;
  http::Server server(io, cfg, [&](http::Request&& req, http::Respond respond) {
    ++calls;
    if (req.target() == "/throw") throw std::logic_error("a bug in a route");
    respond(http::json_response(200, R"({"ok":true})"));
  });
  auto bound = server.start();
  REQUIRE(bound);
  const auto port = bound.value().port();
  std::thread loop([&] { io.run(); });

  auto get = [&](const char* target) {
    asio::io_context client;
    boost::beast::tcp_stream stream(client);
    stream.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    bhttp::write(stream, req);
    boost::beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(stream, buffer, res);
    return std::make_pair(res.result_int(), res.body());
  };
  auto [status, body] = get("/throw");
  CHECK(status == 500);
  CHECK(body == R"({"error":"internal error"})");
  auto [status2, body2] = get("/fine");
  CHECK(status2 == 200);
  CHECK(calls == 2);

  asio::post(io, [&] { server.stop(); });
  io.stop();
  loop.join();
}
