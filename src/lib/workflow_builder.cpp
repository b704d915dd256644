#include "baton/workflow_builder.hpp"

#include <fmt/format.h>

#include <utility>

#include "baton/baton.hpp"

namespace baton {
namespace {

json::value Str(std::string_view s) { return json::string(s); }

}  // namespace

StepBuilder::StepBuilder(std::string id) { step_["id"] = std::move(id); }

StepBuilder& StepBuilder::Agent(std::string agent, json::value input) {
  step_["agent"] = std::move(agent);
  step_["input"] = std::move(input);
  return *this;
}

StepBuilder& StepBuilder::Llm(json::value spec) { return Field("llm", std::move(spec)); }

StepBuilder& StepBuilder::Call(std::string tool, json::value with) {
  step_["call"] = std::move(tool);
  if (!with.is_null()) step_["with"] = std::move(with);
  return *this;
}

StepBuilder& StepBuilder::Set(json::object entries) { return Field("set", std::move(entries)); }

StepBuilder& StepBuilder::Description(std::string text) { return Field("description", Str(text)); }

StepBuilder& StepBuilder::Needs(std::vector<std::string> step_ids) {
  json::array needs;
  for (const auto& id : step_ids) needs.emplace_back(json::string(id));
  return Field("needs", std::move(needs));
}

StepBuilder& StepBuilder::If(std::string condition) { return Field("if", Str(condition)); }

StepBuilder& StepBuilder::ForEach(json::value items) { return Field("for_each", std::move(items)); }

StepBuilder& StepBuilder::As(std::string name) { return Field("as", Str(name)); }

StepBuilder& StepBuilder::MaxParallel(int n) { return Field("max_parallel", n); }

StepBuilder& StepBuilder::Retry(int max_attempts) {
  return Field("retry", json::object{{"max_attempts", max_attempts}});
}

StepBuilder& StepBuilder::Retry(json::object policy) { return Field("retry", std::move(policy)); }

StepBuilder& StepBuilder::Timeout(std::string duration) { return Field("timeout", Str(duration)); }

StepBuilder& StepBuilder::Output(json::value value) { return Field("output", std::move(value)); }

StepBuilder& StepBuilder::Field(std::string key, json::value value) {
  step_[key] = std::move(value);
  return *this;
}

WorkflowBuilder::WorkflowBuilder(std::string name) : name_(std::move(name)) {}

WorkflowBuilder& WorkflowBuilder::Description(std::string text) {
  description_ = std::move(text);
  return *this;
}

void WorkflowBuilder::Declare(json::object& section, const char* what, std::string key,
                              json::value value) {
  if (section.contains(key)) {
    problems_.push_back(fmt::format("{} '{}' is declared twice", what, key));
    return;
  }
  section[key] = std::move(value);
}

WorkflowBuilder& WorkflowBuilder::Input(std::string name, json::value schema) {
  Declare(inputs_, "input", std::move(name), std::move(schema));
  return *this;
}

WorkflowBuilder& WorkflowBuilder::Model(std::string name, std::string provider, std::string model,
                                        json::object options) {
  json::object spec;
  spec["provider"] = std::move(provider);
  spec["model"] = std::move(model);
  for (auto& kv : options) spec[kv.key()] = std::move(kv.value());
  Declare(models_, "model", std::move(name), std::move(spec));
  return *this;
}

WorkflowBuilder& WorkflowBuilder::Agent(std::string name, std::string model,
                                        std::string instructions,
                                        std::optional<json::value> output_schema) {
  json::object spec;
  spec["model"] = std::move(model);
  spec["instructions"] = std::move(instructions);
  if (output_schema) spec["output_schema"] = std::move(*output_schema);
  return Agent(std::move(name), std::move(spec));
}

WorkflowBuilder& WorkflowBuilder::Agent(std::string name, json::object spec) {
  Declare(agents_, "agent", std::move(name), std::move(spec));
  return *this;
}

WorkflowBuilder& WorkflowBuilder::ExecTool(std::string name, std::vector<std::string> argv,
                                           json::object exec_options) {
  json::object exec;
  json::array args;
  for (const auto& a : argv) args.emplace_back(json::string(a));
  exec["argv"] = std::move(args);
  for (auto& kv : exec_options) exec[kv.key()] = std::move(kv.value());
  Declare(tools_, "tool", std::move(name), json::object{{"exec", std::move(exec)}});
  return *this;
}

WorkflowBuilder& WorkflowBuilder::Field(std::string key, json::value value) {
  Declare(fields_, "top-level key", std::move(key), std::move(value));
  return *this;
}

StepBuilder& WorkflowBuilder::Step(std::string id) { return steps_.emplace_back(std::move(id)); }

WorkflowBuilder& WorkflowBuilder::Output(std::string name, json::value value) {
  Declare(outputs_, "output", std::move(name), std::move(value));
  return *this;
}

json::value WorkflowBuilder::ToJson() const {
  json::object doc;
  doc["baton"] = 1;
  doc["name"] = name_;
  if (!description_.empty()) doc["description"] = description_;
  if (!inputs_.empty()) doc["inputs"] = inputs_;
  if (!models_.empty()) doc["models"] = models_;
  if (!agents_.empty()) doc["agents"] = agents_;
  if (!tools_.empty()) doc["tools"] = tools_;
  for (const auto& kv : fields_) doc[kv.key()] = kv.value();
  json::array steps;
  for (const auto& s : steps_) steps.push_back(s.ToJson());
  doc["steps"] = std::move(steps);
  if (!outputs_.empty()) doc["outputs"] = outputs_;
  return doc;
}

std::string WorkflowBuilder::ToText() const { return PrettyJson(ToJson()); }

Result<std::shared_ptr<const core::Workflow>> WorkflowBuilder::Build(Baton& baton) const {
  std::string file = fmt::format("{}.json", name_.empty() ? "workflow" : name_);
  auto loaded = baton.LoadText(ToText(), file);
  if (problems_.empty()) return loaded;
  std::string msg = fmt::format("{} does not load:", file);
  for (const auto& p : problems_) msg += fmt::format("\n{}: error: {}", file, p);
  if (!loaded.ok()) {
    // The loader's message is a header line followed by one line per diagnostic.
    const std::string& m = loaded.error().message();
    auto nl = m.find('\n');
    if (nl != std::string::npos) msg += m.substr(nl);
  }
  return InvalidArgument(msg);
}

}  // namespace baton
