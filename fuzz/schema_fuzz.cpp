// Fuzz target for baton_schema: bytes -> JSON -> Schema::Compile -> validate the document
// against itself and a few fixed instances. Must never crash or hang (recursion depth, $ref
// loops and evaluation budget are bounded), and IsValid must agree with Validate.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "schema/validator.hpp"

namespace {

const std::vector<baton::json::value>& FixedInstances() {
  static const auto* const kInstances = [] {
    auto* v = new std::vector<baton::json::value>();
    for (std::string_view text :
         {"null", "true", "0", "-1.5", "1e308", "\"\"", "\"abc\"", "[]", "[1, \"a\", [], {}]", "{}",
          "{\"a\": 1, \"b\": [null, {\"c\": \"d\"}], \"$ref\": \"#\"}"}) {
      v->push_back(*baton::ParseJson(text));
    }
    return v;
  }();
  return *kInstances;
}

void Check(const baton::schema::Schema& schema, const baton::json::value& instance) {
  bool valid = schema.IsValid(instance);
  std::vector<baton::schema::ValidationError> errors = schema.Validate(instance, 4);
  if (valid != errors.empty() || errors.size() > 4) std::abort();
  (void)baton::schema::FormatErrors(errors);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  auto doc = baton::ParseJson(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!doc.ok()) return 0;
  auto schema = baton::schema::Schema::Compile(*doc);
  if (!schema.ok()) return 0;
  Check(*schema, *doc);
  for (const auto& instance : FixedInstances()) Check(*schema, instance);
  return 0;
}
