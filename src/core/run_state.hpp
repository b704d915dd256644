#pragma once

// RunState: the state of one run, a fold of its events. The decider reads and extends it; the
// runtime rebuilds it on resume by applying the journal from the start. Not thread-safe: it is
// owned by the run's strand.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "core/events.hpp"
#include "core/saga.hpp"
#include "core/wait_table.hpp"
#include "core/workflow.hpp"

namespace baton::core {

enum class StepStatus : uint8_t { kPending, kRunning, kSucceeded, kFailed, kSkipped, kCancelled };
std::string_view StepStatusName(StepStatus s);

// Token and cost totals.
struct UsageTotals {
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  void Add(const json::object& usage);
  json::object ToJson() const;
  bool empty() const { return input_tokens == 0 && output_tokens == 0 && cost_usd == 0; }
};

// One executable instance of a step: the step itself, or one for_each item of it.
struct InstanceState {
  StepStatus status = StepStatus::kPending;
  int32_t attempts = 0;        // attempts started so far
  bool waiting_retry = false;  // failed, retry scheduled at retry_at_ms
  int64_t retry_at_ms = 0;
  int64_t started_ms = 0;
  json::value output;
  json::object error;  // {type, message} of the last failure
  // workflow: the child run of the latest child_run_started.
  std::string child_run;
};

struct StepState {
  StepStatus status = StepStatus::kPending;
  int pending_needs = 0;                 // unfinished dependencies
  bool fanned_out = false;               // for_each expanded
  json::array items;                     // for_each values
  std::vector<InstanceState> instances;  // one, or one per item
  int running = 0;                       // instances running (or waiting to retry)
  int waiting_retries = 0;               // instances with waiting_retry set
  int done = 0;                          // instances finished (succeeded or failed)
  int next_item = 0;                     // next for_each instance to start
  int64_t started_ms = 0;
  int64_t finished_ms = 0;
  json::object error;
  UsageTotals usage;
  int32_t attempts = 0;      // total attempts over instances
  int32_t model_calls = 0;   // model_called events
  int32_t confidence_n = 0;  // model calls whose output carried a confidence
  double confidence_sum = 0;

  // Containers (switch / parallel / loop): per block, its state, unfinished direct children and
  // the first uncaught failure of a child.
  enum class BlockState : uint8_t { kIdle, kRunning, kSucceeded, kFailed, kCancelled };
  std::vector<BlockState> blocks;
  std::vector<int> block_left;
  std::vector<json::object> block_error;
  int iteration = 0;                      // loop: current iteration (1-based)
  std::vector<std::string> fingerprints;  // loop: outputs fingerprint of each finished iteration
  std::vector<std::optional<double>> scores;  // loop: converge_on value of each iteration
  // plan (core/plan.hpp): plans rejected so far, the errors and reply of the latest one (the
  // repair request shows them to the planner). After plan_created, `items` holds the tasks.
  int plan_rejections = 0;
  json::array plan_errors;
  json::value plan_rejected;
};

class RunState {
 public:
  RunState(std::shared_ptr<const Workflow> workflow, std::string run_id);

  // Folds one event. Events must arrive in seq order; the first must be run_started.
  void Apply(const Event& e);

  const Workflow& workflow() const { return *workflow_; }
  const std::shared_ptr<const Workflow>& workflow_ptr() const { return workflow_; }
  const std::string& run_id() const { return run_id_; }
  RunStatus status() const { return status_; }
  uint64_t last_seq() const { return last_seq_; }
  int64_t started_ms() const { return started_ms_; }
  int64_t finished_ms() const { return finished_ms_; }  // time of run_finished (0 before)
  bool uses_sim() const { return uses_sim_; }           // run_started said sim: true
  bool cancel_requested() const { return cancel_requested_; }
  const std::vector<StepState>& steps() const { return steps_; }
  StepState& step(int i) { return steps_[static_cast<size_t>(i)]; }
  const StepState& step(int i) const { return steps_[static_cast<size_t>(i)]; }
  // The output of step `i` (null until it succeeds). Lives in steps_view(), stored once.
  const json::value& StepOutput(int i) const;
  const json::object& inputs() const { return inputs_; }
  const UsageTotals& usage() const { return usage_; }
  const json::object& error() const { return error_; }
  const json::value& outputs() const { return outputs_; }
  int running_instances() const { return running_instances_; }

