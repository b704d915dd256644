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
#include "dsl/sub_workflows.hpp"
#include "dsl/yaml_document.hpp"

namespace baton::dsl {

namespace {

bool HasErrors(const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds) {
    if (d.severity == "error") return true;
  }
  return false;
}

// Copies the config models the workflow names but does not define (and the models their
// fallbacks name, transitively), then applies provider defaults and prices to every model.
void ApplyConfig(const ProjectConfig& config, BuildOutput& out) {
  std::vector<std::string> wanted;
  for (const NameRef& ref : out.refs) {
    if (ref.kind == NameRef::Kind::kModel) wanted.push_back(ref.name);
  }
  auto& models = out.workflow.models;
  while (!wanted.empty()) {
    std::string name = std::move(wanted.back());
    wanted.pop_back();
    if (models.count(name)) continue;
    auto it = config.models.find(name);
    if (it == config.models.end()) continue;
    models.emplace(name, it->second);
    if (const json::value* fb = it->second.options.if_contains("fallback")) {
      if (fb->is_string()) wanted.emplace_back(fb->get_string());
      if (fb->is_array()) {
        for (const auto& f : fb->get_array()) {
          if (f.is_string()) wanted.emplace_back(f.get_string());
        }
      }
    }
  }
  for (auto& [name, model] : models) config.ApplyDefaults(model);
}

}  // namespace

LoadResult LoadWorkflowText(std::string_view text, const std::string& file_name,
                            const LoadOptions& options) {
  NestedLoad nested;
  return LoadWorkflowTextNested(text, file_name, options, nested);
}

LoadResult LoadWorkflowTextNested(std::string_view text, const std::string& file_name,
                                  const LoadOptions& options, NestedLoad& nested) {
  LoadResult result;
  std::vector<Diagnostic> child_diagnostics;  // the files of `workflow:` steps, after ours
  try {
    YamlDocument doc = YamlDocument::Parse(text, file_name, result.diagnostics);
    bool syntax_error = HasErrors(result.diagnostics) && doc.root().is_null();
    if (!syntax_error) {
      Reporter reporter(doc, file_name, result.diagnostics);
      BuildOutput out = BuildWorkflow(doc.root(), reporter);
      if (options.config) ApplyConfig(*options.config, out);
      CheckWorkflow(out, reporter, options);
      LoadSubWorkflows(out, reporter, file_name, options, nested, child_diagnostics);
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
  result.diagnostics.insert(result.diagnostics.end(), child_diagnostics.begin(),
                            child_diagnostics.end());
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
