#include "schema/detail/evaluator.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "schema/detail/json_util.hpp"

namespace baton::schema::detail {

namespace {

uint8_t TypeOf(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return kTypeNull;
    case json::kind::bool_:
      return kTypeBoolean;
    case json::kind::string:
      return kTypeString;
    case json::kind::array:
      return kTypeArray;
    case json::kind::object:
      return kTypeObject;
    default:
      return IsInteger(v) ? (kTypeInteger | kTypeNumber) : kTypeNumber;
  }
}

std::string TypeNames(uint8_t types) {
  static constexpr std::pair<uint8_t, std::string_view> kNames[] = {
      {kTypeNull, "null"},     {kTypeBoolean, "boolean"}, {kTypeInteger, "integer"},
      {kTypeNumber, "number"}, {kTypeString, "string"},   {kTypeArray, "array"},
      {kTypeObject, "object"}};
  std::vector<std::string_view> names;
  for (const auto& [bit, name] : kNames) {
    if (types & bit) names.push_back(name);
  }
  if (names.size() == 1) return std::string(names[0]);
  return fmt::format("one of {}", fmt::join(names, ", "));
}

}  // namespace

void Evaluator::Annotations::Mark(size_t i, size_t n) {
  if (marks.size() < n) marks.resize(n, 0);
  marks[i] = 1;
}

void Evaluator::Annotations::Merge(const Annotations& other) {
  if (marks.size() < other.marks.size()) marks.resize(other.marks.size(), 0);
  for (size_t i = 0; i < other.marks.size(); ++i) marks[i] |= other.marks[i];
}

bool Evaluator::Run(const Node& root, const json::value& instance) {
  bool valid = Eval(root, instance, nullptr) && !aborted_;
  if (!valid && errors_ != nullptr && errors_->empty()) {
    errors_->push_back({"", "", "value does not match the schema"});
  }
  return valid;
}

bool Evaluator::Quiet() const {
  return errors_ == nullptr || quiet_ > 0 || errors_->size() >= max_errors_;
}

void Evaluator::Fail(std::string_view keyword, std::string message) {
  if (Quiet()) return;
  errors_->push_back({InstancePointer(), KeywordLocation(keyword), std::move(message)});
}

void Evaluator::FailAt(PathSegment segment, std::string_view keyword, std::string message) {
  instance_path_.push_back(segment);
  Fail(keyword, std::move(message));
  instance_path_.pop_back();
}

bool Evaluator::Abort(std::string message) {
  if (!aborted_ && errors_ != nullptr && errors_->size() < max_errors_) {
    errors_->push_back({InstancePointer(), KeywordLocation(""), std::move(message)});
  }
  aborted_ = true;
  return false;
}

std::string Evaluator::InstancePointer() const {
  std::string out;
  for (const PathSegment& s : instance_path_) {
    out.push_back('/');
    out += s.is_index ? std::to_string(s.index) : EscapePointerToken(s.key);
  }
  return out;
}

std::string Evaluator::KeywordLocation(std::string_view keyword) const {
  std::string out;
  for (const std::string* s : keyword_path_) out += *s;
  if (!keyword.empty()) {
    out.push_back('/');
    out.append(keyword);
  }
  return out;
}

bool Evaluator::EvalChild(const Child& child, const json::value& instance,
                          Annotations* annotations) {
  keyword_path_.push_back(&child.path);
  bool ok = Eval(*child.node, instance, annotations);
  keyword_path_.pop_back();
  return ok;
}

bool Evaluator::EvalAt(const Child& child, const json::value& value, PathSegment segment) {
  instance_path_.push_back(segment);
  bool ok = EvalChild(child, value, nullptr);
  instance_path_.pop_back();
  return ok;
}

bool Evaluator::EvalRef(const Child& target, const json::value& instance,
                        Annotations* annotations) {
  for (const auto& [node, value] : ref_stack_) {
    if (node == target.node && value == &instance) {
      keyword_path_.push_back(&target.path);
      Abort("validation stopped: reference loop (the same schema applied to the same value again)");
      keyword_path_.pop_back();
      return false;
    }
  }
  ref_stack_.emplace_back(target.node, &instance);
  bool ok = EvalChild(target, instance, annotations);
  ref_stack_.pop_back();
  return ok;
}

