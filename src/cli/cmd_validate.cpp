// `baton validate` and `baton graph`.

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "app/app.hpp"
#include "cli/cli.hpp"
#include "core/graph.hpp"
#include "dsl/loader.hpp"

namespace baton::cli {

int ValidateCommand(const CommonOptions& common, const std::vector<std::string>& files) {
  bool all_ok = true;
  json::array results;
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  dsl::LoadOptions options = registries.LoadOptions();
  bool missing = false;
  for (const auto& file : files) {
    if (access(file.c_str(), R_OK) != 0) {
      std::fprintf(stderr, "error: cannot read %s: %s\n", file.c_str(), std::strerror(errno));
      missing = true;
      all_ok = false;
      continue;
    }
    dsl::LoadResult r = dsl::LoadWorkflowFile(file, options);
    if (r.workflow) {
      auto model_errors = app::CheckModels(*r.workflow, registries);
      if (!model_errors.empty()) {
        r.diagnostics.insert(r.diagnostics.end(), model_errors.begin(), model_errors.end());
        r.workflow.reset();
      }
    }
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
      size_t steps = 0;  // a saga's hidden `<id>.compensate` steps are not counted
      for (const auto& step : r.workflow->steps) steps += step.is_compensation ? 0 : 1;
      std::printf("%s: ok (%zu steps)\n", file.c_str(), steps);
    }
  }
  if (common.output == OutputFormat::kJson) std::printf("%s\n", PrettyJson(results).c_str());
  if (missing) return kExitNotFound;
  return all_ok ? kExitOk : kExitValidation;
}

int GraphCommand(const std::string& file, const std::string& format) {
  if (access(file.c_str(), R_OK) != 0) {
    std::fprintf(stderr, "error: cannot read %s: %s\n", file.c_str(), std::strerror(errno));
    return kExitNotFound;
  }
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  dsl::LoadResult r = dsl::LoadWorkflowFile(file, registries.LoadOptions());
  for (const auto& d : r.diagnostics)
    std::fprintf(stderr, "%s\n", dsl::FormatDiagnostic(d).c_str());
  if (!r.workflow) return kExitValidation;
  std::string out =
      format == "dot" ? core::RenderDot(*r.workflow) : core::RenderMermaid(*r.workflow);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

}  // namespace baton::cli
