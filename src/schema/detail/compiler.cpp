#include "schema/detail/compiler.hpp"

#include <fmt/format.h>

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "schema/detail/json_util.hpp"
#include "schema/detail/metaschemas.hpp"
#include "schema/detail/uri.hpp"
#include "schema/validator.hpp"

namespace baton::schema::detail {

namespace {

constexpr std::string_view kDraft202012 = "https://json-schema.org/draft/2020-12/schema";
constexpr std::string_view kVocabPrefix = "https://json-schema.org/draft/2020-12/vocab/";

// Where a subschema sits while it is compiled.
struct Scope {
  std::string base;              // base URI for resolving references
  Resource* resource = nullptr;  // enclosing schema resource (null: the node starts one)
  Vocabularies vocabularies;     // inherited from the enclosing resource
  std::string where;             // human-readable location for errors: "<doc>#<pointer>"
  int depth = 0;
};

struct PendingRef {
  Node* node;
  std::string uri;  // absolute (resolved) target
  bool dynamic;
  std::string where;
};

// ECMA-262 Unicode property names that RE2 spells differently (RE2 takes the short general
// category names and script names).
std::string_view PropertyName(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kLongNames[] = {
      {"Letter", "L"},
      {"Cased_Letter", "L"},
      {"Lowercase_Letter", "Ll"},
      {"Uppercase_Letter", "Lu"},
      {"Titlecase_Letter", "Lt"},
      {"Modifier_Letter", "Lm"},
      {"Other_Letter", "Lo"},
      {"Mark", "M"},
      {"Combining_Mark", "M"},
      {"Nonspacing_Mark", "Mn"},
      {"Spacing_Mark", "Mc"},
      {"Enclosing_Mark", "Me"},
      {"Number", "N"},
      {"Decimal_Number", "Nd"},
      {"digit", "Nd"},
      {"Letter_Number", "Nl"},
      {"Other_Number", "No"},
      {"Punctuation", "P"},
      {"punct", "P"},
      {"Connector_Punctuation", "Pc"},
      {"Dash_Punctuation", "Pd"},
      {"Open_Punctuation", "Ps"},
      {"Close_Punctuation", "Pe"},
      {"Initial_Punctuation", "Pi"},
      {"Final_Punctuation", "Pf"},
      {"Other_Punctuation", "Po"},
      {"Symbol", "S"},
      {"Math_Symbol", "Sm"},
      {"Currency_Symbol", "Sc"},
      {"Modifier_Symbol", "Sk"},
      {"Other_Symbol", "So"},
      {"Separator", "Z"},
      {"Space_Separator", "Zs"},
      {"Line_Separator", "Zl"},
      {"Paragraph_Separator", "Zp"},
      {"Other", "C"},
      {"Control", "Cc"},
      {"cntrl", "Cc"},
      {"Format", "Cf"},
      {"Surrogate", "Cs"},
      {"Private_Use", "Co"},
      {"Unassigned", "Cn"},
  };
  for (std::string_view prefix : {"General_Category=", "gc=", "Script=", "sc="}) {
    if (name.substr(0, prefix.size()) == prefix) name.remove_prefix(prefix.size());
  }
  for (const auto& [long_name, short_name] : kLongNames) {
    if (name == long_name) return short_name;
  }
  return name;
}

// ECMA-262 white space and line terminators (\s), without the brackets.
constexpr std::string_view kEcmaSpace =
    "\\t\\n\\v\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}\\x{205f}"
    "\\x{3000}\\x{feff}";

// Rewrites the ECMA-262 constructs RE2 spells differently: \uXXXX, \cX, long Unicode property
// names, and Unicode-aware \s / \S. Everything else passes through (RE2 rejects what it lacks).
std::string TranslateRegex(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size());
  bool in_class = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    char c = pattern[i];
    if (c != '\\' || i + 1 == pattern.size()) {
      if (c == '[' && !in_class) in_class = true;
      if (c == ']' && in_class) in_class = false;
      out.push_back(c);
      continue;
    }
    char next = pattern[i + 1];
    std::string_view rest = pattern.substr(i + 2);
    if (next == 'u' && rest.size() >= 4 &&
        rest.substr(0, 4).find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos) {
      out += "\\x{";
      out.append(rest.substr(0, 4));
      out += "}";
      i += 5;
    } else if ((next == 'p' || next == 'P') && !rest.empty() && rest[0] == '{' &&
               rest.find('}') != std::string_view::npos) {
      std::string_view name = rest.substr(1, rest.find('}') - 1);
      out += fmt::format("\\{}{{{}}}", next, PropertyName(name));
      i += 2 + name.size() + 1;
    } else if (next == 'c' && !rest.empty() &&
               ((rest[0] >= 'a' && rest[0] <= 'z') || (rest[0] >= 'A' && rest[0] <= 'Z'))) {
      out += fmt::format("\\x{{{:02x}}}", rest[0] % 32);
      i += 2;
    } else if (next == 's' || (next == 'S' && !in_class)) {
      out += in_class ? std::string(kEcmaSpace)
                      : fmt::format("[{}{}]", next == 'S' ? "^" : "", kEcmaSpace);
      ++i;
    } else {
      out.push_back(c);
      out.push_back(next);
      ++i;
    }
  }
  return out;
}

