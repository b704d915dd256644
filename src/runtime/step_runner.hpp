#pragma once

// Executes one dispatched step instance (agent, llm or call) and reports its outcome. Runs on
// the run's strand; reads the RunState only between suspension points (to render tool
// templates). Shared by every run of an Engine.

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/clock.hpp"
#include "core/decider.hpp"
#include "core/run_state.hpp"
#include "providers/chat_model.hpp"
#include "runtime/budget.hpp"
#include "runtime/router.hpp"

namespace baton::store {
class Store;
}
namespace baton::providers {
class ModelRegistry;
}
namespace baton::tools {
class ToolRegistry;
}
namespace baton::schema {
class Schema;
}

namespace baton::runtime {

// What the engine lends a step instance besides the run's state.
struct CallContext {
  BudgetLedger* ledger = nullptr;  // the run's reservations (strand-local; required)
  providers::StreamSink stream;    // live model deltas; empty = the call need not stream
  JournalFn journal;  // journals events ahead of the outcome (route_chosen); may be empty
};

class StepRunner {
 public:
  // `global_daily_usd`: the configured budget over every run per UTC day, if any.
  StepRunner(store::Store& store, const providers::ModelRegistry& models,
             tools::ToolRegistry& tools, Clock& clock, int64_t blob_threshold,
             std::optional<double> global_daily_usd = std::nullopt);
  ~StepRunner();

  // Executes `d` for the run whose state is `state` (owned by the caller's strand, alive until
  // the returned awaitable completes). Never throws: failures, including cancellation, are in
  // the outcome's status.
  boost::asio::awaitable<core::StepOutcome> Run(const core::RunState& state, core::Dispatch d,
                                                CallContext ctx);

  // One model call on behalf of instance `d`, by the path agent and llm steps take (admission,
  // budgets, streaming when ctx.stream is set): `model_name` is a `models:` name ("" = the only
  // one), `agent_name` the agent whose budget it counts against ("" = none), the messages come
  // from d.input (system, then messages or input/prompt), and `output_schema` (null = text; must
  // outlive the call) asks for and validates a structured reply. The outcome carries the
  // model_called fact. For kinds that make several calls per instance (consensus).
  boost::asio::awaitable<core::StepOutcome> CallModel(const core::RunState& state, core::Dispatch d,
                                                      CallContext ctx, std::string model_name,
                                                      std::string agent_name,
                                                      const json::value* output_schema);

 private:
  boost::asio::awaitable<core::StepOutcome> RunModel(const core::RunState& state, core::Dispatch d,
                                                     CallContext ctx);
  boost::asio::awaitable<core::StepOutcome> RunCall(const core::RunState& state, core::Dispatch d);
  // The model for a `models:` entry; created once per distinct configuration. Thread-safe.
  // Fallbacks (`fallback:` names) are created from `wf` and linked.
  Result<providers::ChatModel*> GetModel(const core::Workflow& wf, const core::ModelConfig& config);
  Result<providers::ChatModel*> GetModelLocked(const core::Workflow& wf,
                                               const core::ModelConfig& config);
  Result<const schema::Schema*> GetSchema(const json::value& schema);
  // Replaces text longer than the blob threshold with {blob, bytes, preview}.
  json::value MaybeBlob(const std::string& text);

  store::Store& store_;
  const providers::ModelRegistry& models_;
  tools::ToolRegistry& tools_;
  Clock& clock_;
  int64_t blob_threshold_;
  std::optional<double> global_daily_usd_;
  Router router_;  // `route:` choices and measured latencies
  std::mutex mu_;  // guards the caches below (shared by the strands of all runs)
  std::map<std::string, std::unique_ptr<providers::ChatModel>> model_cache_;
  std::map<std::string, std::unique_ptr<schema::Schema>> schema_cache_;
};

}  // namespace baton::runtime