bool Evaluator::Eval(const Node& node, const json::value& instance, Annotations* annotations) {
  if (aborted_) return false;
  if (++steps_ > kMaxEvalSteps) {
    return Abort(fmt::format("validation stopped: more than {} schema evaluations", kMaxEvalSteps));
  }
  if (depth_ >= kMaxEvalDepth) {
    return Abort(
        fmt::format("validation stopped: evaluation nested deeper than {} levels", kMaxEvalDepth));
  }
  if (node.boolean) {
    if (*node.boolean) return true;
    Fail("", "no value is allowed here (schema is false)");
    return false;
  }
  ++depth_;
  bool pushed_scope = dynamic_scope_.empty() || dynamic_scope_.back() != node.resource;
  if (pushed_scope) dynamic_scope_.push_back(node.resource);

  // A node that reads annotations (unevaluated*) collects its own, so that siblings' annotations
  // in the caller's set never leak into it.
  Annotations local;
  Annotations* mine = node.has_unevaluated ? &local : annotations;
  bool valid = true;
  auto step = [&](bool ok) {
    if (!ok) valid = false;
    return ok || !StopEarly();
  };
  [&] {
    if (node.ref && !step(EvalRef(node.ref, instance, mine))) return;
    if (node.dynamic_ref) {
      const DynamicRef& dr = *node.dynamic_ref;
      Child target = dr.target;
      if (!dr.anchor.empty()) {
        for (const Resource* r : dynamic_scope_) {
          auto it = r->dynamic_anchors.find(dr.anchor);
          if (it != r->dynamic_anchors.end()) {
            target.node = it->second;
            break;
          }
        }
      }
      if (!step(EvalRef(target, instance, mine))) return;
    }
    if (!step(EvalValidation(node, instance))) return;
    if (!step(EvalInPlace(node, instance, mine))) return;
    if (instance.is_array()) {
      step(EvalArray(node, instance.get_array(), mine));
    } else if (instance.is_object()) {
      step(EvalObject(node, instance.get_object(), mine));
    }
  }();

  if (node.has_unevaluated && annotations != nullptr && valid) annotations->Merge(local);
  if (pushed_scope) dynamic_scope_.pop_back();
  --depth_;
  return valid && !aborted_;
}

bool Evaluator::EvalValidation(const Node& node, const json::value& instance) {
  bool valid = true;
  auto fail = [&](std::string_view keyword, std::string message) {
    Fail(keyword, std::move(message));
    valid = false;
    return StopEarly();
  };
  if (node.types != 0 && (node.types & TypeOf(instance)) == 0) {
    if (fail("type",
             fmt::format("must be {}, got {}", TypeNames(node.types), JsonTypeName(instance)))) {
      return false;
    }
  }
  if (node.const_value != nullptr && !JsonEqual(*node.const_value, instance)) {
    if (fail("const", fmt::format("must equal {}", ShortJson(*node.const_value)))) return false;
  }
  if (node.enum_values != nullptr) {
    bool found = std::any_of(node.enum_values->begin(), node.enum_values->end(),
                             [&](const json::value& e) { return JsonEqual(e, instance); });
    if (!found && fail("enum", fmt::format("must be one of {}", ShortJson(*node.enum_values)))) {
      return false;
    }
  }
  if (IsNumber(instance)) {
    struct Bound {
      const json::value* limit;
      std::string_view keyword;
      std::string_view op;
      bool (*ok)(int);
    };
    const Bound bounds[] = {
        {node.maximum, "maximum", "<=", [](int c) { return c <= 0; }},
        {node.exclusive_maximum, "exclusiveMaximum", "<", [](int c) { return c < 0; }},
        {node.minimum, "minimum", ">=", [](int c) { return c >= 0; }},
        {node.exclusive_minimum, "exclusiveMinimum", ">", [](int c) { return c > 0; }},
    };
    for (const Bound& b : bounds) {
      if (b.limit == nullptr || b.ok(CompareNumbers(instance, *b.limit))) continue;
      if (fail(b.keyword, fmt::format("must be {} {}, got {}", b.op, NumberText(*b.limit),
                                      NumberText(instance)))) {
        return false;
      }
    }
    if (node.multiple_of != nullptr && !IsMultipleOf(instance, *node.multiple_of)) {
      if (fail("multipleOf", fmt::format("must be a multiple of {}, got {}",
                                         NumberText(*node.multiple_of), NumberText(instance)))) {
        return false;
      }
    }
  } else if (instance.is_string()) {
    std::string_view s = instance.get_string();
    if (node.max_length || node.min_length) {
      size_t length = CodePointCount(s);
      if (node.max_length && length > *node.max_length &&
          fail("maxLength", fmt::format("must be at most {} characters long, got {}",
                                        *node.max_length, length))) {
        return false;
      }
      if (node.min_length && length < *node.min_length &&
          fail("minLength", fmt::format("must be at least {} characters long, got {}",
                                        *node.min_length, length))) {
        return false;
      }
    }
    if (node.pattern && !RE2::PartialMatch(s, *node.pattern) &&
        fail("pattern", fmt::format("must match pattern \"{}\"", node.pattern_source))) {
      return false;
    }
  } else if (instance.is_array()) {
    const json::array& a = instance.get_array();
    if (node.max_items && a.size() > *node.max_items &&
        fail("maxItems",
             fmt::format("must have at most {} items, got {}", *node.max_items, a.size()))) {
      return false;
    }
    if (node.min_items && a.size() < *node.min_items &&
        fail("minItems",
             fmt::format("must have at least {} items, got {}", *node.min_items, a.size()))) {
      return false;
    }
    if (node.unique_items) {
      for (size_t i = 0; i < a.size(); ++i) {
        for (size_t j = i + 1; j < a.size(); ++j) {
          if (!JsonEqual(a[i], a[j])) continue;
          if (fail("uniqueItems", fmt::format("must not contain duplicates (items {} and {} are "
                                              "equal)",
                                              i, j))) {
            return false;
          }
          i = j = a.size();  // one error is enough
        }
      }
    }
  } else if (instance.is_object()) {
    const json::object& o = instance.get_object();
    if (node.max_properties && o.size() > *node.max_properties &&
        fail("maxProperties", fmt::format("must have at most {} properties, got {}",
                                          *node.max_properties, o.size()))) {
      return false;
    }
    if (node.min_properties && o.size() < *node.min_properties &&
        fail("minProperties", fmt::format("must have at least {} properties, got {}",
                                          *node.min_properties, o.size()))) {
      return false;
    }
    for (const std::string& name : node.required) {
      if (!o.contains(name) &&
          fail("required", fmt::format("missing required property \"{}\"", name))) {
        return false;
      }
    }
    for (const DependentRequired& dr : node.dependent_required) {
      if (!o.contains(dr.property)) continue;
      for (const std::string& name : dr.required) {
        if (!o.contains(name) &&
            fail("dependentRequired/" + EscapePointerToken(dr.property),
                 fmt::format("property \"{}\" requires property \"{}\"", dr.property, name))) {
          return false;
        }
      }
    }
  }
  return valid;
}

