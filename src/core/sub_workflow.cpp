#include "core/sub_workflow.hpp"

#include <fmt/format.h>

#include "base/hash.hpp"
#include "core/decider_internal.hpp"

namespace baton::core::internal {

std::string ChildRunId(const std::string& parent, const std::string& step, int32_t item,
                       int32_t attempt, uint64_t seq, int64_t now_ms) {
  static const char* kAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";  // as NewRunId
  std::string id = "r";
  auto ms = static_cast<uint64_t>(now_ms);
  for (int i = 9; i >= 0; --i) id.push_back(kAlphabet[(ms >> (i * 5)) & 31]);
  uint64_t h = Fnv1a64(fmt::format("{}/{}/{}/{}/{}", parent, step, item, attempt, seq));
  for (int i = 0; i < 10; ++i) id.push_back(kAlphabet[(h >> (i * 5)) & 31]);
  return id;
}

void AttachChildRun(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                    json::object& input, int64_t now) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  const auto& w = std::get<WorkflowStep>(step.kind);
  const auto& instances = state.step(i).instances;
  size_t k = item >= 0 ? static_cast<size_t>(item) : 0;
  const InstanceState* in = k < instances.size() ? &instances[k] : nullptr;
  std::string workflow = w.workflow ? w.workflow->name : w.path;

  bool interrupted = false;
  if (in != nullptr && !in->child_run.empty()) {
    const auto* type = in->error.if_contains("type");
    interrupted = type && type->is_string() && type->get_string() == "interrupted";
  }
  if (interrupted) {
    input["run_id"] = in->child_run;
    input["attach"] = true;
  } else {
    std::string id = ChildRunId(state.run_id(), step.id, item, attempt, state.last_seq(), now);
    Event e = MakeEvent(EventType::kChildRunStarted, step, item, attempt);
    e.data["run_id"] = id;
    e.data["workflow"] = workflow;
    if (!w.file.empty()) e.data["file"] = w.file;
    Emit(state, out, std::move(e), now);
    input["run_id"] = std::move(id);
  }
  input["workflow"] = std::move(workflow);
}

}  // namespace baton::core::internal
