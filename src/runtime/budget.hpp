#pragma once

// Budgets enforced before a model call: the call's cost is estimated and reserved, checked
// against every budget that covers it (run, step, agent, day), and settled by the journaled
// usage once it returns. What happens when a budget would be exceeded is the workflow's
// `budget.on_exceed` (fail | pause | downgrade), applied by the step runner and the decider.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "base/status.hpp"
#include "core/run_state.hpp"
#include "providers/chat_model.hpp"

namespace baton::runtime {

// A model call's cost, estimated before it is made: the prompt's tokens (about four
// characters a token) plus what it may write (max_tokens, else `default_output_tokens`).
struct CallEstimate {
  int64_t tokens = 0;
  double usd = 0;
};
CallEstimate EstimateCall(const providers::ChatRequest& request, const providers::Price& price,
                          int64_t default_output_tokens = 256);

// Reservations of the model calls in flight of one run. Touched only on the run's strand.
class BudgetLedger {
 public:
  struct Totals {
    double usd = 0;
    int64_t tokens = 0;
  };
  // Reserves `e` for a call of step `step` by `agent` ("" for llm steps); returns its ticket.
  uint64_t Reserve(const CallEstimate& e, int step, const std::string& agent);
  // Releases a reservation (the call's real usage is in the journal by then).
  void Release(uint64_t ticket);

  Totals run() const { return run_; }
  Totals step(int step) const;
  Totals agent(const std::string& agent) const;

 private:
  struct Entry {
    CallEstimate estimate;
    int step;
    std::string agent;
  };
  uint64_t next_ = 1;
  std::map<uint64_t, Entry> entries_;
  Totals run_;
  std::map<int, Totals> steps_;
  std::map<std::string, Totals> agents_;
};

// Spend outside the run that a daily budget counts (from the journal's ledger).
struct DailySpend {
  std::optional<double> workflow_usd;  // this workflow today; set when budget.daily_usd is
  std::optional<double> global_usd;    // everything today; set when a global daily budget is
  std::optional<double> global_limit;  // the configured global daily budget
};

// Whether a call estimated at `e`, for step `step` run by `agent`, fits the run's budget
// (state.budget()), the step's and the agent's `budget:`, and the daily budgets. Fails with
// type "budget_exceeded" and a message naming the budget and the figures.
Status CheckBudgets(const core::RunState& state, int step, const std::string& agent,
                    const BudgetLedger& ledger, const CallEstimate& e, const DailySpend& daily);

// "YYYY-MM-DD" (UTC) of `epoch_ms`.
std::string UtcDay(int64_t epoch_ms);

}  // namespace baton::runtime
