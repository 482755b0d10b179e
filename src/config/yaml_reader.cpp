#include "config/yaml_reader.hpp"

#include <fstream>
#include <set>
#include <sstream>

namespace dunning::config::detail {

YAML::Node YamlReader::load_file() {
  std::ifstream in(file_);
  if (!in) {
    errors_.push_back({file_, 0, 0, "cannot read file"});
    return YAML::Node();
  }
  try {
    return YAML::Load(in);
  } catch (const YAML::ParserException& e) {
    errors_.push_back({file_, e.mark.line + 1, e.mark.column + 1, e.msg});
  }
  return YAML::Node();
}

void YamlReader::error(const YAML::Node& at, const std::string& message, bool warning) {
  error_at(at.Mark(), message, warning);
}

void YamlReader::error_at(const YAML::Mark& mark, const std::string& message, bool warning) {
  int line = mark.line < 0 ? 0 : mark.line + 1;
  int column = mark.column < 0 ? 0 : mark.column + 1;
  errors_.push_back({file_, line, column, message, warning});
}

bool YamlReader::expect_map(const YAML::Node& node, const std::string& what) {
  if (node.IsMap()) return true;
  error(node, what + " must be a mapping of key: value");
  return false;
}

void YamlReader::allow_keys(const YAML::Node& map, std::initializer_list<const char*> allowed,
                            const std::string& what) {
  std::set<std::string> ok(allowed.begin(), allowed.end());
  for (const auto& kv : map) {
    const auto key = kv.first.Scalar();
    if (!ok.count(key)) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      error(kv.first, "unknown key '" + key + "' in " + what + " (expected one of: " + list + ")");
    }
  }
}

std::optional<std::string> YamlReader::string(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) {
    error(node, "'" + field + "' must be a string");
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int> YamlReader::integer(const YAML::Node& node, const std::string& field, int min,
                                       int max) {
  int v = 0;
  if (!node.IsScalar() || !YAML::convert<int>::decode(node, v)) {
    error(node, "'" + field + "' must be an integer");
    return std::nullopt;
  }
  if (v < min || v > max) {
    error(node, "'" + field + "' must be between " + std::to_string(min) + " and " +
                    std::to_string(max) + ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlReader::boolean(const YAML::Node& node, const std::string& field) {
  bool v = false;
  if (!node.IsScalar() || !YAML::convert<bool>::decode(node, v)) {
    error(node, "'" + field + "' must be true or false");
    return std::nullopt;
  }
  return v;
}

std::optional<Seconds> YamlReader::duration(const YAML::Node& node, const std::string& field,
                                            Seconds max) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    auto d = parse_duration(text);
    if (d && *d <= max) return d;
    const bool shaped = text.size() >= 2 &&
                        text.find_first_not_of("0123456789") == text.size() - 1 &&
                        std::string_view("smhdw").find(text.back()) != std::string_view::npos;
    if (shaped) {
      error(node, "'" + field + "' is too long: at most " + format_duration(max));
      return std::nullopt;
    }
  }
  error(node, "'" + field + "' must be a duration like 30m, 12h, 3d or 2w");
  return std::nullopt;
}

std::optional<Money> YamlReader::money(const YAML::Node& node, const std::string& field) {
  if (!node.IsScalar()) {
    error(node, "'" + field + "' must be an amount with a currency, like \"5.00 EUR\"");
    return std::nullopt;
  }
  auto m = Money::parse(node.Scalar());
  if (!m) {
    error(node, "'" + field + "': " + m.error().message);
    return std::nullopt;
  }
  return *m;
}

std::optional<std::vector<std::string>> YamlReader::string_list(const YAML::Node& node,
                                                                const std::string& field) {
  std::vector<std::string> out;
  if (node.IsScalar()) {
    out.push_back(node.Scalar());
    return out;
  }
  if (!node.IsSequence()) {
    error(node, "'" + field + "' must be a list of strings");
    return std::nullopt;
  }
  for (const auto& item : node) {
    if (!item.IsScalar()) {
      error(item, "'" + field + "' must contain only strings");
      return std::nullopt;
    }
    out.push_back(item.Scalar());
  }
  return out;
}

}  // namespace dunning::config::detail
