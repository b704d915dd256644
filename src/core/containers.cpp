#include "core/containers.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "base/hash.hpp"
#include "core/decider_internal.hpp"

namespace baton::core::internal {
namespace {

using BlockState = StepState::BlockState;

const Step& StepAt(const RunState& state, int i) {
  return state.workflow().steps[static_cast<size_t>(i)];
}

// {id: output} of a block's direct children.
json::object BlockOutputs(const RunState& state, const Block& block) {
  json::object o;
  for (int c : block.steps) o[StepAt(state, c).id] = state.StepOutput(c);
  return o;
}

void CancelBlock(RunState& state, Decision& out, int i, size_t b, const std::string& reason,
                 int64_t now) {
  for (int c : BlockAt(StepAt(state, i).kind, b).steps) CancelStep(state, out, c, reason, now);
}

void FinishBranch(RunState& state, Decision& out, int i, size_t b, std::string_view status,
                  const json::object* error, int64_t now) {
  const Step& step = StepAt(state, i);
  Event e = MakeEvent(EventType::kBranchFinished, step);
  e.data["block"] = b;
  e.data["name"] = BlockAt(step.kind, b).name;
  e.data["status"] = status;
  if (error) e.data["error"] = *error;
  Emit(state, out, std::move(e), now);
}

// Ends blocks whose steps are all finished, or one of which failed (the rest is cancelled).
void CloseBlocks(RunState& state, Decision& out, int i, int64_t now) {
  auto& st = state.step(i);
  for (size_t b = 0; b < st.blocks.size(); ++b) {
    if (st.blocks[b] != BlockState::kRunning) continue;
    if (!st.block_error[b].empty()) {
      json::object err = st.block_error[b];
      CancelBlock(state, out, i, b, "an earlier step in its branch failed", now);
      FinishBranch(state, out, i, b, "failed", &err, now);
    } else if (st.block_left[b] <= 0) {
      FinishBranch(state, out, i, b, "succeeded", nullptr, now);
    }
  }
}

// Cancels every running block of container `i` (losers of a join).
void CancelRunningBlocks(RunState& state, Decision& out, int i, const std::string& reason,
                         int64_t now) {
  auto& st = state.step(i);
  for (size_t b = 0; b < st.blocks.size(); ++b) {
    if (st.blocks[b] != BlockState::kRunning) continue;
    CancelBlock(state, out, i, b, reason, now);
    json::object why{{"type", "cancelled"}, {"message", reason}};
    FinishBranch(state, out, i, b, "cancelled", &why, now);
  }
}

void SettleSwitch(RunState& state, Decision& out, int i, int64_t now) {
  CloseBlocks(state, out, i, now);
  const Step& step = StepAt(state, i);
  const auto& st = state.step(i);
  for (size_t b = 0; b < st.blocks.size(); ++b) {
    if (st.blocks[b] == BlockState::kFailed) {
      FailStep(state, out, i, -1, 1, st.block_error[b], now);
      return;
    }
    if (st.blocks[b] == BlockState::kSucceeded) {
      const Block& block = BlockAt(step.kind, b);
      json::object result{{"case", block.name}, {"outputs", BlockOutputs(state, block)}};
      SucceedStep(state, out, i, 1, json::value(std::move(result)), now);
      return;
    }
  }
}

void SettleParallel(RunState& state, Decision& out, int i, int64_t now) {
  CloseBlocks(state, out, i, now);
  const Step& step = StepAt(state, i);
  const auto& par = std::get<ParallelStep>(step.kind);
  const auto& st = state.step(i);
  size_t total = st.blocks.size();
  size_t succeeded = 0;
  size_t failed = 0;
  int first_failed = -1;
  for (size_t b = 0; b < total; ++b) {
    if (st.blocks[b] == BlockState::kSucceeded) ++succeeded;
    if (st.blocks[b] == BlockState::kFailed) {
      if (first_failed < 0) first_failed = static_cast<int>(b);
      ++failed;
    }
  }
  size_t need = par.join == ParallelStep::Join::kAll   ? total
                : par.join == ParallelStep::Join::kAny ? 1
                                                       : std::min<size_t>(par.n, total);
  auto result = [&]() {
    json::array winners;
    json::object branches;
    for (size_t b = 0; b < total; ++b) {
      if (st.blocks[b] != BlockState::kSucceeded) continue;
      const Block& block = BlockAt(step.kind, b);
      winners.emplace_back(block.name);
      branches[block.name] = BlockOutputs(state, block);
    }
    return json::value(json::object{{"winners", std::move(winners)}, {"branches", branches}});
  };
  if (failed > 0 && (par.join == ParallelStep::Join::kAll || total - failed < need)) {
    json::object err = st.block_error[static_cast<size_t>(first_failed)];
    const Block& fb = BlockAt(step.kind, static_cast<size_t>(first_failed));
    std::string message = err.contains("message") && err["message"].is_string()
                              ? std::string(err["message"].get_string())
                              : std::string();
    if (par.join == ParallelStep::Join::kAll) {
      err["message"] = fmt::format("branch '{}' failed: {}", fb.name, message);
    } else {
      err["message"] = fmt::format(
          "{} of {} branches failed, so {} cannot succeed (join needs {}); "
          "branch '{}': {}",
          failed, total, need == 1 ? "none" : "not enough", need, fb.name, message);
    }
    CancelRunningBlocks(state, out, i, "another branch failed, so the join cannot succeed", now);
    FailStep(state, out, i, -1, 1, std::move(err), now);
    return;
  }
  if (succeeded >= need) {
    CancelRunningBlocks(
        state, out, i,
        fmt::format("lost the join: {} of {} branches needed have succeeded", need, total), now);
    SucceedStep(state, out, i, 1, result(), now);
  }
}

// Whether the loop's convergence condition holds after the latest score (`scores` includes it).
std::string Converged(const Convergence& c, const std::vector<std::optional<double>>& scores) {
  if (scores.empty() || !scores.back()) return "";
  double v = *scores.back();
  if (c.at_least && v >= *c.at_least) return "converged";
  if (c.at_most && v <= *c.at_most) return "converged";
  if (c.patience > 0) {
    size_t best = 0;
    bool have = false;
    for (size_t k = 0; k < scores.size(); ++k) {
      if (!scores[k]) continue;
      double s = *scores[k];
      if (!have) {
        best = k;
        have = true;
        continue;
      }
      double b = *scores[best];
      bool better = c.maximize ? s > b + c.min_delta : s < b - c.min_delta;
      if (better) best = k;
    }
    if (scores.size() - 1 - best >= static_cast<size_t>(c.patience)) return "no_improvement";
  }
  return "";
}

void SettleLoop(RunState& state, Decision& out, int i, int64_t now) {
  const Step& step = StepAt(state, i);
  const auto& loop = std::get<LoopStep>(step.kind);
  auto& st = state.step(i);
  if (st.blocks.empty() || st.blocks[0] != BlockState::kRunning) return;
  int iteration = st.iteration;
  if (!st.block_error[0].empty()) {
    json::object err = st.block_error[0];
    CancelBlock(state, out, i, 0, "an earlier step in the iteration failed", now);
    Event e = MakeEvent(EventType::kIterationFinished, step);
    e.data["iteration"] = iteration;
    e.data["status"] = "failed";
    Emit(state, out, std::move(e), now);
    FailStep(state, out, i, -1, 1, std::move(err), now);
    return;
  }
  if (st.block_left[0] > 0) return;

  json::object outputs = BlockOutputs(state, loop.body);
  std::string fingerprint = fmt::format("{:016x}", Fnv1a64(CanonicalJson(outputs)));
  StepEnv env(state);
  std::optional<double> score;
  if (loop.converge_on) {
    auto v = loop.converge_on->value.Render(env);
    if (!v.ok() || !v->is_number()) {
      json::object err =
          v.ok() ? ErrorObject("expression",
                               fmt::format("converge_on.value: expected a number, got {}",
                                           JsonTypeName(*v)))
                 : ErrorObject(v.error().WithContext("converge_on.value"));
      FailStep(state, out, i, -1, 1, std::move(err), now);
      return;
    }
    score = v->to_number<double>();
  }
  std::string stop;
  if (loop.until) {
    auto cond = loop.until->Evaluate(env);
    if (!cond.ok() || !cond->is_bool()) {
      json::object err =
          cond.ok() ? ErrorObject("expression", fmt::format("until: expected a boolean, got {}",
                                                            JsonTypeName(*cond)))
                    : ErrorObject(cond.error().WithContext("until"));
      FailStep(state, out, i, -1, 1, std::move(err), now);
      return;
    }
    if (cond->get_bool()) stop = "until";
  }
  if (stop.empty() && loop.converge_on) {
    std::vector<std::optional<double>> scores = st.scores;
    scores.push_back(score);
    stop = Converged(*loop.converge_on, scores);
  }
  int repeats = -1;
  if (stop.empty() && loop.detect_repeats) {
    auto it = std::find(st.fingerprints.begin(), st.fingerprints.end(), fingerprint);
    if (it != st.fingerprints.end()) {
      repeats = static_cast<int>(it - st.fingerprints.begin()) + 1;
      stop = loop.on_repeat == LoopStep::OnRepeat::kExit ? "repeated" : "loop_detected";
    }
  }
  if (stop.empty() && iteration >= loop.max_iterations) stop = "max_iterations";

  Event e = MakeEvent(EventType::kIterationFinished, step);
  e.data["iteration"] = iteration;
  e.data["status"] = "succeeded";
  e.data["fingerprint"] = fingerprint;
  if (score) e.data["score"] = *score;
  if (!stop.empty()) e.data["stop"] = stop;
  if (repeats > 0) e.data["repeats_iteration"] = repeats;
  Emit(state, out, std::move(e), now);

  if (stop == "loop_detected") {
    FailStep(state, out, i, -1, 1,
             ErrorObject("loop_detected",
                         fmt::format("iteration {} produced the same outputs as iteration {}: the "
                                     "loop is going in circles",
                                     iteration, repeats)),
             now);
    return;
  }
  if (!stop.empty()) {
    json::object result{
        {"iterations", iteration}, {"stopped_by", stop}, {"outputs", std::move(outputs)}};
    if (score) result["score"] = *score;
    SucceedStep(state, out, i, 1, json::value(std::move(result)), now);
    return;
  }
  Event next = MakeEvent(EventType::kIterationStarted, step);
  next.data["iteration"] = iteration + 1;
  Emit(state, out, std::move(next), now);
}

}  // namespace

void StartContainer(RunState& state, Decision& out, int i, int64_t now) {
  const Step& step = StepAt(state, i);
  Emit(state, out, MakeEvent(EventType::kStepStarted, step, -1, 1), now);
  if (const auto* sw = std::get_if<SwitchStep>(&step.kind)) {
    int chosen = -1;
    StepEnv env(state);
    for (size_t b = 0; b < sw->cases.size() && chosen < 0; ++b) {
      const Block& c = sw->cases[b];
      if (!c.when) {
        chosen = static_cast<int>(b);
        break;
      }
      auto v = c.when->Evaluate(env);
      if (!v.ok() || !v->is_bool()) {
        json::object err =
            v.ok() ? ErrorObject("expression", fmt::format("{}: expected a boolean, got {}", c.name,
                                                           JsonTypeName(*v)))
                   : ErrorObject(v.error().WithContext(c.name));
        FailStep(state, out, i, -1, 1, std::move(err), now);
        return;
      }
      if (v->get_bool()) chosen = static_cast<int>(b);
    }
    std::string reason =
        chosen < 0 ? "no case matched"
                   : fmt::format("'{}' was taken", sw->cases[static_cast<size_t>(chosen)].name);
    for (size_t b = 0; b < sw->cases.size(); ++b) {
      if (static_cast<int>(b) == chosen) continue;
      for (int c : sw->cases[b].steps) SkipStep(state, out, c, reason, now);
    }
    if (chosen < 0) {
      SucceedStep(state, out, i, 1, json::object{{"case", nullptr}, {"outputs", json::object()}},
                  now);
      return;
    }
    Event e = MakeEvent(EventType::kBranchStarted, step);
    e.data["block"] = chosen;
    e.data["name"] = sw->cases[static_cast<size_t>(chosen)].name;
    Emit(state, out, std::move(e), now);
  } else if (const auto* par = std::get_if<ParallelStep>(&step.kind)) {
    for (size_t b = 0; b < par->branches.size(); ++b) {
      Event e = MakeEvent(EventType::kBranchStarted, step);
      e.data["block"] = b;
      e.data["name"] = par->branches[b].name;
      Emit(state, out, std::move(e), now);
    }
  } else if (std::holds_alternative<LoopStep>(step.kind)) {
    Event e = MakeEvent(EventType::kIterationStarted, step);
    e.data["iteration"] = 1;
    Emit(state, out, std::move(e), now);
  }
}

void SettleContainer(RunState& state, Decision& out, int i, int64_t now) {
  if (state.step(i).status != StepStatus::kRunning) return;
  const Step& step = StepAt(state, i);
  if (std::holds_alternative<SwitchStep>(step.kind)) {
    SettleSwitch(state, out, i, now);
  } else if (std::holds_alternative<ParallelStep>(step.kind)) {
    SettleParallel(state, out, i, now);
  } else if (std::holds_alternative<LoopStep>(step.kind)) {
    SettleLoop(state, out, i, now);
  }
}

void CancelStep(RunState& state, Decision& out, int i, const std::string& reason, int64_t now) {
  const Step& step = StepAt(state, i);
  auto& st = state.step(i);
  if (st.status != StepStatus::kPending && st.status != StepStatus::kRunning) return;
  if (IsContainer(step.kind)) {
    for (size_t b = 0; b < st.blocks.size(); ++b) {
      if (st.blocks[b] == BlockState::kRunning) CancelBlock(state, out, i, b, reason, now);
    }
  } else {
    for (size_t k = 0; k < st.instances.size(); ++k) {
      if (st.instances[k].status != StepStatus::kRunning) continue;
      out.cancel.emplace_back(i, st.fanned_out ? static_cast<int32_t>(k) : -1);
    }
  }
  Event e = MakeEvent(EventType::kStepCancelled, step);
  e.data["reason"] = reason;
  Emit(state, out, std::move(e), now);
}

void SkipStep(RunState& state, Decision& out, int i, const std::string& reason, int64_t now) {
  const Step& step = StepAt(state, i);
  if (state.step(i).status != StepStatus::kPending) return;
  size_t blocks = BlockCount(step.kind);
  for (size_t b = 0; b < blocks; ++b) {
    for (int c : BlockAt(step.kind, b).steps) SkipStep(state, out, c, reason, now);
  }
  Event e = MakeEvent(EventType::kStepSkipped, step);
  e.data["reason"] = reason;
  Emit(state, out, std::move(e), now);
}

}  // namespace baton::core::internal
