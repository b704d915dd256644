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

using StepKind = std::variant<AgentStep, LlmStep, SetStep, CallStep>;

// Names of the kinds as written in YAML, indexed like StepKind.
const char* StepKindName(const StepKind& kind);

enum class Effect { kIdempotent, kOnce };

struct Step {
  std::string id;
  SourceLoc loc;
  StepKind kind;
  std::vector<std::string> needs;  // resolved: explicit `needs`, or the previous step
  bool explicit_needs = false;
  std::optional<expr::Expression> if_cond;
  std::optional<expr::Template> for_each;
  std::string as = "item";
  int max_parallel = 0;              // 0 = unbounded (global limit still applies)
  std::optional<RetryPolicy> retry;  // unset: workflow default
  std::optional<Millis> timeout;     // unset: workflow default
  std::vector<CatchClause> catches;
  std::optional<expr::Template> output;  // reshapes the step's result
  Effect effect = Effect::kIdempotent;
  std::string description;
  Limits budget;  // over every instance and attempt of the step
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

  // Derived by Finalize(): step index by id, resolved `needs` as indices, and the reverse
  // edges. Read-only afterwards.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, int, StringHash, std::equal_to<>> step_index;
  std::vector<std::vector<int>> needs_idx;
  std::vector<std::vector<int>> dependents;

  // Whether any model in `models:` uses `provider` (e.g. "sim").
  bool UsesProvider(std::string_view provider) const;

  // Index of the step with `id`, or -1. Valid after Finalize().
  int StepIndex(std::string_view id) const;

  // Computes the derived fields. Fails on an unknown `needs` id or a duplicate step id (the
  // loader reports these with locations first; this is the backstop for workflows built in code).
  Status Finalize();
};

}  // namespace baton::core