Result<std::unique_ptr<RE2>> CompileRegex(std::string_view pattern, const std::string& where) {
  RE2::Options options;
  options.set_log_errors(false);
  options.set_encoding(RE2::Options::EncodingUTF8);
  auto re = std::make_unique<RE2>(TranslateRegex(pattern), options);
  if (!re->ok()) {
    return InvalidArgument(
        fmt::format("{}: invalid regular expression \"{}\": {}", where, pattern, re->error()));
  }
  return re;
}

Result<uint64_t> NonNegativeInteger(const json::value& v, const std::string& where) {
  if (v.is_uint64()) return v.get_uint64();
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<uint64_t>(v.get_int64());
  if (v.is_double() && IsInteger(v) && v.get_double() >= 0) {
    double d = v.get_double();
    return d >= 18446744073709551615.0 ? UINT64_MAX : static_cast<uint64_t>(d);
  }
  return InvalidArgument(fmt::format("{}: must be a non-negative integer", where));
}

Result<uint8_t> TypeBitFor(const json::value& v, const std::string& where) {
  if (v.is_string()) {
    std::string_view s = v.get_string();
    if (s == "null") return uint8_t{kTypeNull};
    if (s == "boolean") return uint8_t{kTypeBoolean};
    if (s == "integer") return uint8_t{kTypeInteger};
    if (s == "number") return uint8_t{kTypeNumber};
    if (s == "string") return uint8_t{kTypeString};
    if (s == "array") return uint8_t{kTypeArray};
    if (s == "object") return uint8_t{kTypeObject};
  }
  return InvalidArgument(fmt::format("{}: unknown type {}", where, ShortJson(v)));
}

std::string UnescapePointerToken(std::string_view token) {
  std::string out;
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] == '~' && i + 1 < token.size() && (token[i + 1] == '0' || token[i + 1] == '1')) {
      out.push_back(token[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(token[i]);
    }
  }
  return out;
}

// Follows a JSON Pointer ("/a/0/b") from `root`; nullptr when it leads nowhere.
const json::value* FollowPointer(const json::value& root, std::string_view pointer) {
  const json::value* cur = &root;
  while (!pointer.empty()) {
    pointer.remove_prefix(1);  // '/'
    size_t slash = pointer.find('/');
    std::string token = UnescapePointerToken(pointer.substr(0, slash));
    pointer = slash == std::string_view::npos ? std::string_view() : pointer.substr(slash);
    if (cur->is_object()) {
      cur = cur->get_object().if_contains(token);
      if (cur == nullptr) return nullptr;
    } else if (cur->is_array()) {
      if (token.empty() || token.size() > 18 ||
          token.find_first_not_of("0123456789") != std::string::npos ||
          (token.size() > 1 && token[0] == '0')) {
        return nullptr;
      }
      size_t index = std::stoull(token);
      const auto& arr = cur->get_array();
      if (index >= arr.size()) return nullptr;
      cur = &arr[index];
    } else {
      return nullptr;
    }
  }
  return cur;
}

