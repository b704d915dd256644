#pragma once

// `baton stats`: figures over the journal per workflow, per pattern (step kind), per agent and
// per model: runs or calls, success rate, durations (min / avg / p95 / max), retries, tokens,
// cost, and what the journal shows of each model's circuit breaker. One pass over the events
// (Store::ScanRuns); each distinct workflow source is loaded once to learn its steps' kinds.
// The JSON fields are documented in docs/cli.md (`baton stats`).

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "core/events.hpp"
#include "core/workflow.hpp"
#include "dsl/loader.hpp"
#include "store/store.hpp"

namespace baton::app {

// What one step of a workflow is: its kind (core::StepKindName) and, for an agent step, the
// agent.
struct StepInfo {
  std::string kind;
  std::string agent;
};
using StepCatalog = std::unordered_map<std::string, StepInfo>;

StepCatalog CatalogOf(const core::Workflow& workflow);

// The event types StatsBuilder reads; the others need not be scanned.
const std::vector<core::EventType>& StatsEventTypes();

// Folds runs and their events into the figures. Pure (no I/O, no clock); not thread-safe.
class StatsBuilder {
 public:
  StatsBuilder();
  ~StatsBuilder();
  StatsBuilder(const StatsBuilder&) = delete;
  StatsBuilder& operator=(const StatsBuilder&) = delete;

  // Starts a run whose events follow. `status` is the one to count (e.g. app::EffectiveStatus);
  // `steps` describes the run's workflow (null: its steps' kinds are "unknown").
  void AddRun(const store::RunRecord& run, core::RunStatus status,
              std::shared_ptr<const StepCatalog> steps);
  // The next event, in seq order, of the run added last.
  void AddEvent(const core::Event& event);

  // {runs, events, workflows: [..], patterns: [..], agents: [..], models: [..]}, rows sorted by
  // name.
  json::object Result() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

struct StatsQuery {
  int64_t since_ms = 0;  // runs created at or after this time (0: every run)
  std::string workflow;  // "" = every workflow
};

// Scans the journal once and returns StatsBuilder::Result(), with "since" (RFC 3339) when
// query.since_ms is set. A run whose stored workflow no longer loads counts with its steps of
// kind "unknown". Fails only when the store fails.
Result<json::object> ComputeStats(store::Store& store, const StatsQuery& query,
                                  const dsl::LoadOptions& options);

// `--since`: a duration back from `now_ms` ("90m", "24h", "7d") or a UTC date or time
// ("2025-01-31", "2025-01-31T12:00", "2025-01-31T12:00:00Z"). Returns epoch milliseconds;
// kInvalidArgument otherwise.
Result<int64_t> ParseSince(std::string_view text, int64_t now_ms);

}  // namespace baton::app
