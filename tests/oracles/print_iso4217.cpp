// Prints dunningd's ISO 4217 table ("CODE EXPONENT" per line) for check_iso4217.py.
#include <iostream>

#include "dunning/core/money.hpp"

int main() {
  for (const auto& [code, exponent] : dunning::iso4217_table()) {
    std::cout << code << ' ' << exponent << '\n';
  }
}