class Compiler {
 public:
  explicit Compiler(const Registry* registry)
      : registry_(registry), out_(std::make_shared<CompiledSchema>()) {}

  Result<std::shared_ptr<const CompiledSchema>> Run(const json::value& schema) {
    out_->documents.push_back(std::make_unique<json::value>(schema));
    Scope scope;
    scope.where = "#";
    BATON_ASSIGN_OR_RETURN(Node * root, CompileNode(*out_->documents.back(), scope));
    out_->root = root;
    for (size_t i = 0; i < pending_.size(); ++i) {
      PendingRef p = pending_[i];  // copy: Resolve may grow pending_
      BATON_ASSIGN_OR_RETURN(const Node* target, Resolve(p.uri, p.where));
      if (!p.dynamic) {
        p.node->ref = Child{target, "/$ref"};
        continue;
      }
      DynamicRef dr;
      dr.target = Child{target, "/$dynamicRef"};
      std::string_view doc, fragment;
      SplitFragment(p.uri, &doc, &fragment);
      std::string name = PercentDecode(fragment);
      if (!name.empty() && name[0] != '/') {
        auto it = target->resource->dynamic_anchors.find(name);
        if (it != target->resource->dynamic_anchors.end() && it->second == target) {
          dr.anchor = name;
        }
      }
      p.node->dynamic_ref = std::move(dr);
    }
    return std::shared_ptr<const CompiledSchema>(out_);
  }

 private:
  Result<Child> Sub(const json::value& v, const Scope& parent, std::string path) {
    Scope scope = parent;
    scope.where = parent.where + path;
    scope.depth = parent.depth + 1;
    BATON_ASSIGN_OR_RETURN(Node * node, CompileNode(v, scope));
    return Child{node, std::move(path)};
  }

  Result<std::vector<Child>> SubArray(const json::value& v, const Scope& scope,
                                      std::string_view keyword, bool non_empty) {
    if (!v.is_array() || (non_empty && v.get_array().empty())) {
      return InvalidArgument(fmt::format("{}/{}: must be {}array of schemas", scope.where, keyword,
                                         non_empty ? "a non-empty " : "an "));
    }
    std::vector<Child> children;
    const auto& arr = v.get_array();
    for (size_t i = 0; i < arr.size(); ++i) {
      BATON_ASSIGN_OR_RETURN(Child c, Sub(arr[i], scope, fmt::format("/{}/{}", keyword, i)));
      children.push_back(std::move(c));
    }
    return children;
  }

