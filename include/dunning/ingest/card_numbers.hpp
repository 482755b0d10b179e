// No card numbers, at any door. A card number is 13-19 digits that carry a card network's issuer
// prefix (IIN) and one of that network's lengths, and pass the Luhn check. It is found however it
// is written: in digit groups separated by spaces, dashes, dots, slashes, tabs, no-break or thin
// spaces (up to three separator characters between groups, so "4242 - 4242" and double spaces
// count), in full-width or Arabic-Indic digits, followed by an expiry or CVV group, as a JSON
// number written with a fraction or an exponent, or split over two adjacent JSON values.
// Digit runs with no network's prefix (millisecond timestamps such as evt_1796113631008, order
// numbers starting with 1, 7, 8 or 9) are not card numbers, even when they pass Luhn.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace dunning::ingest {

bool luhn_valid(std::string_view digits);
// The network whose issuer prefixes and lengths the ASCII `digits` match ("visa", "mastercard",
// "amex", "discover", "jcb", "unionpay", "diners", "maestro", "mir", "troy"), or nullopt.
// UATP (prefix 1) is deliberately not listed: it would catch every millisecond timestamp.
std::optional<std::string_view> card_network(std::string_view digits);
// card_network and Luhn.
bool is_card_number(std::string_view digits);

// True when `text` (UTF-8) holds something that looks like a card number.
bool contains_card_number(std::string_view text);
// True when a value ending in digit groups followed by one starting with digit groups make a
// card number together ("4242 4242" + "4242 4242"). Both must consist of digits and separators
// only, so unrelated fields are not joined into a false alarm.
bool split_card_number(std::string_view first, std::string_view second);

// The path ("data.object.description", "items[2].name") of the first key or value holding a card
// number in a parsed document; nullopt when clean. Iterative: any nesting depth is safe.
std::optional<std::string> find_card_number(const nlohmann::json& doc);

}  // namespace dunning::ingest
