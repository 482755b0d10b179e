#include "dunning/core/result.hpp"

#include "dunning/core/names.hpp"

namespace dunning {
namespace {

constexpr Names<ErrorCode, 7> kErrorCodeNames{{{
    {ErrorCode::kInvalid, "invalid"},
    {ErrorCode::kNotFound, "not_found"},
    {ErrorCode::kConflict, "conflict"},
    {ErrorCode::kDenied, "denied"},
    {ErrorCode::kRefused, "refused"},
    {ErrorCode::kUnavailable, "unavailable"},
    {ErrorCode::kInternal, "internal"},
}}};

}  // namespace

std::string_view to_string(ErrorCode code) { return kErrorCodeNames.name(code); }

}  // namespace dunning