  Result<Node*> CompileNode(const json::value& v, Scope scope) {
    if (scope.depth > kMaxSchemaDepth) {
      return InvalidArgument(
          fmt::format("{}: schema nested deeper than {} levels", scope.where, kMaxSchemaDepth));
    }
    if (auto it = by_json_.find(&v); it != by_json_.end()) return it->second;
    out_->nodes.push_back(std::make_unique<Node>());
    Node* node = out_->nodes.back().get();
    by_json_[&v] = node;

    const json::object* obj = v.if_object();
    if (obj == nullptr && !v.is_bool()) {
      return InvalidArgument(fmt::format("{}: a schema must be an object or a boolean, got {}",
                                         scope.where, JsonTypeName(v)));
    }
    const json::value* id = obj ? obj->if_contains("$id") : nullptr;
    if (id != nullptr || scope.resource == nullptr) {
      if (id != nullptr) {
        if (!id->is_string()) return InvalidArgument(scope.where + "/$id: must be a string");
        std::string resolved = ResolveUri(scope.base, id->get_string());
        std::string_view without, fragment;
        SplitFragment(resolved, &without, &fragment);
        if (!fragment.empty()) {
          return InvalidArgument(scope.where + "/$id: must not contain a non-empty fragment");
        }
        scope.base = std::string(without);
      }
      out_->resources.push_back(std::make_unique<Resource>());
      Resource* resource = out_->resources.back().get();
      resource->uri = scope.base;
      resource->json = &v;
      resource->root = node;
      if (obj != nullptr) {
        if (const json::value* s = obj->if_contains("$schema")) {
          BATON_ASSIGN_OR_RETURN(scope.vocabularies, VocabulariesFor(*s, scope.where));
        }
      }
      resource->vocabularies = scope.vocabularies;
      resources_.emplace(resource->uri, resource);
      scope.resource = resource;
    }
    node->resource = scope.resource;
    if (obj == nullptr) {
      node->boolean = v.get_bool();
      return node;
    }
    BATON_RETURN_IF_ERROR(CompileCore(node, *obj, scope));
    if (scope.vocabularies.applicator) BATON_RETURN_IF_ERROR(CompileApplicators(node, *obj, scope));
    if (scope.vocabularies.unevaluated) {
      if (const json::value* u = obj->if_contains("unevaluatedItems")) {
        BATON_ASSIGN_OR_RETURN(node->unevaluated_items, Sub(*u, scope, "/unevaluatedItems"));
      }
      if (const json::value* u = obj->if_contains("unevaluatedProperties")) {
        BATON_ASSIGN_OR_RETURN(node->unevaluated_properties,
                               Sub(*u, scope, "/unevaluatedProperties"));
      }
      node->has_unevaluated = node->unevaluated_items || node->unevaluated_properties;
    }
    if (scope.vocabularies.validation) BATON_RETURN_IF_ERROR(CompileValidation(node, *obj, scope));
    return node;
  }

  Status CompileCore(Node* node, const json::object& obj, const Scope& scope) {
    Resource* resource = scope.resource;
    for (std::string_view keyword : {"$anchor", "$dynamicAnchor"}) {
      const json::value* a = obj.if_contains(keyword);
      if (a == nullptr) continue;
      if (!a->is_string() || a->get_string().empty()) {
        return InvalidArgument(
            fmt::format("{}/{}: must be a non-empty string", scope.where, keyword));
      }
      std::string name(a->get_string());
      anchors_.emplace(resource->uri + "#" + name, node);
      if (keyword == "$dynamicAnchor") resource->dynamic_anchors.emplace(name, node);
    }
    for (std::string_view keyword : {"$ref", "$dynamicRef"}) {
      const json::value* r = obj.if_contains(keyword);
      if (r == nullptr) continue;
      if (!r->is_string()) {
        return InvalidArgument(fmt::format("{}/{}: must be a string", scope.where, keyword));
      }
      pending_.push_back(PendingRef{node, ResolveUri(scope.base, r->get_string()),
                                    keyword == "$dynamicRef",
                                    fmt::format("{}/{}", scope.where, keyword)});
    }
    if (const json::value* defs = obj.if_contains("$defs")) {
      if (!defs->is_object()) return InvalidArgument(scope.where + "/$defs: must be an object");
      for (const auto& kv : defs->get_object()) {
        BATON_RETURN_IF_ERROR(
            Sub(kv.value(), scope, "/$defs/" + EscapePointerToken(kv.key())).status());
      }
    }
    return Status::Ok();
  }

