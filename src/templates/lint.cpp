#include "dunning/templates/lint.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace dunning::templates {

namespace fs = std::filesystem;

const std::vector<std::string>& optional_variables() {
  // invoice.id is not here: only the messages of cases opened by a failed payment use it (never
  // card-expiring*), and the scheduler opens no such case for a payment without an invoice_id.
  static const std::vector<std::string> names = {
      "customer.name",     "next_retry_date", "cancel_date", "company.url",
      "subscription.plan", "card.brand",      "card.last4",  "card.exp"};
  return names;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_optional(std::string_view name) {
  const auto& all = optional_variables();
  return std::find(all.begin(), all.end(), name) != all.end();
}

}  // namespace

std::vector<config::ConfigError> lint_text(std::string_view text, const std::string& file,
                                           int first_line) {
  std::vector<config::ConfigError> out;
  // Open sections, innermost last: (name, inverted).
  std::vector<std::pair<std::string, bool>> open;
  int line = first_line;
  std::size_t pos = 0;
  auto advance_to = [&](std::size_t to) {
    line += static_cast<int>(std::count(text.begin() + static_cast<std::ptrdiff_t>(pos),
                                        text.begin() + static_cast<std::ptrdiff_t>(to), '\n'));
    pos = to;
  };
  for (;;) {
    const auto start = text.find("{{", pos);
    if (start == std::string_view::npos) break;
    advance_to(start);
    const bool triple = text.substr(start, 3) == "{{{";
    const auto end = text.find(triple ? "}}}" : "}}", start);
    if (end == std::string_view::npos) break;  // the renderer reports unterminated tags
    std::string_view tag = text.substr(start + (triple ? 3 : 2), end - start - (triple ? 3 : 2));
    pos = end + (triple ? 3 : 2);
    tag = trim(tag);
    if (tag.empty()) continue;
    const char sigil = triple ? '&' : tag.front();
    if (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '>' || sigil == '!' ||
        sigil == '&' || sigil == '=') {
      if (!triple) tag.remove_prefix(1);
      tag = trim(tag);
    }
    const std::string name(tag);
    switch (sigil) {
      case '#':
      case '^':
        open.emplace_back(name, sigil == '^');
        break;
      case '/':
        if (!open.empty()) open.pop_back();
        break;
      case '>':
      case '!':
      case '=':
        break;
      default: {  // a variable ({{x}}, {{{x}}}, {{&x}})
        if (!is_optional(name)) break;
        const bool guarded = std::any_of(
            open.begin(), open.end(), [&](const auto& s) { return s.first == name && !s.second; });
        if (!guarded) {
          out.push_back({file, line, 1,
                         "'{{" + name + "}}' can be empty here: put the sentence inside {{#" +
                             name + "}}…{{/" + name + "}} so it is left out when there is none",
                         true});
        }
      }
    }
  }
  return out;
}

std::vector<config::ConfigError> lint_templates(const fs::path& dir) {
  std::vector<config::ConfigError> out;
  std::error_code ec;
  std::vector<fs::path> files;
  for (const auto& locale : fs::directory_iterator(dir, ec)) {
    if (!locale.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(locale.path(), ec)) {
      if (f.path().extension() == ".yaml" && f.path().filename() != "_reasons.yaml") {
        files.push_back(f.path());
      }
    }
  }
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    std::ifstream in(file);
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string content = buf.str();
    std::vector<std::string_view> lines;
    for (std::size_t at = 0; at <= content.size();) {
      auto nl = content.find('\n', at);
      if (nl == std::string::npos) nl = content.size();
      lines.emplace_back(content.data() + at, nl - at);
      at = nl + 1;
    }
    YAML::Node root;
    try {
      root = YAML::Load(content);
    } catch (const YAML::Exception&) {
      continue;  // unreadable files are errors of the template loader, reported there
    }
    if (!root.IsMap()) continue;
    for (const auto& kv : root) {
      if (!kv.second.IsScalar()) continue;
      // A block scalar (`text: |`) starts on the line after its indicator.
      const auto mark = kv.second.Mark();
      const auto row = static_cast<std::size_t>(std::max(mark.line, 0));
      const bool block = row < lines.size() &&
                         static_cast<std::size_t>(mark.column) < lines[row].size() &&
                         (lines[row][static_cast<std::size_t>(mark.column)] == '|' ||
                          lines[row][static_cast<std::size_t>(mark.column)] == '>');
      const int first = mark.line + 1 + (block ? 1 : 0);
      auto found = lint_text(kv.second.Scalar(), file.string(), first);
      out.insert(out.end(), found.begin(), found.end());
    }
  }
  return out;
}

}  // namespace dunning::templates
