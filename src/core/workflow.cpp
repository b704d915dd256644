#include "core/workflow.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace baton::core {

const char* StepKindName(const StepKind& kind) {
  static constexpr const char* kNames[] = {"agent",    "llm",  "set",       "call", "switch",
                                           "parallel", "loop", "consensus", "plan", "approval",
                                           "emit",     "wait", "workflow"};
  static_assert(std::size(kNames) == std::variant_size_v<StepKind>);
  return kNames[kind.index()];
}

size_t BlockCount(const StepKind& kind) {
  if (const auto* s = std::get_if<SwitchStep>(&kind)) return s->cases.size();
  if (const auto* p = std::get_if<ParallelStep>(&kind)) return p->branches.size();
  return std::holds_alternative<LoopStep>(kind) ? 1 : 0;
}

const Block& BlockAt(const StepKind& kind, size_t b) {
  if (const auto* s = std::get_if<SwitchStep>(&kind)) return s->cases[b];
  if (const auto* p = std::get_if<ParallelStep>(&kind)) return p->branches[b];
  return std::get<LoopStep>(kind).body;
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
  effective_priority.assign(steps.size(), Priority::kNormal);
  prioritized = false;
  for (size_t i = 0; i < steps.size(); ++i) {
    Priority p = Priority::kLow;
    for (int k = static_cast<int>(i); k >= 0; k = steps[static_cast<size_t>(k)].parent) {
      p = std::max(p, steps[static_cast<size_t>(k)].priority);
    }
    effective_priority[i] = p;
    prioritized = prioritized || p != Priority::kNormal;
  }
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
