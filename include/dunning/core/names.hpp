// One name table per vocabulary: the text an enumerator has in YAML, SQL, JSON, CSV and logs.
// A vocabulary declares its table once (`constexpr Names<Kind, 3> kKindNames{{...}}`) and reads
// both ways through it, so a name is spelled in one place and unknown text is never a default:
// parse() says "no such name" and the caller reports it.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace dunning {

template <typename Enum, std::size_t N>
struct Names {
  std::array<std::pair<Enum, std::string_view>, N> rows;

  // The enumerator's name; "?" only for a value outside the enumeration.
  [[nodiscard]] constexpr std::string_view name(Enum value) const {
    for (const auto& [e, text] : rows)
      if (e == value) return text;
    return "?";
  }

  [[nodiscard]] constexpr std::optional<Enum> parse(std::string_view text) const {
    for (const auto& [e, name] : rows)
      if (name == text) return e;
    return std::nullopt;
  }
};

}  // namespace dunning

// Declares, beside a vocabulary's `to_string`, that nlohmann::json writes the enumerator's name
// (found by argument-dependent lookup; without it json would silently write the enumerator's
// number). Header-only: no module below http needs to include nlohmann for it.
#define DUNNING_JSON_AS_NAME(Enum)     \
  template <typename Json>             \
  void to_json(Json& j, Enum value) {  \
    j = std::string(to_string(value)); \
  }
