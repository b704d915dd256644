#pragma once

// baton as a C++ library: the one header a program includes.
//
//   auto baton = baton::Baton::Open({.store = ":memory:"});
//   (*baton)->RegisterTool("word_count", [](const baton::json::value& args) { ... });
//   (*baton)->RegisterProvider("rules", MakeRulesModel);
//   auto wf = (*baton)->LoadFile("review.yaml");          // or baton::WorkflowBuilder
//   (*baton)->OnEvent([](const std::string& run, const baton::core::Event& e) { ... });
//   auto result = (*baton)->Run(*wf, {{"topic", "tides"}});
//
// A Baton owns one journal (SQLite file or memory), the model and tool registries, and an engine
// created on first use. Lifecycle: register tools and providers first, then load workflows (the
// loader checks their names against the registries), then run. Registering after the first run
// started fails with kFailedPrecondition.
//
// Threading: every method may be called from any thread once registration is over. Listeners,
// tools and models are called on the engine's threads (Options::threads of them), concurrently
// for different runs and fan-out items: they must be thread-safe and must not block for long.
// Never call a blocking method (Run, Wait, Resume) from a listener, a tool or a model: it would
// wait for the thread it runs on.
//
// The types in the signatures are the engine's own (src/core, src/providers, src/tools,
// src/runtime); this header includes them so a program needs nothing else. See docs/library.md.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "baton/workflow_builder.hpp"  // IWYU pragma: export
#include "core/events.hpp"
#include "core/workflow.hpp"
#include "providers/chat_model.hpp"
#include "providers/registry.hpp"
#include "runtime/engine.hpp"
#include "tools/tool.hpp"

namespace baton {

struct Options {
  // Where runs are journaled: a SQLite file (created with its parent directories if missing) or
  // ":memory:" for a journal that lives as long as the Baton.
  std::string store = ":memory:";
  bool synchronous_full = true;  // SQLite synchronous=FULL (false: NORMAL, faster, may lose the
                                 // last commits on power loss but never corrupts)
  int threads = 1;               // engine threads running steps, tools, models and listeners
  int max_concurrency = 64;      // step instances executing at once, across all runs
};

class Baton {
 public:
  // A synchronous tool: JSON arguments in, JSON result or error out (see tools::FunctionTool).
  using ToolFunction = std::function<Result<json::value>(const json::value& args)>;

  // Opens the journal. Fails when the store cannot be opened (kUnavailable, kInvalidArgument...).
  static Result<std::unique_ptr<Baton>> Open(Options options = {});

  ~Baton();  // cancels the runs still executing and waits for them to stop
  Baton(const Baton&) = delete;
  Baton& operator=(const Baton&) = delete;

  // Adds a tool that `call:` steps and agents may name without declaring it in `tools:`. A
  // failure it returns fails the step with Status::ErrorType() (normally "tool_error"); an
  // exception it throws becomes a "tool_error" failure. kAlreadyExists for a taken name,
  // kInvalidArgument for an empty name or function, kFailedPrecondition after the first run.
  Status RegisterTool(std::string name, ToolFunction function);
  // The same for a tool implementing the asynchronous interface (its Call() runs on an engine
  // thread and may co_await; see tools::Tool).
  Status RegisterTool(std::unique_ptr<tools::Tool> tool);

  // Adds a model provider: `models: {x: {provider: NAME, model: ...}}` then creates its models
  // with `factory`, once per distinct model configuration, on first use; loading also creates
  // each model once to check its options (so a factory must not connect anywhere, and must not
  // call back into the Baton). Built in: "sim".
  // kAlreadyExists for a taken name, kInvalidArgument for an empty name or factory,
  // kFailedPrecondition after the first run.
  Status RegisterProvider(std::string name, providers::ModelFactory factory);

  // Loads a workflow file (YAML or JSON) or text; `name` is the file name diagnostics show.
  // Every problem (syntax, references, unknown tools or providers, expressions, options a
  // provider's factory refuses) is reported at once: kInvalidArgument whose message has one
  // "file:line:col: error: ..." line per problem. The Baton remembers the source, so runs of the
  // workflow can be resumed later, by this or another process.
  Result<std::shared_ptr<const core::Workflow>> LoadFile(const std::string& path);
  Result<std::shared_ptr<const core::Workflow>> LoadText(std::string_view text,
                                                         const std::string& name);

  // Observes every event of every run of this Baton once it is durable, in journal order per
  // run. Several listeners may be added; each sees events journaled after it was added. Called on
  // engine threads (see the threading note above).
  void OnEvent(runtime::EventListener listener);

  // Starts a run: applies input defaults, validates `inputs` against the declared schemas and
  // returns the new run id (kInvalidArgument naming the input otherwise; nothing is created).
  // A workflow not loaded by this Baton runs too, but its runs cannot be resumed.
  Result<std::string> Start(std::shared_ptr<const core::Workflow> workflow,
                            json::object inputs = {});

  // Blocks until the run finishes and returns its summary ({run_id, status, outputs, error?,
  // steps, usage}). A run executed by this Baton is waited for; a finished run of the journal is
  // summarized from its events. kNotFound for an unknown id; kFailedPrecondition for a run that
  // is neither executing here nor finished (resume it).
  Result<runtime::RunResult> Wait(const std::string& run_id);

  // Start + Wait. A run that fails is a value (status kFailed), not an error: errors are about
  // the engine (bad inputs, journal failure).
  Result<runtime::RunResult> Run(std::shared_ptr<const core::Workflow> workflow,
                                 json::object inputs = {});

  // Continues an interrupted run (its process died) from its journal with the workflow stored
  // with it, loaded with this Baton's tools and providers; steps that succeeded are not executed
  // again. Blocks until it finishes. kFailedPrecondition when the run already finished or its
  // process is still alive; kNotFound for an unknown id.
  Result<runtime::RunResult> Resume(const std::string& run_id);

  // Requests cancellation of a run executing here: in-flight steps are cancelled and the run
  // finishes `cancelled`. False when the run is not executing in this Baton.
  bool Cancel(const std::string& run_id);

  // The run's journal, in order (seq 1, 2, ...). kNotFound for an unknown run.
  Result<std::vector<core::Event>> Events(const std::string& run_id);

 private:
  struct Impl;
  explicit Baton(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton
