#pragma once

// The workflow model: what a YAML/JSON file (or the C++ API) describes, after loading.
// Immutable once built; shared read-only by every run of it and safe to read from any thread.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "expr/expr.hpp"

namespace baton::core {

// Where a construct came from, for diagnostics. line/col are 1-based; 0 when unknown.
struct SourceLoc {
  int line = 0;
  int col = 0;
};

struct Backoff {
  Millis initial{1000};
  double factor = 2.0;
  Millis max{30000};
  bool jitter = true;  // full jitter: uniform in [0, computed delay]
};

// When and how a failed step is tried again. `on` lists error types (e.g. "timeout",
// "rate_limited", "tool_error"); empty means the default retryable set.
struct RetryPolicy {
  int max_attempts = 1;  // total attempts including the first
  std::vector<std::string> on;
  Backoff backoff;
};

// `catch:` clause: what to do when the step fails with one of `errors` (empty = any).
struct CatchClause {
  std::vector<std::string> errors;
  enum class Then { kFail, kContinue, kOutput } then = Then::kFail;
  expr::Template output;  // kOutput: the value the step yields instead
  SourceLoc loc;
};

// Spending limits of a step or an agent (`budget:`), over the whole run.
struct Limits {
  std::optional<double> max_cost_usd;
  std::optional<int64_t> max_tokens;
};

// `agent:` step: run an agent on `input`.
struct AgentStep {
  std::string agent;
  expr::Template input;
};

// `llm:` step: one completion.
struct LlmStep {
  std::string model;        // model name from `models:` (or "" for the default)
  expr::Template prompt;    // string, or
  expr::Template messages;  // [{role, content}]
  expr::Template system;
  std::optional<json::value> output_schema;
};

// `set:` step: write to shared memory (keys "memory.x") and/or compute a value.
struct SetStep {
  struct Entry {
    std::string key;  // as written ("memory.summary" or "total")
    bool to_memory = false;
    std::string memory_key;  // key without the "memory." prefix
    expr::Template value;
  };
  std::vector<Entry> entries;
};

// `call:` step: call a declared tool with arguments.
struct CallStep {
  std::string tool;
  expr::Template with;
};

// A list of steps nested in a container step: a switch case, a parallel branch, a loop body.
// The steps themselves live in Workflow::steps (flattened, in file order) with `parent` set to
// the container and `block` to this block's index; `steps` lists their indices.
struct Block {
  std::string name;                      // branch name; "case N" / "default"; "body"
  std::optional<expr::Expression> when;  // switch: the case's condition (none: default)
  std::vector<int> steps;                // indices into Workflow::steps, in file order
  SourceLoc loc;
};

// `switch:` the first case whose `when` is true runs (or the default); the other blocks' steps
// are skipped. Output: {case: name, outputs: {id: output}} of the steps that ran.
struct SwitchStep {
  std::vector<Block> cases;  // a default, if any, is last and has no `when`
};

// `parallel:` named branches run concurrently. join all: every branch must succeed; any: the
// first branch to succeed wins and the others are cancelled; n: the first `n` to succeed win.
// Output: {branch: {id: output}} of the branches that completed (and `winners` for any/n).
struct ParallelStep {
  std::vector<Block> branches;
  enum class Join { kAll, kAny, kN } join = Join::kAll;
  int n = 0;  // Join::kN
};

// `converge_on:` a loop ends once `value` (a number, rendered after each iteration) reaches a
// threshold, or stops improving for `patience` iterations.
struct Convergence {
  expr::Template value;
  std::optional<double> at_least;
  std::optional<double> at_most;
  int patience = 0;  // iterations without an improvement of more than min_delta (0 = off)
  double min_delta = 0;
  bool maximize = true;  // improvement means larger (false: smaller)
};

// `loop:` the body runs again until `until` is true, max_iterations is reached, `converge_on`
// holds, or an iteration repeats an earlier one's outputs (on_repeat: fail -> loop_detected
// error; exit -> the loop ends successfully).
struct LoopStep {
  Block body;
  std::optional<expr::Expression> until;
  int max_iterations = 10;
  std::optional<Convergence> converge_on;
  bool detect_repeats = true;
  enum class OnRepeat { kFail, kExit } on_repeat = OnRepeat::kFail;
};

// `consensus:` ask several agents or models the same question, then decide.
struct ConsensusStep {
  struct Participant {
    std::string agent;  // an agent name, or
    std::string model;  // a model name (asked with the step's instructions)
    double weight = 1.0;
    SourceLoc loc;
  };
  std::vector<Participant> participants;
  expr::Template input;
  expr::Template instructions;         // system prompt for model participants
  std::string method = "majority";     // majority | weighted | judge | best_of_n | ensemble
  std::string judge;                   // agent deciding for judge / best_of_n / ensemble / ties
  int quorum = 0;                      // answers needed for a decision (0 = a majority of them)
  std::string tie_break = "first";     // first | judge | fail
  std::optional<expr::Template> vote;  // what is compared (default: the answer itself)
};

// `plan:` a planner agent returns tasks with dependencies; baton validates and runs them as a
// dynamic DAG (an agent per task by role or capabilities), then a synthesizer combines them.
struct PlanStep {
  std::string planner;  // agent
  expr::Template input;
  std::vector<std::string> roles;  // agents tasks may name (empty: every agent)
  std::string synthesizer;         // agent ("" = the results are the output)
  int max_tasks = 10;
  int max_repairs = 2;  // invalid plans sent back to the planner
  int max_parallel = 0;
};

// `approval:` pause this branch until a human decides (baton approve).
struct ApprovalStep {
  expr::Template prompt;
  std::optional<Millis> timeout;
  std::string on_timeout = "fail";  // fail | approve | reject
  std::vector<std::string> approvers;
};

// `emit:` publish a named event with data on the journal's event bus.
struct EmitStep {
  std::string event;
  expr::Template data;
};

// `wait:` wait for an event matching a filter, or for a timer.
struct WaitStep {
  std::string event;                      // "" with a timer only
  std::optional<expr::Expression> match;  // over `event` (the received event's data)
  std::optional<Millis> duration;         // `for:` a timer
  std::optional<expr::Template> until;    // a timestamp (ms or RFC 3339) to wait for
  std::optional<Millis> timeout;
  std::string on_timeout = "fail";  // fail | continue
};

struct Workflow;

// `workflow:` run another workflow as a child run (own journal, linked to this run).
struct WorkflowStep {
  std::string path;     // workflow file, relative to this workflow's file
  expr::Template with;  // inputs
  // Filled by the loader: `path` resolved against this workflow's file (also the key of its
  // source in run_started's `sources`), the child as loaded with this workflow, and its text
  // (stored with each run so that resume uses the same definition).
  std::string file;
  std::shared_ptr<const Workflow> workflow;
  std::string source;
};

using StepKind =
    std::variant<AgentStep, LlmStep, SetStep, CallStep, SwitchStep, ParallelStep, LoopStep,
                 ConsensusStep, PlanStep, ApprovalStep, EmitStep, WaitStep, WorkflowStep>;

// Whether a kind contains nested steps (switch, parallel, loop).
bool IsContainer(const StepKind& kind);

// The blocks of a container kind: a switch's cases, a parallel's branches, a loop's body (one
// block); 0 for other kinds. BlockAt requires b < BlockCount(kind).
size_t BlockCount(const StepKind& kind);
const Block& BlockAt(const StepKind& kind, size_t b);

// Names of the kinds as written in YAML, indexed like StepKind.
const char* StepKindName(const StepKind& kind);

enum class Effect { kIdempotent, kOnce };

// `priority:` orders ready steps when concurrency limits are reached.
enum class Priority : uint8_t { kLow, kNormal, kHigh, kCritical };

// `route:` choose the agent (by capabilities) or the model (by strategy) at run time.
struct Route {
  std::vector<std::string> capabilities;  // the agent must have these (best match wins)
  std::string strategy;                   // "" | cheapest | fastest | best
  std::optional<double> max_cost;         // USD per call, estimated
  std::vector<std::string> models;        // candidate models for strategy ("" = all)
  SourceLoc loc;
};

struct Step {
  std::string id;
  SourceLoc loc;
  StepKind kind;
  std::vector<std::string> needs;  // resolved: explicit `needs`, or the previous step
  bool explicit_needs = false;
  std::optional<expr::Expression> if_cond;
  std::optional<expr::Template> for_each;
  std::string as = "item";
  int max_parallel = 0;  // 0 = unbounded (global limit still applies)
  // `tolerate:` for_each items that may fail while the step still succeeds (failed items are
  // null in the output): a count, or a fraction of the items (`10%`).
  int tolerate_count = 0;
  double tolerate_fraction = 0;
  std::optional<RetryPolicy> retry;  // unset: workflow default
  std::optional<Millis> timeout;     // unset: workflow default
  std::vector<CatchClause> catches;
  std::optional<expr::Template> output;  // reshapes the step's result
  Effect effect = Effect::kIdempotent;
  std::string description;
  Limits budget;    // over every instance and attempt of the step
  int parent = -1;  // the container step this step is nested in (-1: top level)
  int block = -1;   // which of the parent's blocks
  Priority priority = Priority::kNormal;
  std::optional<Route> route;
  int compensation = -1;         // saga: index of the step that undoes this one (not run normally)
  bool is_compensation = false;  // this step is some step's `compensate:` body
};

// A named model configuration from `models:`.
struct ModelConfig {
  std::string name;
  std::string provider;  // "sim", "openai", ...
  std::string model;     // provider's model id
  json::object options;  // everything else (base_url, api_key_env, temperature, sim script...)
  SourceLoc loc;
  std::string file;  // the file that defined it when not the workflow's (a config file)
};

struct Agent {
  std::string name;
  std::string model;  // name in `models:`
  expr::Template instructions;
  std::vector<std::string> capabilities;
  std::vector<std::string> tools;
  std::optional<json::value> output_schema;
  int max_turns = 8;
  std::string description;
  std::vector<std::string> handoffs;  // agents it may hand the conversation to
  Limits budget;                      // over every call the agent makes in a run
  SourceLoc loc;
};

// `tools:` entry with an `exec:` body: a child process, argv only, never a shell.
struct ExecTool {
  std::vector<expr::Template> argv;  // each element a template (may use the call's `with`)
  std::optional<expr::Template> cwd;
  std::map<std::string, expr::Template> env;
  std::optional<Millis> timeout;
  std::string stdin_from;  // "" or "with": pass `with` as JSON on stdin
  enum class Parse { kText, kJson } parse = Parse::kText;  // how stdout becomes the output
};

struct Tool {
  std::string name;
  std::string description;
  std::variant<ExecTool> impl;
  std::optional<json::value> input_schema;
  SourceLoc loc;
};

// `mcp_servers:` entry: a server started as a child process (`command`) or reached at `url`.
struct McpServer {
  std::string name;
  std::vector<std::string> command;
  std::string url;
  std::map<std::string, std::string> env;
  SourceLoc loc;
};

struct Input {
  std::string name;
  json::value schema;  // JSON Schema of the input
  std::optional<json::value> default_value;
  bool required = true;  // false when it has a default
  SourceLoc loc;
};

struct Budget {
  std::optional<double> max_cost_usd;  // per run
  std::optional<int64_t> max_tokens;   // per run
  std::optional<double> daily_usd;     // per UTC day, over every run of the workflow (journal)
  std::string on_exceed = "fail";      // fail | pause | downgrade
  std::string downgrade_to;            // model name used after the budget is hit (downgrade)
};

struct Workflow {
  int version = 1;
  std::string name;
  std::string description;
  std::string file;  // path it was loaded from ("" when built in code)
  std::vector<Input> inputs;
  std::map<std::string, ModelConfig> models;
  std::map<std::string, Agent> agents;
  std::map<std::string, Tool> tools;
  std::map<std::string, McpServer> mcp_servers;
  RetryPolicy default_retry;
  std::optional<Millis> default_timeout;
  std::optional<Millis> run_timeout;
  Budget budget;
  std::vector<Step> steps;  // in file order
  std::vector<std::pair<std::string, expr::Template>> outputs;
  int max_concurrency = 0;  // step instances of one run executing at once (0 = engine's limit)
  // `on: { event: NAME, match: expr }`: events that start a run of this workflow.
  struct Trigger {
    std::string event;
    std::optional<expr::Expression> match;
    SourceLoc loc;
  };
  std::vector<Trigger> triggers;

  // Derived by Finalize(): step index by id, resolved `needs` as indices, and the reverse
  // edges. Read-only afterwards.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> step_index;
  std::vector<std::vector<int>> needs_idx;
  std::vector<std::vector<int>> dependents;
  std::vector<int> top_level;  // steps with parent == -1 that are not compensations
  // Each step's priority or its containers', whichever is higher; `prioritized` when any step
  // is not `normal` (the decider then orders starts by it).
  std::vector<Priority> effective_priority;
  bool prioritized = false;

  // Whether any model in `models:` uses `provider` (e.g. "sim").
  bool UsesProvider(std::string_view provider) const;

  // Index of the step with `id`, or -1. Valid after Finalize().
  int StepIndex(std::string_view id) const;

  // Computes the derived fields. Fails on an unknown `needs` id or a duplicate step id (the
  // loader reports these with locations first; this is the backstop for workflows built in code).
  Status Finalize();
};

}  // namespace baton::core
