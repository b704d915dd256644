#pragma once

// Applies a compiled schema to one instance, collecting errors and the annotations that
// unevaluatedItems/unevaluatedProperties need. One Evaluator per Validate call: not shared
// between threads; the CompiledSchema it reads is.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "schema/detail/node.hpp"
#include "schema/validator.hpp"

namespace baton::schema::detail {

inline constexpr int kMaxEvalDepth = 600;
inline constexpr uint64_t kMaxEvalSteps = 2'000'000;

class Evaluator {
 public:
  // `errors` null: only the verdict is computed (stops at the first failure). Otherwise at most
  // max(1, max_errors) errors are appended.
  Evaluator(std::vector<ValidationError>* errors, size_t max_errors)
      : errors_(errors), max_errors_(max_errors == 0 ? 1 : max_errors) {}

  // True when `instance` is valid against `root`.
  bool Run(const Node& root, const json::value& instance);

 private:
  // Which array items / object members (by position) some subschema evaluated successfully.
  struct Annotations {
    std::vector<char> marks;
    void Mark(size_t i, size_t n);
    void MarkAll(size_t n) { marks.assign(n, 1); }
    void Merge(const Annotations& other);
    bool Has(size_t i) const { return i < marks.size() && marks[i] != 0; }
  };
  // One step of the instance location: an object key or an array index.
  struct PathSegment {
    std::string_view key;
    size_t index = 0;
    bool is_index = false;
  };

  bool Eval(const Node& node, const json::value& instance, Annotations* annotations);
  bool EvalChild(const Child& child, const json::value& instance, Annotations* annotations);
  bool EvalAt(const Child& child, const json::value& value, PathSegment segment);
  bool EvalRef(const Child& target, const json::value& instance, Annotations* annotations);
  bool EvalValidation(const Node& node, const json::value& instance);
  bool EvalInPlace(const Node& node, const json::value& instance, Annotations* annotations);
  bool EvalArray(const Node& node, const json::array& array, Annotations* annotations);
  bool EvalObject(const Node& node, const json::object& object, Annotations* annotations);

  bool Quiet() const;
  bool StopEarly() const { return aborted_ || Quiet(); }
  // Records an error for `keyword` (appended to the current keyword path) unless quiet.
  void Fail(std::string_view keyword, std::string message);
  void FailAt(PathSegment segment, std::string_view keyword, std::string message);
  // Ends the whole validation as invalid (loops, depth, budget); always recorded.
  bool Abort(std::string message);
  std::string InstancePointer() const;
  std::string KeywordLocation(std::string_view keyword) const;

  std::vector<ValidationError>* errors_;
  size_t max_errors_;
  int quiet_ = 0;
  int depth_ = 0;
  uint64_t steps_ = 0;
  bool aborted_ = false;
  std::vector<const std::string*> keyword_path_;
  std::vector<PathSegment> instance_path_;
  std::vector<const Resource*> dynamic_scope_;
  std::vector<std::pair<const Node*, const json::value*>> ref_stack_;
};

}  // namespace baton::schema::detail
