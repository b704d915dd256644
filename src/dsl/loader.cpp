#include "dsl/loader.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <exception>
#include <fstream>
#include <sstream>

#include "dsl/build_context.hpp"
#include "dsl/builder.hpp"
#include "dsl/checker.hpp"
#include "dsl/yaml_document.hpp"

namespace baton::dsl {

namespace {

bool HasErrors(const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds) {
    if (d.severity == "error") return true;
  }
  return false;
}

}  // namespace

LoadResult LoadWorkflowText(std::string_view text, const std::string& file_name,
                            const LoadOptions& options) {
  LoadResult result;
  try {
    YamlDocument doc = YamlDocument::Parse(text, file_name, result.diagnostics);
    bool syntax_error = HasErrors(result.diagnostics) && doc.root().is_null();
    if (!syntax_error) {
      Reporter reporter(doc, file_name, result.diagnostics);
      BuildOutput out = BuildWorkflow(doc.root(), reporter);
      CheckWorkflow(out, reporter, options);
      if (!HasErrors(result.diagnostics)) {
        out.workflow.file = file_name;
        Status st = out.workflow.Finalize();
        if (st.ok()) {
          result.workflow = std::make_shared<const core::Workflow>(std::move(out.workflow));
        } else {
          result.diagnostics.push_back({file_name, 1, 1, "error", st.message()});
        }
      }
    }
  } catch (const std::exception& e) {
    result.diagnostics.push_back(
        {file_name, 1, 1, "error", fmt::format("internal error while loading: {}", e.what())});
    result.workflow.reset();
  }
  SortDiagnostics(result.diagnostics);
  return result;
}

LoadResult LoadWorkflowFile(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.diagnostics.push_back(
        {path, 0, 0, "error", fmt::format("cannot open file: {}", std::strerror(errno))});
    return result;
  }
  std::ostringstream buf;
  buf << in.rdbuf();
  return LoadWorkflowText(buf.str(), path, options);
}

}  // namespace baton::dsl
