// Hashes and MACs used for sequence versions, signed links and webhook signatures.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dunning {

std::string sha256_hex(std::string_view data);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Compares in time independent of where the strings differ.
bool constant_time_equal(std::string_view a, std::string_view b);
// `bytes` bytes from the operating system's CSPRNG, as lower-case hex (session ids, CSRF
// tokens). Throws std::runtime_error when no randomness is available.
std::string random_hex(std::size_t bytes);

}  // namespace dunning
