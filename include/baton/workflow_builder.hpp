#pragma once

// baton::WorkflowBuilder: a workflow written in C++ instead of YAML.
//
//   baton::WorkflowBuilder b("triage");
//   b.Input("issue", {{"type", "string"}})
//       .Model("fast", "sim", "sim-small")
//       .Agent("labeler", "fast", "You label issues.");
//   b.Step("label").Agent("labeler", "${{ inputs.issue }}").Retry(3);
//   b.Output("label", "${{ steps.label.output }}");
//   auto workflow = b.Build(*baton);
//
// The builder writes the document a workflow file would hold (JSON, see ToJson) and Build() loads
// it through the same loader as YAML files, so a workflow built in code gets exactly the checks
// and diagnostics of a file (docs/dsl.md is the reference for every key and value). Strings in
// template positions may use ${{ }} as in a file.
//
// Not thread-safe: one thread builds. Build() may be called any number of times.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "core/workflow.hpp"

namespace baton {

class Baton;

// One entry of `steps:`. Obtained from WorkflowBuilder::Step(); the reference stays valid as long
// as the builder. Each method sets one key of the step and returns the step for chaining.
class StepBuilder {
 public:
  explicit StepBuilder(std::string id);

  // The kind: give exactly one (the loader reports a step with none or two).
  // `agent: NAME` with `input:` (any value; string leaves are templates).
  StepBuilder& Agent(std::string agent, json::value input);
  // `llm:` — a string is the prompt for the default model; an object is the full form
  // {model?, prompt | messages, system?, output_schema?}.
  StepBuilder& Llm(json::value spec);
  // `call: TOOL` with `with:` (omitted when null).
  StepBuilder& Call(std::string tool, json::value with = nullptr);
  // `set:` — keys `memory.<name>` write the run's memory; other keys form the output object.
  StepBuilder& Set(json::object entries);

  // Fields every step may have.
  StepBuilder& Description(std::string text);
  StepBuilder& Needs(std::vector<std::string> step_ids);  // {} = needs nothing
  StepBuilder& If(std::string condition);                 // "${{ expr }}" or a bare expression
  StepBuilder& ForEach(json::value items);                // a list or "${{ expr }}" giving one
  StepBuilder& As(std::string name);
  StepBuilder& MaxParallel(int n);
  StepBuilder& Retry(int max_attempts);        // default retryable errors, default backoff
  StepBuilder& Retry(json::object policy);     // {max_attempts, on, backoff: {initial, ...}}
  StepBuilder& Timeout(std::string duration);  // "30s", "250ms", ...
  StepBuilder& Output(json::value value);      // reshapes the result; may use `result`
  // Any other key of a step (`catch`, `effect`, ...), as in a file.
  StepBuilder& Field(std::string key, json::value value);

  const json::object& ToJson() const { return step_; }

 private:
  json::object step_;
};

class WorkflowBuilder {
 public:
  // `name` is the workflow's name: [a-z0-9_-]+.
  explicit WorkflowBuilder(std::string name);

  WorkflowBuilder& Description(std::string text);
  // A run input and its JSON Schema; a schema with `default` makes the input optional.
  WorkflowBuilder& Input(std::string name, json::value schema);
  // A named model: `provider` is a registered provider ("sim" or one added with
  // Baton::RegisterProvider); `options` are the other keys of a model entry (temperature,
  // max_tokens, fallback, price, sim, ...).
  WorkflowBuilder& Model(std::string name, std::string provider, std::string model,
                         json::object options = {});
  // An agent on model `model` (a name given to Model()).
  WorkflowBuilder& Agent(std::string name, std::string model, std::string instructions,
                         std::optional<json::value> output_schema = std::nullopt);
  // An agent in full: {model, instructions, description, capabilities, tools, output_schema,
  // max_turns, handoffs}.
  WorkflowBuilder& Agent(std::string name, json::object spec);
  // A tool that runs a child process (never a shell); `exec_options` are the other keys of
  // `exec:` (cwd, env, timeout, stdin, output).
  WorkflowBuilder& ExecTool(std::string name, std::vector<std::string> argv,
                            json::object exec_options = {});
  // Any other top-level key (`defaults`, `budget`, `mcp_servers`), as in a file.
  WorkflowBuilder& Field(std::string key, json::value value);

  // Appends a step; set its kind and fields on the returned builder.
  StepBuilder& Step(std::string id);

  // A run output: a value that may read any step.
  WorkflowBuilder& Output(std::string name, json::value value);

  // The workflow document, keys in the order a file would have them.
  json::value ToJson() const;
  // ToJson() pretty-printed: the text Build() loads and diagnostics' line:col refer to.
  std::string ToText() const;

  // Loads the document with `baton`'s tools and providers (Baton::LoadText, under the file name
  // "<name>.json"). kInvalidArgument listing every problem: the loader's diagnostics, and names
  // given twice to Input/Model/Agent/ExecTool/Output/Field (a JSON object cannot hold both).
  Result<std::shared_ptr<const core::Workflow>> Build(Baton& baton) const;

 private:
  // Adds `key` to `section` (e.g. "inputs"), or records a problem when it is already there.
  void Declare(json::object& section, const char* what, std::string key, json::value value);

  std::string name_;
  std::string description_;
  json::object inputs_;
  json::object models_;
  json::object agents_;
  json::object tools_;
  json::object fields_;
  std::deque<StepBuilder> steps_;  // deque: references returned by Step() stay valid
  json::object outputs_;
  std::vector<std::string> problems_;
};

}  // namespace baton
