#include "dsl/sub_workflows.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace baton::dsl {

namespace {

namespace fs = std::filesystem;

Result<std::string> ReadFromDisk(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(std::strerror(errno));
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string FileKey(const std::string& file) { return fs::path(file).lexically_normal().string(); }

// Checks the keys of a literal `with:` mapping (or its absence) against the child's inputs.
void CheckWith(const core::Step& step, const core::WorkflowStep& w, const std::string& step_ptr,
               Reporter& reporter) {
  const core::Workflow& child = *w.workflow;
  const json::value& raw = w.with.raw();
  std::string owner = fmt::format("step '{}'", step.id);
  if (!raw.is_null() && !raw.is_object()) return;  // one expression: checked when it runs
  std::vector<std::string> names;
  for (const auto& in : child.inputs) names.push_back(in.name);
  std::string with_ptr = ChildPointer(step_ptr, "with");
  if (raw.is_object()) {
    for (const auto& kv : raw.get_object()) {
      if (std::find(names.begin(), names.end(), kv.key()) != names.end()) continue;
      reporter.AtKey(ChildPointer(with_ptr, kv.key()),
                     fmt::format("{}: workflow '{}' has no input '{}'{}", owner, child.name,
                                 std::string_view(kv.key()), DidYouMean(kv.key(), names)));
    }
  }
  for (const auto& in : child.inputs) {
    if (!in.required || (raw.is_object() && raw.get_object().contains(in.name))) continue;
    if (raw.is_object()) {
      reporter.AtKey(with_ptr, fmt::format("{}: workflow '{}' needs input '{}' in 'with'", owner,
                                           child.name, in.name));
    } else {
      reporter.AtKey(ChildPointer(step_ptr, "workflow"),
                     fmt::format("{}: workflow '{}' needs input '{}': give it in 'with'", owner,
                                 child.name, in.name));
    }
  }
}

}  // namespace

std::string ResolveSubWorkflowPath(const std::string& including_file, const std::string& path) {
  fs::path p(path);
  if (p.is_relative()) p = fs::path(including_file).parent_path() / p;
  return p.lexically_normal().string();
}

void LoadSubWorkflows(BuildOutput& out, Reporter& reporter, const std::string& file_name,
                      const LoadOptions& options, NestedLoad& nested,
                      std::vector<Diagnostic>& diagnostics) {
  auto& steps = out.workflow.steps;
  bool any = std::any_of(steps.begin(), steps.end(), [](const core::Step& s) {
    return std::holds_alternative<core::WorkflowStep>(s.kind);
  });
  if (!any) return;
  bool outermost = nested.stack.empty();
  if (outermost) nested.stack.push_back(FileKey(file_name));

  for (size_t i = 0; i < steps.size(); ++i) {
    auto* w = std::get_if<core::WorkflowStep>(&steps[i].kind);
    if (w == nullptr || w->path.empty()) continue;
    const std::string& step_ptr = out.steps[i].pointer;
    std::string at = ChildPointer(step_ptr, "workflow");
    std::string owner = fmt::format("step '{}'", steps[i].id);
    std::string key = ResolveSubWorkflowPath(file_name, w->path);

    auto on_stack = std::find(nested.stack.begin(), nested.stack.end(), key);
    if (on_stack != nested.stack.end()) {
      std::string chain;
      for (auto it = on_stack; it != nested.stack.end(); ++it) chain += *it + " -> ";
      chain += key;
      reporter.AtValue(at,
                       fmt::format("{}: workflow '{}' includes itself: {}", owner, w->path, chain));
      continue;
    }

    auto cached = nested.cache.find(key);
    if (cached == nested.cache.end()) {
      NestedLoad::Child child;
      Result<std::string> text = options.read_file ? options.read_file(key) : ReadFromDisk(key);
      if (!text.ok()) {
        child.first_error = fmt::format("cannot read {}: {}", key, text.error().message());
      } else {
        child.source = std::move(text).value();
        nested.stack.push_back(key);
        LoadResult r = LoadWorkflowTextNested(child.source, key, options, nested);
        nested.stack.pop_back();
        child.workflow = r.workflow;
        for (const auto& d : r.diagnostics) {
          if (d.severity == "error" && child.first_error.empty()) {
            child.first_error = FormatDiagnostic(d);
          }
        }
        diagnostics.insert(diagnostics.end(), r.diagnostics.begin(), r.diagnostics.end());
      }
      cached = nested.cache.emplace(key, std::move(child)).first;
    }
    const NestedLoad::Child& child = cached->second;
    if (!child.workflow) {
      reporter.AtValue(at, fmt::format("{}: workflow '{}' does not load: {}", owner, w->path,
                                       child.first_error));
      continue;
    }
    w->file = key;
    w->workflow = child.workflow;
    w->source = child.source;
    CheckWith(steps[i], *w, step_ptr, reporter);
  }

  if (outermost) nested.stack.pop_back();
}

}  // namespace baton::dsl
