// Fuzz target: arbitrary bytes loaded as a configuration file (baton.yaml). Loading must never
// crash, hang or throw; diagnostics are fine. Whatever loads is applied to a model.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "dsl/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  baton::dsl::ConfigResult r = baton::dsl::LoadConfigText(text, "baton.yaml");
  for (const auto& d : r.diagnostics) (void)baton::dsl::FormatDiagnostic(d);
  if (r.config) {
    for (const auto& [name, model] : r.config->models) {
      baton::core::ModelConfig copy = model;
      r.config->ApplyDefaults(copy);
    }
  }
  return 0;
}
