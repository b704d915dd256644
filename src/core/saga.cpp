#include "core/saga.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "core/decider_internal.hpp"

namespace baton::core {

void SagaLog::Fold(const Workflow& wf, const Event& e, int step) {
  if (e.type == EventType::kStepSucceeded) {
    if (step < 0 || e.item >= 0 || wf.steps[static_cast<size_t>(step)].compensation < 0) return;
    if (e.data.contains("caught") && !e.data.contains("failed_items")) return;
    completed_.erase(std::remove(completed_.begin(), completed_.end(), step), completed_.end());
    completed_.push_back(step);
  } else if (e.type == EventType::kCompensationStarted) {
    started_ = true;
    undo_.clear();
    if (const auto* steps = e.data.if_contains("steps"); steps && steps->is_array()) {
      for (const auto& id : steps->get_array()) {
        if (!id.is_string()) continue;
        int i = wf.StepIndex(id.get_string());
        if (i >= 0 && wf.steps[static_cast<size_t>(i)].compensation >= 0) undo_.push_back(i);
      }
    }
    if (const auto* err = e.data.if_contains("error"); err && err->is_object()) {
      error_ = err->get_object();
    }
  }
}

namespace internal {
namespace {

bool Ended(StepStatus s) { return s != StepStatus::kPending && s != StepStatus::kRunning; }

std::string Describe(const json::object& error) {
  const auto* type = error.if_contains("type");
  const auto* message = error.if_contains("message");
  return fmt::format("{}: {}", type && type->is_string() ? type->get_string().c_str() : "error",
                     message && message->is_string() ? message->get_string().c_str() : "");
}

// Every compensation has ended: the run ends compensated, or compensation_failed with what
// could not be undone and why.
void FinishSaga(RunState& state, Decision& out, int64_t now) {
  const Workflow& wf = state.workflow();
  const SagaLog& saga = state.saga();
  json::array not_undone;
  std::string list;
  for (int owner : saga.undo()) {
    int c = wf.steps[static_cast<size_t>(owner)].compensation;
    const StepState& st = state.step(c);
    if (st.status == StepStatus::kSucceeded) continue;
    json::object why = st.error.empty()
                           ? ErrorObject("compensation_failed", "the compensation did not run")
                           : st.error;
    const std::string& id = wf.steps[static_cast<size_t>(owner)].id;
    list += fmt::format("{}{} ({})", list.empty() ? "" : "; ", id, Describe(why));
    not_undone.push_back(json::object{{"step", id}, {"error", std::move(why)}});
  }
  Event e;
  e.type = EventType::kRunFinished;
  if (not_undone.empty()) {
    e.data["status"] = "compensated";
    e.data["error"] = saga.error();
  } else {
    json::object err = ErrorObject(
        "compensation_failed",
        fmt::format("{} of {} steps could not be undone: {}; the run had failed with {}",
                    not_undone.size(), saga.undo().size(), list, Describe(saga.error())));
    err["not_undone"] = std::move(not_undone);
    err["cause"] = saga.error();
    e.data["status"] = "compensation_failed";
    e.data["error"] = std::move(err);
  }
  e.data["usage"] = state.usage().ToJson();
  Emit(state, out, std::move(e), now);
}

// Records compensation_started: the steps to undo (reverse completion order) and the failure.
// Steps the run stopped in the middle of end failed first, as Finish would end them.
void StartSaga(RunState& state, Decision& out, int64_t now) {
  const Workflow& wf = state.workflow();
  json::object error = state.cancel_requested() ? state.cancel_error() : state.error();
  std::vector<int> unfinished = state.active_steps();
  for (int i : unfinished) {
    FailStep(state, out, i, -1, 0,
             ErrorObject("cancelled", "the run stopped before this step finished"), now);
  }
  json::array ids;
  const auto& completed = state.saga().completed();
  for (auto it = completed.rbegin(); it != completed.rend(); ++it) {
    ids.emplace_back(wf.steps[static_cast<size_t>(*it)].id);
  }
  Event e;
  e.type = EventType::kCompensationStarted;
  e.data["steps"] = std::move(ids);
  e.data["error"] = std::move(error);
  Emit(state, out, std::move(e), now);
}

}  // namespace

bool AdvanceSaga(RunState& state, Decision& out, int64_t now) {
  const SagaLog& saga = state.saga();
  if (!saga.started()) {
    if (saga.completed().empty()) return false;
    bool user_cancel = state.cancel_requested() &&
                       (state.cancel_reason() == "user" || state.cancel_error().empty());
    if (user_cancel) return false;
    if (state.running_instances() > 0) return false;  // the decider cancels them first
    StartSaga(state, out, now);
  }
  const Workflow& wf = state.workflow();
  out.wake_at_ms = 0;
  for (int owner : saga.undo()) {
    int c = wf.steps[static_cast<size_t>(owner)].compensation;
    for (;;) {
      const StepState& st = state.step(c);
      if (Ended(st.status)) break;
      if (st.status == StepStatus::kPending) {
        StartAttempt(state, out, c, -1, 1, now);  // a set step ends inline
        continue;
      }
      if (st.instances.empty() || !st.instances[0].waiting_retry) return true;  // in flight
      const InstanceState& in = st.instances[0];
      if (in.retry_at_ms > now) {
        out.wake_at_ms = in.retry_at_ms;
        return true;
      }
      StartAttempt(state, out, c, -1, in.attempts + 1, now);
    }
  }
  FinishSaga(state, out, now);
  return true;
}

}  // namespace internal
}  // namespace baton::core
