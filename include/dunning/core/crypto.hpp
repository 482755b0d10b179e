// Hashes and MACs used for sequence versions, signed links and webhook signatures.
#pragma once

#include <string>
#include <string_view>

namespace dunning {

std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Compares in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace dunning
