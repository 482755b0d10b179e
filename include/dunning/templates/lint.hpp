// `dunningd check` for message templates: a variable that can be empty (no customer name, no
// retry ahead, no company.url…) used outside a section that tests it renders a broken sentence
// ("We'll try again automatically on ."). Each such use is a finding with file:line.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "dunning/config/config.hpp"

namespace dunning::templates {

// The variables a message may render empty, each guarded as {{#name}}…{{name}}…{{/name}}.
const std::vector<std::string>& optional_variables();

// Findings (warnings) for one template text that starts at line `first_line` of `file`.
std::vector<config::ConfigError> lint_text(std::string_view text, const std::string& file,
                                           int first_line);

// Every template and partial of every locale under `dir` (templates/<locale>/*.yaml).
std::vector<config::ConfigError> lint_templates(const std::filesystem::path& dir);

}  // namespace dunning::templates
