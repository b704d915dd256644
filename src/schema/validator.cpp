#include "schema/validator.hpp"

#include <fmt/format.h>

#include <exception>

#include "schema/detail/compiler.hpp"
#include "schema/detail/evaluator.hpp"

namespace baton::schema {

void Registry::Add(std::string uri, json::value document) {
  if (!uri.empty() && uri.back() == '#') uri.pop_back();
  documents_.insert_or_assign(std::move(uri), std::move(document));
}

const json::value* Registry::Find(std::string_view uri) const {
  auto it = documents_.find(uri);
  return it == documents_.end() ? nullptr : &it->second;
}

Result<Schema> Schema::Compile(const json::value& schema) { return Compile(schema, Registry()); }

Result<Schema> Schema::Compile(const json::value& schema, const Registry& registry) {
  try {
    BATON_ASSIGN_OR_RETURN(auto compiled, detail::CompileSchema(schema, &registry));
    return Schema(std::move(compiled));
  } catch (const std::exception& e) {  // allocation failure, RE2 internals
    return Internal(fmt::format("compiling schema: {}", e.what()));
  }
}

std::vector<ValidationError> Schema::Validate(const json::value& instance,
                                              size_t max_errors) const {
  std::vector<ValidationError> errors;
  detail::Evaluator evaluator(&errors, max_errors);
  evaluator.Run(*compiled_->root, instance);
  return errors;
}

bool Schema::IsValid(const json::value& instance) const {
  detail::Evaluator evaluator(nullptr, 1);
  return evaluator.Run(*compiled_->root, instance);
}

std::string FormatErrors(const std::vector<ValidationError>& errors) {
  std::string out;
  for (const ValidationError& e : errors) {
    if (!out.empty()) out.push_back('\n');
    out += fmt::format("{}: {} [at {}]", e.instance_pointer.empty() ? "(root)" : e.instance_pointer,
                       e.message, e.keyword_location.empty() ? "#" : e.keyword_location);
  }
  return out;
}

}  // namespace baton::schema
