// Hostile templates: "<template yaml>\0<_partials.yaml>\0<_reasons.yaml>" in a fresh folder,
// rendered in en and in a locale of its own. Self-including or exploding partials, broken YAML
// and broken Mustache are error values: nothing throws, overflows or recurses without bound.
#include "dunning/templates/renderer.hpp"
#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace dunning;
  fuzz::quiet();
  if (size > 4096) return 0;  // partials expand up to 64 times: keep the output small
  auto f = fuzz::split(fuzz::view(data, size), 3);
  const auto dir = fuzz::scratch() / "templates";
  fuzz::write_file(dir / "en" / "t.yaml", f[0]);
  fuzz::write_file(dir / "en" / "_partials.yaml", f[1]);
  fuzz::write_file(dir / "en" / "_reasons.yaml", f[2]);
  templates::Renderer renderer(dir, "en", config::CompanyConfig{});
  templates::MessageData d;
  d.customer_name = "Ann";
  d.amount = Money(1250, "EUR");
  d.decline_code = "insufficient_funds";
  for (const char* locale : {"en", "pt-BR"}) {
    d.locale = locale;
    (void)renderer.render("t", d);
  }
  return 0;
}
