#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "dunning/config/config.hpp"

using namespace dunning;

namespace {
config::Loaded<config::DaemonConfig> load(const std::string& http_section) {
  auto dir = std::filesystem::temp_directory_path() / "dunning-http-config-test";
  std::filesystem::create_directories(dir);
  auto file = dir / "dunningd.yaml";
  std::ofstream(file) << "smtp: {url: \"smtp://127.0.0.1:25/x\", from: a@example.com}\n"
                      << http_section;
  return config::load_daemon_config(file);
}
}  // namespace

TEST_CASE("the http section is parsed and validated with positions", "[config][http]") {
  auto none = load("");
  REQUIRE(none.ok());
  CHECK_FALSE(none.value.http.enabled);

  auto ok = load(
      "http: {listen: \"127.0.0.1:9099\", max_body: 512KiB, max_connections: 8, timeout: 5s}\n");
  REQUIRE(ok.ok());
  CHECK(ok.value.http.enabled);
  CHECK(ok.value.http.host == "127.0.0.1");
  CHECK(ok.value.http.port == 9099);
  CHECK(ok.value.http.max_body == 512 * 1024);
  CHECK(ok.value.http.max_connections == 8);
  CHECK(ok.value.http.timeout == Seconds(5));

  auto bad = load("http:\n  listen: nowhere\n  max_body: 1TB\n  bogus: 1\n");
  CHECK_FALSE(bad.ok());
  std::string all;
  for (const auto& e : bad.errors) all += e.to_string() + "\n";
  CHECK(all.find(":3:") != std::string::npos);  // listen
  CHECK(all.find("http.listen") != std::string::npos);
  CHECK(all.find("http.max_body") != std::string::npos);
  CHECK(all.find("bogus") != std::string::npos);
}
