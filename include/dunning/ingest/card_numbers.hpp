// No card numbers, at any door: finds 13-19 digit Luhn-valid numbers (also written in groups
// separated by spaces or dashes) in text and in every field of a JSON document.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dunning::ingest {

bool luhn_valid(std::string_view digits);
// True when `text` holds something that looks like a card number.
bool contains_card_number(std::string_view text);
// The path ("data.object.description", "items[2].name") of the first key or value holding a card
// number; nullopt when clean.
std::optional<std::string> find_card_number(const nlohmann::json& doc);

}  // namespace dunning::ingest