  // Expression contexts, maintained incrementally: steps.<id>.{output,status,error,usage,attempts},
  // memory.*, run.*, workflow.*.
  const json::value& steps_view() const { return steps_view_; }
  const json::value& memory_view() const { return memory_; }
  const json::value& run_view() const { return run_view_; }
  const json::value& workflow_view() const { return workflow_view_; }
  const json::value& inputs_view() const { return inputs_value_; }
  const json::value& env_view() const { return env_; }

  // Steps whose dependencies are all finished and that have not started, in readiness order.
  std::deque<int>& ready() { return ready_; }
  // Containers with a child that finished since the decider last looked at them.
  std::deque<int>& settle() { return settle_; }

  // The first final, uncaught failure (step index), or -1.
  int failed_step() const { return failed_step_; }

  // Why cancellation was requested: "user", "timeout" (run timeout) or "budget_exceeded";
  // and the error to finish with when it is not a user cancellation.
  const std::string& cancel_reason() const { return cancel_reason_; }
  const json::object& cancel_error() const { return cancel_error_; }

  // Whether the run is paused (run_paused without a later run_resumed), and why.
  bool paused() const { return paused_; }
  const json::object& pause_error() const { return pause_error_; }
  // The run's budget: the workflow's, with the limits raised by run_resumed events.
  const Budget& budget() const { return budget_; }
  // Pending approvals, event waits and timers (core/waits.hpp).
  const WaitTable& waits() const { return waits_; }
  // Steps with `compensate:` that succeeded, and the compensation in progress (core/saga.hpp).
  const SagaLog& saga() const { return saga_; }

  // Steps with started, unfinished work (running or waiting to retry), in start order.
  const std::vector<int>& active_steps() const { return active_; }
  // Number of top-level steps finished (succeeded, failed, skipped or cancelled); nested steps
  // are accounted for by their container.
  size_t finished_steps() const { return finished_steps_; }

 private:
  void FinishStep(int i, StepStatus status, int64_t time_ms, json::value output = nullptr);
  void UpdateStepView(int i, json::value output);
  // Makes the direct children of block `b` of container `c` pending again and readies those
  // without needs (a branch starts, a loop iteration starts).
  void ActivateBlock(int c, int b, int64_t time_ms);
  // Back to pending before a loop iteration; usage and the output in the view are kept.
  void ResetStep(int i);
  // Folds plan_rejected / plan_created of plan step `si` (defined in plan.cpp).
  void ApplyPlan(int si, const Event& e);

  std::shared_ptr<const Workflow> workflow_;
  std::string run_id_;
  RunStatus status_ = RunStatus::kPending;
  uint64_t last_seq_ = 0;
  int64_t started_ms_ = 0;
  int64_t finished_ms_ = 0;
  bool uses_sim_ = false;
  bool cancel_requested_ = false;
  json::object inputs_;
  json::value inputs_value_;
  std::vector<StepState> steps_;
  std::deque<int> ready_;
  std::deque<int> settle_;
  json::value steps_view_;
  json::value memory_;
  json::value run_view_;
  json::value workflow_view_;
  json::value env_;
  UsageTotals usage_;
  json::object error_;
  json::value outputs_;
  int running_instances_ = 0;
  int failed_step_ = -1;
  bool paused_ = false;
  json::object pause_error_;
  Budget budget_;
  WaitTable waits_;
  SagaLog saga_;
  std::string cancel_reason_;
  json::object cancel_error_;
  std::vector<int> active_;
  size_t finished_steps_ = 0;
};

}  // namespace baton::core
