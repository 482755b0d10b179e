// Replays inputs through the fuzz targets without libFuzzer: `fuzz_replay <target> <file or
// folder>...`. Built with the ordinary compiler (and with the sanitizers in `make
// test-sanitize`), so ctest runs every regression input and seed on every build.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#define X(name) extern "C" int dunning_fuzz_##name(const std::uint8_t* data, std::size_t size);
#include "fuzz_targets.inc"
#undef X

namespace {

using Target = int (*)(const std::uint8_t*, std::size_t);

struct Entry {
  const char* name;
  Target run;
};

const Entry kTargets[] = {
#define X(name) {#name, &dunning_fuzz_##name},
#include "fuzz_targets.inc"
#undef X
};

int replay(Target run, const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::fprintf(stderr, "%s (%zu bytes)\n", file.c_str(), bytes.size());
  return run(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: fuzz_replay <target> <file or folder>...\n");
    return 2;
  }
  Target run = nullptr;
  for (const auto& t : kTargets)
    if (std::strcmp(t.name, argv[1]) == 0) run = t.run;
  if (!run) {
    std::fprintf(stderr, "fuzz_replay: no target '%s'\n", argv[1]);
    return 2;
  }
  int inputs = 0;
  for (int i = 2; i < argc; ++i) {
    std::filesystem::path p(argv[i]);
    if (std::filesystem::is_directory(p)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::recursive_directory_iterator(p))
        if (e.is_regular_file() && e.path().filename() != "README.md") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        replay(run, f);
        ++inputs;
      }
    } else if (std::filesystem::is_regular_file(p)) {
      replay(run, p);
      ++inputs;
    }
  }
  std::printf("fuzz_replay %s: %d inputs replayed, no crash\n", argv[1], inputs);
  return 0;
}
