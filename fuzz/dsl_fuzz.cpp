// Fuzz target: arbitrary bytes loaded as a workflow text. Loading must never crash, hang or
// throw; any diagnostics are fine. Rendering the graph of whatever loads must not crash either.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/graph.hpp"
#include "dsl/loader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  baton::dsl::LoadResult r = baton::dsl::LoadWorkflowText(text, "fuzz.yaml");
  for (const auto& d : r.diagnostics) (void)baton::dsl::FormatDiagnostic(d);
  (void)baton::dsl::DiagnosticsToJson(r.diagnostics);
  if (r.workflow) {
    (void)baton::core::RenderMermaid(*r.workflow);
    (void)baton::core::RenderDot(*r.workflow);
  }
  return 0;
}
