#include <fmt/format.h>

#include <set>

#include "runtime/engine.hpp"
#include "schema/validator.hpp"

namespace baton::runtime {
namespace {

// Compiled input schemas, shared by every run of the process: compiling a schema costs far more
// than validating a value with it. Keyed by the schema's canonical text.
Result<std::shared_ptr<const schema::Schema>> CompiledSchema(const json::value& s) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const schema::Schema>>* cache =
      new std::map<std::string, std::shared_ptr<const schema::Schema>>();
  std::string key = CanonicalJson(s);
  std::lock_guard lock(mu);
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  auto compiled = schema::Schema::Compile(s);
  if (!compiled.ok()) return compiled.error();
  auto ptr = std::make_shared<const schema::Schema>(std::move(compiled).value());
  if (cache->size() < 4096) cache->emplace(std::move(key), ptr);
  return ptr;
}

}  // namespace

Result<json::object> PrepareInputs(const core::Workflow& workflow, json::object inputs) {
  std::set<std::string> declared;
  for (const auto& in : workflow.inputs) declared.insert(in.name);
  for (const auto& kv : inputs) {
    if (!declared.count(std::string(kv.key()))) {
      std::string names;
      for (const auto& d : declared) names += (names.empty() ? "" : ", ") + d;
      return InvalidArgument(fmt::format("unknown input '{}' (this workflow takes: {})",
                                         std::string(kv.key()),
                                         names.empty() ? "no inputs" : names));
    }
  }
  json::object out;
  for (const auto& in : workflow.inputs) {
    const json::value* v = inputs.if_contains(in.name);
    json::value value;
    if (v) {
      value = *v;
    } else if (in.default_value) {
      value = *in.default_value;
    } else {
      return InvalidArgument(fmt::format("missing required input '{}'", in.name));
    }
    auto schema = CompiledSchema(in.schema);
    if (!schema.ok()) {
      return InvalidArgument(
          fmt::format("input '{}': invalid schema: {}", in.name, schema.error().message()));
    }
    auto errors = (*schema)->Validate(value);
    if (!errors.empty()) {
      return InvalidArgument(fmt::format("input '{}': {}", in.name, schema::FormatErrors(errors)));
    }
    out[in.name] = std::move(value);
  }
  return out;
}

}  // namespace baton::runtime