bool Evaluator::EvalInPlace(const Node& node, const json::value& instance,
                            Annotations* annotations) {
  bool valid = true;
  auto step = [&](bool ok) {
    if (!ok) valid = false;
    return ok || !StopEarly();
  };
  // allOf, then/else and dependentSchemas must all pass: a failure fails this node anyway, so
  // their annotations go straight into the caller's set.
  for (const Child& c : node.all_of) {
    if (!step(EvalChild(c, instance, annotations))) return false;
  }
  if (!node.any_of.empty()) {
    bool matched = false;
    ++quiet_;
    for (const Child& c : node.any_of) {
      Annotations sub;
      if (EvalChild(c, instance, annotations ? &sub : nullptr)) {
        matched = true;
        if (annotations == nullptr) break;
        annotations->Merge(sub);
      }
    }
    --quiet_;
    if (!matched) Fail("anyOf", "must match at least one schema in anyOf");
    if (!step(matched)) return false;
  }
  if (!node.one_of.empty()) {
    std::vector<size_t> matches;
    Annotations first;
    ++quiet_;
    for (size_t i = 0; i < node.one_of.size() && matches.size() < 2; ++i) {
      Annotations sub;
      if (EvalChild(node.one_of[i], instance, annotations ? &sub : nullptr)) {
        matches.push_back(i);
        first = std::move(sub);
      }
    }
    --quiet_;
    if (matches.size() == 1 && annotations != nullptr) annotations->Merge(first);
    if (matches.empty()) {
      Fail("oneOf", "must match exactly one schema in oneOf, matched none");
    } else if (matches.size() > 1) {
      Fail("oneOf", fmt::format("must match exactly one schema in oneOf, matched {} and {}",
                                matches[0], matches[1]));
    }
    if (!step(matches.size() == 1)) return false;
  }
  if (node.not_schema) {
    ++quiet_;
    bool matched = EvalChild(node.not_schema, instance, nullptr);
    --quiet_;
    if (matched) Fail("not", "must not match the schema in not");
    if (!step(!matched)) return false;
  }
  if (node.if_schema) {
    Annotations sub;
    ++quiet_;
    bool cond = EvalChild(node.if_schema, instance, annotations ? &sub : nullptr);
    --quiet_;
    if (aborted_) return false;
    if (cond && annotations != nullptr) annotations->Merge(sub);
    const Child& branch = cond ? node.then_schema : node.else_schema;
    if (branch && !step(EvalChild(branch, instance, annotations))) return false;
  }
  if (instance.is_object()) {
    const json::object& o = instance.get_object();
    for (const auto& [property, c] : node.dependent_schemas) {
      if (o.contains(property) && !step(EvalChild(c, instance, annotations))) return false;
    }
  }
  return valid;
}

