#include "dunning/config/secrets.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace dunning::config {

std::optional<std::string> read_secret(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..") {
    return std::nullopt;
  }
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
  if (dir == nullptr || *dir == '\0') return std::nullopt;
  std::ifstream in(std::filesystem::path(dir) / name, std::ios::binary);
  if (!in) return std::nullopt;
  std::string value((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!value.empty() && value.back() == '\n') value.pop_back();
  if (!value.empty() && value.back() == '\r') value.pop_back();
  return value;
}

}  // namespace dunning::config
