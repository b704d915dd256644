#pragma once

// State shared by the two loader passes (builder.cpp: structure and types; checker.cpp:
// names, graph and expressions). Private to dsl/.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/workflow.hpp"
#include "dsl/diagnostic.hpp"
#include "dsl/yaml_document.hpp"
#include "expr/expr.hpp"

namespace baton::dsl {

// Appends diagnostics positioned through the document's position table.
class Reporter {
 public:
  Reporter(const YamlDocument& doc, std::string file, std::vector<Diagnostic>& out)
      : doc_(doc), file_(std::move(file)), out_(out) {}

  void At(Position p, std::string message);
  // At the value of `pointer`.
  void AtValue(const std::string& pointer, std::string message);
  // At the key naming `pointer` (its value when it has no key, e.g. a list item).
  void AtKey(const std::string& pointer, std::string message);
  // At byte `offset` inside the scalar at `pointer`.
  void AtOffset(const std::string& pointer, size_t offset, std::string message);
  // A warning (does not make the load fail) at the key naming `pointer`.
  void WarnAtKey(const std::string& pointer, std::string message);

  const YamlDocument& doc() const { return doc_; }
  bool has_errors() const { return errors_ > 0; }

 private:
  const YamlDocument& doc_;
  std::string file_;
  std::vector<Diagnostic>& out_;
  int errors_ = 0;
};

// One compiled expression to check once all steps are known.
struct ExprSite {
  expr::Expression expr;
  std::string pointer;  // of the scalar holding it
  size_t offset = 0;    // of the expression source within the scalar's text
  std::vector<std::string> roots;
  int step = -1;          // index of the step it belongs to, or -1
  bool any_step = false;  // may read any step (workflow outputs)
  bool body = false;      // may also read the steps nested in `step` (loop conditions)
};

// A name that must resolve to a declared thing.
struct NameRef {
  enum class Kind { kAgent, kModel, kTool, kAgentTool, kHandoff } kind;
  std::string name;
  std::string pointer;  // of the scalar naming it
  std::string owner;    // for messages: "agent 'planner'", "step 'draft'"
};

// What the builder learnt about each step beyond the model.
struct StepMeta {
  std::string pointer;                      // of the step mapping
  std::vector<std::string> needs_pointers;  // parallel to explicit needs
  bool has_id = false;
};

struct BuildOutput {
  core::Workflow workflow;
  std::vector<StepMeta> steps;  // parallel to workflow.steps
  std::vector<ExprSite> sites;
  std::vector<NameRef> refs;
  // Config files only: provider name -> default model options, model id -> price.
  std::map<std::string, json::object> config_providers;
  std::map<std::string, json::value> config_prices;
};

// The error vocabulary accepted by retry.on and catch.errors.
const std::vector<std::string>& ErrorVocabulary();

}  // namespace baton::dsl