  Status CompileApplicators(Node* node, const json::object& obj, const Scope& scope) {
    const std::string& where = scope.where;
    if (const json::value* v = obj.if_contains("allOf")) {
      BATON_ASSIGN_OR_RETURN(node->all_of, SubArray(*v, scope, "allOf", true));
    }
    if (const json::value* v = obj.if_contains("anyOf")) {
      BATON_ASSIGN_OR_RETURN(node->any_of, SubArray(*v, scope, "anyOf", true));
    }
    if (const json::value* v = obj.if_contains("oneOf")) {
      BATON_ASSIGN_OR_RETURN(node->one_of, SubArray(*v, scope, "oneOf", true));
    }
    if (const json::value* v = obj.if_contains("not")) {
      BATON_ASSIGN_OR_RETURN(node->not_schema, Sub(*v, scope, "/not"));
    }
    if (const json::value* v = obj.if_contains("if")) {
      BATON_ASSIGN_OR_RETURN(node->if_schema, Sub(*v, scope, "/if"));
    }
    if (const json::value* v = obj.if_contains("then")) {
      BATON_ASSIGN_OR_RETURN(node->then_schema, Sub(*v, scope, "/then"));
    }
    if (const json::value* v = obj.if_contains("else")) {
      BATON_ASSIGN_OR_RETURN(node->else_schema, Sub(*v, scope, "/else"));
    }
    if (const json::value* v = obj.if_contains("dependentSchemas")) {
      if (!v->is_object()) return InvalidArgument(where + "/dependentSchemas: must be an object");
      for (const auto& kv : v->get_object()) {
        BATON_ASSIGN_OR_RETURN(
            Child c, Sub(kv.value(), scope, "/dependentSchemas/" + EscapePointerToken(kv.key())));
        node->dependent_schemas.emplace_back(std::string(kv.key()), std::move(c));
      }
    }
    if (const json::value* v = obj.if_contains("prefixItems")) {
      BATON_ASSIGN_OR_RETURN(node->prefix_items, SubArray(*v, scope, "prefixItems", true));
    }
    if (const json::value* v = obj.if_contains("items")) {
      if (v->is_array()) {
        return InvalidArgument(where +
                               "/items: must be a schema (2020-12 uses prefixItems for tuples)");
      }
      BATON_ASSIGN_OR_RETURN(node->items, Sub(*v, scope, "/items"));
    }
    if (const json::value* v = obj.if_contains("contains")) {
      BATON_ASSIGN_OR_RETURN(node->contains, Sub(*v, scope, "/contains"));
    }
    if (const json::value* v = obj.if_contains("properties")) {
      if (!v->is_object()) return InvalidArgument(where + "/properties: must be an object");
      for (const auto& kv : v->get_object()) {
        BATON_ASSIGN_OR_RETURN(
            Child c, Sub(kv.value(), scope, "/properties/" + EscapePointerToken(kv.key())));
        node->properties.emplace(std::string(kv.key()), std::move(c));
      }
    }
    if (const json::value* v = obj.if_contains("patternProperties")) {
      if (!v->is_object()) return InvalidArgument(where + "/patternProperties: must be an object");
      for (const auto& kv : v->get_object()) {
        std::string path = "/patternProperties/" + EscapePointerToken(kv.key());
        PatternChild pc;
        BATON_ASSIGN_OR_RETURN(pc.regex, CompileRegex(kv.key(), where + path));
        pc.source = std::string(kv.key());
        BATON_ASSIGN_OR_RETURN(pc.child, Sub(kv.value(), scope, std::move(path)));
        node->pattern_properties.push_back(std::move(pc));
      }
    }
    if (const json::value* v = obj.if_contains("additionalProperties")) {
      BATON_ASSIGN_OR_RETURN(node->additional_properties, Sub(*v, scope, "/additionalProperties"));
    }
    if (const json::value* v = obj.if_contains("propertyNames")) {
      BATON_ASSIGN_OR_RETURN(node->property_names, Sub(*v, scope, "/propertyNames"));
    }
    return Status::Ok();
  }

