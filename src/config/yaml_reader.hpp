// Internal helper: walks a yaml-cpp node tree and records mistakes with file:line:column.
#pragma once

#include <yaml-cpp/yaml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "dunning/config/config.hpp"

namespace dunning::config::detail {

class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  // Parses the file; returns a Null node and records an error on failure.
  YAML::Node load_file();

  void error(const YAML::Node& at, const std::string& message, bool warning = false);
  void error_at(const YAML::Mark& mark, const std::string& message, bool warning = false);

  // REQUIRES: node is a map (records an error and returns false otherwise).
  bool expect_map(const YAML::Node& node, const std::string& what);
  // Records an "unknown key" error for every key not in `allowed`.
  void allow_keys(const YAML::Node& map, std::initializer_list<const char*> allowed,
                  const std::string& what);

  std::optional<std::string> string(const YAML::Node& node, const std::string& field);
  std::optional<int> integer(const YAML::Node& node, const std::string& field, int min, int max);
  std::optional<bool> boolean(const YAML::Node& node, const std::string& field);
  // At most `max` (and never more than kMaxDuration): longer values are refused as too long.
  std::optional<Seconds> duration(const YAML::Node& node, const std::string& field,
                                  Seconds max = kMaxDuration);
  std::optional<Money> money(const YAML::Node& node, const std::string& field);
  std::optional<std::vector<std::string>> string_list(const YAML::Node& node,
                                                      const std::string& field);

  const std::string& file() const { return file_; }
  std::vector<ConfigError>& errors() { return errors_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

}  // namespace dunning::config::detail
