#pragma once

// The expression environment of a step: the run's contexts (inputs, steps, memory, run,
// workflow, env) plus the step's locals (the for_each variable and `index`, and `result` inside
// `output:` and `catch` templates). Lives on the stack for one evaluation.

#include <string_view>

#include "core/run_state.hpp"
#include "expr/expr.hpp"

namespace baton::core {

class StepEnv final : public expr::Env {
 public:
  explicit StepEnv(const RunState& state) : state_(state) {}

  StepEnv& WithItem(std::string_view as, const json::value* item, const json::value* index) {
    as_ = as;
    item_ = item;
    index_ = index;
    return *this;
  }
  StepEnv& WithResult(const json::value* result) {
    result_ = result;
    return *this;
  }
  StepEnv& WithLocal(std::string_view name, const json::value* value) {
    local_name_ = name;
    local_ = value;
    return *this;
  }

  const json::value* Lookup(std::string_view name) const override;

 private:
  const RunState& state_;
  std::string_view as_;
  const json::value* item_ = nullptr;
  const json::value* index_ = nullptr;
  const json::value* result_ = nullptr;
  std::string_view local_name_;
  const json::value* local_ = nullptr;
};

}  // namespace baton::core
