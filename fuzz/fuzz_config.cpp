// dunningd.yaml as an admin (or a typo) may write it: load_daemon_config reports mistakes as
// errors with a line and column and never crashes. Inputs naming smtp.ca_file are skipped: that
// key reads the file it names (a device would block the run, not find a bug).
#include "dunning/config/config.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  fuzz::quiet();
  auto text = fuzz::view(data, size);
  if (text.find("ca_file") != std::string_view::npos) return 0;
  const auto file = fuzz::scratch() / "dunningd.yaml";
  fuzz::write_file(file, text);
  auto loaded = config::load_daemon_config(file);
  for (const auto& e : loaded.errors) (void)e.to_string();
  if (loaded.ok()) {
    FUZZ_CHECK(loaded.value.poll_interval <= kMaxDuration, "poll_interval beyond the bound");
  }
  return 0;
}
