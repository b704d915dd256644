#pragma once

// Loading the children of `workflow:` steps together with their parent. Private to dsl/.
//
// A child's path is resolved against the directory of the file that names it (lexically, so the
// same string always gives the same key); the key is what run_started's `sources` map stores
// the text under, so that resume loads the same definitions. One top-level load reads each
// child file once, however often it is named, and reports a file that includes itself, directly
// or through others, as an error naming the cycle.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dsl/build_context.hpp"
#include "dsl/loader.hpp"

namespace baton::dsl {

// State of one top-level load across the files it includes.
struct NestedLoad {
  struct Child {
    std::shared_ptr<const core::Workflow> workflow;  // null when the file does not load
    std::string source;
    std::string first_error;  // "file:line:col: message" of its first error, if any
  };
  std::vector<std::string> stack;      // keys of the files being loaded, outermost first
  std::map<std::string, Child> cache;  // by key
};

// `path` as named from `including_file`, lexically normalized: the file's key.
std::string ResolveSubWorkflowPath(const std::string& including_file, const std::string& path);

// Loads `text` like LoadWorkflowText, within `nested` (loader.cpp).
LoadResult LoadWorkflowTextNested(std::string_view text, const std::string& file_name,
                                  const LoadOptions& options, NestedLoad& nested);

// Loads the child of every `workflow:` step of `out` (built from `file_name`) into its
// WorkflowStep, and checks the step's `with:` keys against the child's inputs. Problems are
// reported at the step; a child's own diagnostics are appended to `diagnostics` (once per file).
void LoadSubWorkflows(BuildOutput& out, Reporter& reporter, const std::string& file_name,
                      const LoadOptions& options, NestedLoad& nested,
                      std::vector<Diagnostic>& diagnostics);

}  // namespace baton::dsl