  Status CompileValidation(Node* node, const json::object& obj, const Scope& scope) {
    const std::string& where = scope.where;
    if (const json::value* v = obj.if_contains("type")) {
      if (v->is_array()) {
        for (const auto& t : v->get_array()) {
          BATON_ASSIGN_OR_RETURN(uint8_t bit, TypeBitFor(t, where + "/type"));
          node->types |= bit;
        }
        if (node->types == 0) return InvalidArgument(where + "/type: must not be empty");
      } else {
        BATON_ASSIGN_OR_RETURN(node->types, TypeBitFor(*v, where + "/type"));
      }
    }
    if (const json::value* v = obj.if_contains("const")) node->const_value = v;
    if (const json::value* v = obj.if_contains("enum")) {
      if (!v->is_array()) return InvalidArgument(where + "/enum: must be an array");
      node->enum_values = &v->get_array();
    }
    struct NumberKeyword {
      std::string_view name;
      const json::value** field;
    };
    for (const NumberKeyword& k :
         {NumberKeyword{"multipleOf", &node->multiple_of}, NumberKeyword{"maximum", &node->maximum},
          NumberKeyword{"exclusiveMaximum", &node->exclusive_maximum},
          NumberKeyword{"minimum", &node->minimum},
          NumberKeyword{"exclusiveMinimum", &node->exclusive_minimum}}) {
      const json::value* v = obj.if_contains(k.name);
      if (v == nullptr) continue;
      if (!IsNumber(*v))
        return InvalidArgument(fmt::format("{}/{}: must be a number", where, k.name));
      *k.field = v;
    }
    if (node->multiple_of != nullptr && CompareNumbers(*node->multiple_of, json::value(0)) <= 0) {
      return InvalidArgument(where + "/multipleOf: must be greater than 0");
    }
    struct CountKeyword {
      std::string_view name;
      std::optional<uint64_t>* field;
    };
    for (const CountKeyword& k :
         {CountKeyword{"maxLength", &node->max_length},
          CountKeyword{"minLength", &node->min_length}, CountKeyword{"maxItems", &node->max_items},
          CountKeyword{"minItems", &node->min_items},
          CountKeyword{"maxContains", &node->max_contains},
          CountKeyword{"minContains", &node->min_contains},
          CountKeyword{"maxProperties", &node->max_properties},
          CountKeyword{"minProperties", &node->min_properties}}) {
      const json::value* v = obj.if_contains(k.name);
      if (v == nullptr) continue;
      BATON_ASSIGN_OR_RETURN(*k.field, NonNegativeInteger(*v, fmt::format("{}/{}", where, k.name)));
    }
    if (const json::value* v = obj.if_contains("pattern")) {
      if (!v->is_string()) return InvalidArgument(where + "/pattern: must be a string");
      node->pattern_source = std::string(v->get_string());
      BATON_ASSIGN_OR_RETURN(node->pattern, CompileRegex(v->get_string(), where + "/pattern"));
    }
    if (const json::value* v = obj.if_contains("uniqueItems")) {
      if (!v->is_bool()) return InvalidArgument(where + "/uniqueItems: must be a boolean");
      node->unique_items = v->get_bool();
    }
    if (const json::value* v = obj.if_contains("required")) {
      BATON_ASSIGN_OR_RETURN(node->required, StringArray(*v, where + "/required"));
    }
    if (const json::value* v = obj.if_contains("dependentRequired")) {
      if (!v->is_object()) return InvalidArgument(where + "/dependentRequired: must be an object");
      for (const auto& kv : v->get_object()) {
        DependentRequired dr;
        dr.property = std::string(kv.key());
        BATON_ASSIGN_OR_RETURN(
            dr.required,
            StringArray(kv.value(), where + "/dependentRequired/" + EscapePointerToken(kv.key())));
        node->dependent_required.push_back(std::move(dr));
      }
    }
    return Status::Ok();
  }

  static Result<std::vector<std::string>> StringArray(const json::value& v,
                                                      const std::string& where) {
    std::vector<std::string> out;
    if (v.is_array()) {
      for (const auto& e : v.get_array()) {
        if (!e.is_string()) break;
        out.emplace_back(e.get_string());
      }
      if (out.size() == v.get_array().size()) return out;
    }
    return InvalidArgument(where + ": must be an array of strings");
  }