bool Evaluator::EvalArray(const Node& node, const json::array& array, Annotations* annotations) {
  bool valid = true;
  auto step = [&](bool ok) {
    if (!ok) valid = false;
    return ok || !StopEarly();
  };
  const size_t n = array.size();
  auto mark = [&](size_t i) {
    if (annotations != nullptr) annotations->Mark(i, n);
  };
  const size_t prefix = std::min(n, node.prefix_items.size());
  for (size_t i = 0; i < prefix; ++i) {
    mark(i);
    if (!step(EvalAt(node.prefix_items[i], array[i], {{}, i, true}))) return false;
  }
  if (node.items) {
    for (size_t i = prefix; i < n; ++i) {
      mark(i);
      if (!step(EvalAt(node.items, array[i], {{}, i, true}))) return false;
    }
  }
  if (node.contains) {
    const uint64_t min = node.min_contains.value_or(1);
    uint64_t count = 0;
    ++quiet_;
    for (size_t i = 0; i < n; ++i) {
      if (EvalAt(node.contains, array[i], {{}, i, true})) {
        ++count;
        mark(i);
        if (annotations == nullptr && !node.max_contains && count >= min) break;
      }
      if (aborted_) break;
    }
    --quiet_;
    if (count < min) {
      if (node.min_contains) {
        Fail("minContains",
             fmt::format("must contain at least {} items matching contains, got {}", min, count));
      } else {
        Fail("contains", "must contain at least one item matching contains");
      }
      if (!step(false)) return false;
    }
    if (node.max_contains && count > *node.max_contains) {
      Fail("maxContains", fmt::format("must contain at most {} items matching contains, got {}",
                                      *node.max_contains, count));
      if (!step(false)) return false;
    }
  }
  if (node.unevaluated_items) {
    // `annotations` is this node's own set here (has_unevaluated).
    for (size_t i = 0; i < n; ++i) {
      if (annotations->Has(i)) continue;
      if (node.unevaluated_items.node->boolean == false) {
        FailAt({{}, i, true}, "unevaluatedItems", fmt::format("item {} is not allowed", i));
        if (!step(false)) return false;
        continue;
      }
      if (!step(EvalAt(node.unevaluated_items, array[i], {{}, i, true}))) return false;
    }
    annotations->MarkAll(n);
  }
  return valid;
}

bool Evaluator::EvalObject(const Node& node, const json::object& object, Annotations* annotations) {
  bool valid = true;
  auto step = [&](bool ok) {
    if (!ok) valid = false;
    return ok || !StopEarly();
  };
  const size_t n = object.size();
  const bool needs_matches = static_cast<bool>(node.additional_properties);
  std::vector<char> matched(needs_matches ? n : 0, 0);
  size_t i = 0;
  for (auto it = object.begin(); it != object.end(); ++it, ++i) {
    std::string_view key = it->key();
    PathSegment segment{key, 0, false};
    if (!node.properties.empty()) {
      auto p = node.properties.find(key);
      if (p != node.properties.end()) {
        if (needs_matches) matched[i] = 1;
        if (annotations != nullptr) annotations->Mark(i, n);
        if (!step(EvalAt(p->second, it->value(), segment))) return false;
      }
    }
    for (const PatternChild& pc : node.pattern_properties) {
      if (!RE2::PartialMatch(key, *pc.regex)) continue;
      if (needs_matches) matched[i] = 1;
      if (annotations != nullptr) annotations->Mark(i, n);
      if (!step(EvalAt(pc.child, it->value(), segment))) return false;
    }
    if (needs_matches && !matched[i]) {
      if (annotations != nullptr) annotations->Mark(i, n);
      if (node.additional_properties.node->boolean == false) {
        FailAt(segment, "additionalProperties", fmt::format("property \"{}\" is not allowed", key));
        if (!step(false)) return false;
      } else if (!step(EvalAt(node.additional_properties, it->value(), segment))) {
        return false;
      }
    }
    if (node.property_names) {
      json::value name(key);
      ++quiet_;
      bool ok = EvalChild(node.property_names, name, nullptr);
      --quiet_;
      if (!ok) {
        Fail("propertyNames", fmt::format("property name \"{}\" is not valid", key));
        if (!step(false)) return false;
      }
    }
  }
  if (node.unevaluated_properties) {
    i = 0;
    for (auto it = object.begin(); it != object.end(); ++it, ++i) {
      if (annotations->Has(i)) continue;
      PathSegment segment{it->key(), 0, false};
      if (node.unevaluated_properties.node->boolean == false) {
        FailAt(segment, "unevaluatedProperties",
               fmt::format("property \"{}\" is not allowed", it->key()));
        if (!step(false)) return false;
        continue;
      }
      if (!step(EvalAt(node.unevaluated_properties, it->value(), segment))) return false;
    }
    annotations->MarkAll(n);
  }
  return valid;
}

}  // namespace baton::schema::detail
