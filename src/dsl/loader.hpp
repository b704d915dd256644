#pragma once

// Workflow files (YAML or JSON) -> core::Workflow, with compiler-style diagnostics.
// Stateless and thread-safe: every call works on its own data.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "core/workflow.hpp"
#include "dsl/config.hpp"
#include "dsl/diagnostic.hpp"

namespace baton::dsl {

struct LoadResult {
  std::shared_ptr<const core::Workflow> workflow;  // null when any diagnostic is an error
  std::vector<Diagnostic> diagnostics;             // every problem found, sorted by position
};

// What the host program provides beyond the workflow file.
struct LoadOptions {
  // Tools registered by the host (the C++ library's ToolRegistry): `call:` and agent `tools:`
  // may name them without declaring them in `tools:`.
  std::vector<std::string> host_tools;
  // Providers the host can create models for; when non-empty, `models.*.provider` must be one of
  // them (with a did-you-mean). Empty: not checked.
  std::vector<std::string> providers;
  // Configuration files' models, provider defaults and prices. Models the workflow names but
  // does not define are taken from here (with their fallback chains); every model gets its
  // provider's defaults and configured price where it sets none.
  std::shared_ptr<const ProjectConfig> config;
  // Reads the file of a `workflow:` step, given its path resolved against the including file.
  // Unset: from disk. Resume sets it to the sources stored with the run (run_started).
  std::function<Result<std::string>(const std::string& path)> read_file;
};

// Reads and loads `path`; diagnostics name the file as `path` is written.
LoadResult LoadWorkflowFile(const std::string& path, const LoadOptions& options = {});

// Loads `text` (YAML, or JSON, which is YAML flow syntax); diagnostics name `file_name`.
// Never throws; arbitrary bytes give diagnostics, not crashes.
LoadResult LoadWorkflowText(std::string_view text, const std::string& file_name,
                            const LoadOptions& options = {});

}  // namespace baton::dsl
