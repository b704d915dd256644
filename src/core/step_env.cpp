#include "core/step_env.hpp"

namespace baton::core {

const json::value* StepEnv::Lookup(std::string_view name) const {
  if (item_ && name == as_) return item_;
  if (local_ && name == local_name_) return local_;
  switch (name.size()) {
    case 3:
      if (name == "run") return &state_.run_view();
      if (name == "env") return &state_.env_view();
      break;
    case 5:
      if (name == "steps") return &state_.steps_view();
      if (name == "index") return index_;
      break;
    case 6:
      if (name == "inputs") return &state_.inputs_view();
      if (name == "memory") return &state_.memory_view();
      if (name == "result") return result_;
      break;
    case 8:
      if (name == "workflow") return &state_.workflow_view();
      break;
    default:
      break;
  }
  return nullptr;
}

}  // namespace baton::core
