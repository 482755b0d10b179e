// What every JSON door checks on the raw body before it builds a document from it: the body is
// JSON, nests at most kMaxJsonDepth levels, holds no control characters in any string or key,
// and no card number anywhere (see card_numbers.hpp). One streaming pass, no recursion, memory
// linear in the depth: a hostile body is refused before it costs anything.
#pragma once

#include <optional>
#include <string_view>

#include "dunning/ingest/event.hpp"

namespace dunning::ingest {

inline constexpr int kMaxJsonDepth = 64;

// The first problem, with the JSON path of the offending value ("data.name", "items[2]") or
// "(body)"; nullopt when the body may be parsed. Tab, line feed and carriage return are allowed
// in strings here (free text such as a Stripe description); every other C0 control, DEL and the
// C1 controls are refused. Single-line fields are held to more (see check_fact).
std::optional<Error> screen_json(std::string_view body);

// True when `s` holds a C0 control (tab, LF and CR allowed when `multiline`), DEL or a C1 control
// (U+0080..U+009F), or is not valid UTF-8.
bool has_control_characters(std::string_view s, bool multiline);

// The last check of every door on a fact it built: the first text field that is not clean
// single-line UTF-8 (the decline message may hold tabs and line breaks), a locale that is not a
// language tag, or a time outside [kFirstFactTime, kLastFactTime]. The field is named by its
// column ("name", "customer_id", "occurred_at") after `prefix` ("data." for the events API).
std::optional<Error> check_fact(const Fact& fact, std::string_view prefix);

// A BCP 47-like tag as locales are written ("en", "pt-BR", "zh_Hant_TW"): ASCII letters and
// digits in subtags of 1-8 joined by '-' or '_', starting with 2-3 letters, at most 35 bytes.
bool valid_locale_tag(std::string_view tag);

}  // namespace dunning::ingest
