#pragma once

// The executor: runs workflows, journals every event, resumes interrupted runs.
//
// One Engine owns an io_context served by `threads` threads. Each run owns a strand; all of its
// mutable state (RunState, in-flight instances) is touched only there. The pure decider
// (core/decider.hpp) says what to do; the engine journals the decided events, waits until they
// are durable, and only then starts the dispatched step instances.
//
// Thread-safety: every public method may be called from any thread. The listener is called on the
// run's strand, after the events it receives are durable; it must not block.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "base/status.hpp"
#include "core/events.hpp"
#include "core/workflow.hpp"

namespace baton::store {
class Store;
}
namespace baton::providers {
class ModelRegistry;
}
namespace baton::tools {
class ToolRegistry;
}

namespace baton::core {
class RunState;
}

namespace baton::runtime {

struct EngineOptions {
  int threads = 1;                // io_context threads
  int max_concurrency = 64;       // global bound on step instances executing at once
  Clock* clock = nullptr;         // nullptr = SystemClock
  Millis cancel_poll{300};        // how often runs look for `baton runs cancel` (0 = never)
  int64_t blob_threshold = 1024;  // prompts/replies larger than this go to blobs
  std::optional<double> global_daily_usd;  // budget over every run per UTC day (config file)
  bool stream_deltas = false;  // model calls stream, and the listener gets model_delta events
  // A run with nothing left but approvals and event waits stops executing (status `waiting`, no
  // owner; Wait returns kWaiting) and continues when a signal arrives (`baton approve`, `baton
  // events send`, Resume). false: it stays here, polling its inbox with the cancel poll.
  bool suspend_waiting = true;
  // Called for each event an `emit:` step published, once durable, on the emitting run's
  // strand before the run goes on: {id, event, data, run_id, time_ms}. It may block briefly
  // (store calls) and may Start / Resume runs on this engine. The CLI starts triggered runs with
  // it and continues suspended runs the event was delivered to.
  std::function<void(const json::object& event)> on_published;
};

struct RunOptions {
  json::object inputs;          // validated and defaulted by Start
  std::string workflow_source;  // stored as a blob so `runs resume` uses the same definition
  std::string workflow_file;
  std::string workdir;  // run.workdir ("" = current directory)
  std::string parent_run;
  std::string run_id;  // "" = a new id; else this one (a child run's, decided by its parent)
  std::optional<Millis> timeout;  // overrides defaults.run_timeout
  bool simulated = false;         // some model runs on sim (offline: sim); run_started says so
};

// What a finished (or interrupted) run looks like to callers. Built from the journal.
struct RunResult {
  std::string run_id;
  core::RunStatus status = core::RunStatus::kPending;

  // {run_id, status, outputs, error?, steps: {ID: {status, output, attempts, usage}}, usage},
  // built on first use (from the run's final state, or as given by set_summary), so callers that
  // need only the status pay nothing for it. Not safe to call concurrently on one RunResult.
  const json::object& summary() const;
  void set_summary(json::object summary);

  // The run's outputs (null unless it succeeded), without building the summary.
  const json::value& outputs() const;

  std::shared_ptr<const core::RunState> final_state;  // set for results of Engine::Wait

 private:
  mutable std::shared_ptr<json::object> summary_;
};

using EventListener = std::function<void(const std::string& run_id, const core::Event& event)>;

class Engine {
 public:
  Engine(store::Store& store, const providers::ModelRegistry& models, tools::ToolRegistry& tools,
         EngineOptions options = {});
  ~Engine();  // cancels every run still executing and waits for them to stop
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Observes every durable event of every run of this engine. Set before starting runs.
  void SetListener(EventListener listener);

  // Applies input defaults and validates inputs against their schemas, creates the run and starts
  // it. Returns the new run id. Fails with kInvalidArgument on bad inputs (nothing is created).
  Result<std::string> Start(std::shared_ptr<const core::Workflow> workflow, RunOptions options);

  // Continues an interrupted or paused run from its journal: succeeded steps are not executed
  // again. A paused run continues with the limits in `raise_budget` (any of max_cost_usd,
  // max_tokens, daily_usd; empty keeps them, and the run pauses again if still over).
  // Fails with kFailedPrecondition when the run has already finished.
  Status Resume(std::shared_ptr<const core::Workflow> workflow, const std::string& run_id,
                json::object raise_budget = {});

  // Requests cancellation of a run of this engine: in-flight steps are cancelled and the run
  // finishes `cancelled`. Returns false when the run is not executing here.
  bool Cancel(const std::string& run_id);
  // Cancels every run of this engine (Ctrl-C).
  void CancelAll();

  // Blocks until the run finishes (or the engine stops it) and returns its result.
  Result<RunResult> Wait(const std::string& run_id);

  // Calls `done` once the run, executing here, has finished or stopped (at once if it already
  // has; else on the run's strand, after its last event is durable; `done` must not block).
  // A Wait after that does not block. Returns false when the run is not executing here.
  bool OnFinished(const std::string& run_id, std::function<void()> done);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Applies defaults and validates `inputs` against the workflow's declared inputs. Unknown
// inputs, missing required ones and schema violations are errors naming the input.
Result<json::object> PrepareInputs(const core::Workflow& workflow, json::object inputs);

// The summary of a run from its folded state (no trace).
json::object SummarizeState(const core::RunState& state);

// The summary of a run from its events: {run_id, status, outputs, error?, steps: {ID: {status,
// output, attempts, usage, started_ms?, duration_ms?, trace?}}, usage}. `with_trace` adds each
// agent/llm step's model calls (prompt, reply, reasoning, usage, confidence).
json::object SummarizeRun(const core::Workflow& workflow, const std::string& run_id,
                          const std::vector<core::Event>& events, bool with_trace = false);

}  // namespace baton::runtime
