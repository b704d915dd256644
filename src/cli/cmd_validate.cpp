// `baton validate` and `baton graph`.

#include <cstdio>

#include "app/app.hpp"
#include "cli/cli.hpp"
#include "core/graph.hpp"
#include "dsl/loader.hpp"

namespace baton::cli {

int ValidateCommand(const CommonOptions& common, const std::vector<std::string>& files) {
  bool all_ok = true;
  json::array results;
  dsl::LoadOptions options = app::Registries().LoadOptions();
  for (const auto& file : files) {
    dsl::LoadResult r = dsl::LoadWorkflowFile(file, options);
    bool ok = r.workflow != nullptr;
    all_ok = all_ok && ok;
    if (common.output == OutputFormat::kJson) {
      json::object o;
      o["file"] = file;
      o["ok"] = ok;
      o["diagnostics"] = dsl::DiagnosticsToJson(r.diagnostics);
      results.push_back(std::move(o));
      continue;
    }
    for (const auto& d : r.diagnostics)
      std::fprintf(stderr, "%s\n", dsl::FormatDiagnostic(d).c_str());
    if (ok) {
      std::printf("%s: ok (%zu steps)\n", file.c_str(), r.workflow->steps.size());
    }
  }
  if (common.output == OutputFormat::kJson) std::printf("%s\n", PrettyJson(results).c_str());
  return all_ok ? kExitOk : kExitValidation;
}

int GraphCommand(const std::string& file, const std::string& format) {
  dsl::LoadResult r = dsl::LoadWorkflowFile(file, app::Registries().LoadOptions());
  for (const auto& d : r.diagnostics)
    std::fprintf(stderr, "%s\n", dsl::FormatDiagnostic(d).c_str());
  if (!r.workflow) return kExitValidation;
  std::string out =
      format == "dot" ? core::RenderDot(*r.workflow) : core::RenderMermaid(*r.workflow);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace baton::cli
