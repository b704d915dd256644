#include "core/workflow.hpp"

#include <fmt/format.h>

namespace baton::core {

const char* StepKindName(const StepKind& kind) {
  static constexpr const char* kNames[] = {"agent",    "llm",  "set",       "call", "switch",
                                           "parallel", "loop", "consensus", "plan", "approval",
                                           "emit",     "wait", "workflow"};
  static_assert(std::size(kNames) == std::variant_size_v<StepKind>);
  return kNames[kind.index()];
}

bool IsContainer(const StepKind& kind) {
  return std::holds_alternative<SwitchStep>(kind) || std::holds_alternative<ParallelStep>(kind) ||
         std::holds_alternative<LoopStep>(kind);
}

bool Workflow::UsesProvider(std::string_view provider) const {
  for (const auto& entry : models) {
    if (entry.second.provider == provider) return true;
  }
  return false;
}

int Workflow::StepIndex(std::string_view id) const {
  auto it = step_index.find(id);
  return it == step_index.end() ? -1 : it->second;
}

Status Workflow::Finalize() {
  step_index.clear();
  needs_idx.assign(steps.size(), {});
  dependents.assign(steps.size(), {});
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!step_index.emplace(steps[i].id, static_cast<int>(i)).second) {
      return InvalidArgument(fmt::format("duplicate step id '{}'", steps[i].id));
    }
  }
  top_level.clear();
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].parent < 0 && !steps[i].is_compensation) top_level.push_back(static_cast<int>(i));
    for (const auto& need : steps[i].needs) {
      int j = StepIndex(need);
      if (j < 0) {
        return InvalidArgument(fmt::format("step '{}' needs unknown step '{}'", steps[i].id, need));
      }
      needs_idx[i].push_back(j);
      dependents[static_cast<size_t>(j)].push_back(static_cast<int>(i));
    }
  }
  return Status::Ok();
}

}  // namespace baton::core