  // The vocabularies named by the "$vocabulary" of the meta-schema `schema_uri`. Meta-schemas
  // that cannot be found, or have no "$vocabulary", mean the full 2020-12 set.
  Result<Vocabularies> VocabulariesFor(const json::value& schema_uri, const std::string& where) {
    if (!schema_uri.is_string()) return InvalidArgument(where + "/$schema: must be a string");
    std::string_view uri, fragment;
    SplitFragment(schema_uri.get_string(), &uri, &fragment);
    Vocabularies all;
    if (uri == kDraft202012) return all;
    const json::value* meta = FindDocument(uri);
    const json::value* vocab = meta != nullptr && meta->is_object()
                                   ? meta->get_object().if_contains("$vocabulary")
                                   : nullptr;
    if (vocab == nullptr || !vocab->is_object()) return all;
    Vocabularies result{false, false, false};
    for (const auto& kv : vocab->get_object()) {
      std::string_view name = kv.key();
      bool required = kv.value().is_bool() && kv.value().get_bool();
      std::string_view short_name = name.substr(0, kVocabPrefix.size()) == kVocabPrefix
                                        ? name.substr(kVocabPrefix.size())
                                        : std::string_view();
      if (short_name == "applicator") {
        result.applicator = true;
      } else if (short_name == "unevaluated") {
        result.unevaluated = true;
      } else if (short_name == "validation") {
        result.validation = true;
      } else if (short_name == "core" || short_name == "meta-data" ||
                 short_name == "format-annotation" || short_name == "content") {
        // Core is always on; the others only annotate.
      } else if (required) {
        return InvalidArgument(fmt::format(
            "{}/$schema: meta-schema requires unsupported vocabulary \"{}\"", where, name));
      }
    }
    return result;
  }

  // A registry document or built-in meta-schema by absolute URI (no fragment), or nullptr.
  const json::value* FindDocument(std::string_view uri) {
    if (registry_ != nullptr) {
      if (auto it = loaded_.find(std::string(uri)); it != loaded_.end()) return it->second;
      if (const json::value* doc = registry_->Find(uri)) {
        out_->documents.push_back(std::make_unique<json::value>(*doc));
        loaded_.emplace(std::string(uri), out_->documents.back().get());
        return out_->documents.back().get();
      }
    }
    return FindMetaSchema(uri);
  }

  Result<const Node*> Resolve(const std::string& target, const std::string& where) {
    std::string_view doc_view, fragment_view;
    SplitFragment(target, &doc_view, &fragment_view);
    std::string doc(doc_view);
    std::string fragment = PercentDecode(fragment_view);
    auto unresolvable = [&] {
      return InvalidArgument(fmt::format("{}: cannot resolve \"{}\"", where, target));
    };
    auto it = resources_.find(doc);
    if (it == resources_.end()) {
      const json::value* document = FindDocument(doc);
      if (document == nullptr) return unresolvable();
      Scope scope;
      scope.base = doc;
      scope.where = doc + "#";
      BATON_ASSIGN_OR_RETURN(Node * root, CompileNode(*document, scope));
      it = resources_.find(doc);
      if (it == resources_.end()) {  // the document names itself differently ("$id")
        it = resources_.emplace(doc, resources_.at(root->resource->uri)).first;
      }
    }
    Resource* resource = it->second;
    if (fragment.empty()) return resource->root;
    if (fragment[0] == '/') {
      const json::value* v = FollowPointer(*resource->json, fragment);
      if (v == nullptr) return unresolvable();
      if (auto found = by_json_.find(v); found != by_json_.end()) return found->second;
      Scope scope;
      scope.base = resource->uri;
      scope.resource = resource;
      scope.vocabularies = resource->vocabularies;
      scope.where = resource->uri + "#" + fragment;
      BATON_ASSIGN_OR_RETURN(Node * node, CompileNode(*v, scope));
      return node;
    }
    auto anchor = anchors_.find(resource->uri + "#" + fragment);
    if (anchor == anchors_.end()) return unresolvable();
    return anchor->second;
  }

  const Registry* registry_;
  std::shared_ptr<CompiledSchema> out_;
  std::map<std::string, Resource*, std::less<>> resources_;
  std::map<std::string, const Node*, std::less<>> anchors_;
  std::unordered_map<const json::value*, Node*> by_json_;
  std::map<std::string, const json::value*> loaded_;
  std::vector<PendingRef> pending_;
};

}  // namespace

Result<std::shared_ptr<const CompiledSchema>> CompileSchema(const json::value& schema,
                                                            const Registry* registry) {
  Compiler compiler(registry);
  return compiler.Run(schema);
}

}  // namespace baton::schema::detail
