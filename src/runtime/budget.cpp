#include "runtime/budget.hpp"

#include <fmt/format.h>

#include <ctime>
#include <variant>

namespace baton::runtime {
namespace {

std::string Usd(double usd) { return fmt::format("${:.4f}", usd); }

Status Exceeded(std::string message) {
  return Status(Code::kResourceExhausted, std::move(message), "budget_exceeded");
}

// Money: spent + reserved + this call against `limit`.
Status CheckUsd(std::string_view what, double spent, double reserved, double call,
                std::optional<double> limit) {
  if (!limit || spent + reserved + call <= *limit) return Status::Ok();
  return Exceeded(
      fmt::format("{} of {} would be exceeded: spent {} + in flight {} + this call "
                  "~{}",
                  what, Usd(*limit), Usd(spent), Usd(reserved), Usd(call)));
}

Status CheckTokens(std::string_view what, int64_t spent, int64_t reserved, int64_t call,
                   std::optional<int64_t> limit) {
  if (!limit || spent + reserved + call <= *limit) return Status::Ok();
  return Exceeded(
      fmt::format("{} of {} tokens would be exceeded: used {} + in flight {} + this "
                  "call ~{}",
                  what, *limit, spent, reserved, call));
}

}  // namespace

CallEstimate EstimateCall(const providers::ChatRequest& request, const providers::Price& price,
                          int64_t default_output_tokens) {
  size_t chars = 0;
  for (const auto& m : request.messages) {
    chars += m.content.size() + 8;
    for (const auto& c : m.tool_calls) chars += c.name.size() + c.arguments.size();
  }
  for (const auto& t : request.tools) chars += t.name.size() + t.description.size() + 64;
  if (request.output_schema) chars += 64;
  CallEstimate e;
  int64_t input = static_cast<int64_t>(chars / 4) + 1;
  int64_t output = request.max_tokens.value_or(default_output_tokens);
  e.tokens = input + output;
  providers::Usage u;
  u.input_tokens = input;
  u.output_tokens = output;
  e.usd = price.Cost(u);
  return e;
}

uint64_t BudgetLedger::Reserve(const CallEstimate& e, int step, const std::string& agent) {
  uint64_t ticket = next_++;
  entries_.emplace(ticket, Entry{e, step, agent});
  run_.usd += e.usd;
  run_.tokens += e.tokens;
  steps_[step].usd += e.usd;
  steps_[step].tokens += e.tokens;
  if (!agent.empty()) {
    agents_[agent].usd += e.usd;
    agents_[agent].tokens += e.tokens;
  }
  return ticket;
}

void BudgetLedger::Release(uint64_t ticket) {
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return;
  const Entry& en = it->second;
  run_.usd -= en.estimate.usd;
  run_.tokens -= en.estimate.tokens;
  steps_[en.step].usd -= en.estimate.usd;
  steps_[en.step].tokens -= en.estimate.tokens;
  if (!en.agent.empty()) {
    agents_[en.agent].usd -= en.estimate.usd;
    agents_[en.agent].tokens -= en.estimate.tokens;
  }
  entries_.erase(it);
}

BudgetLedger::Totals BudgetLedger::step(int step) const {
  auto it = steps_.find(step);
  return it == steps_.end() ? Totals{} : it->second;
}

BudgetLedger::Totals BudgetLedger::agent(const std::string& agent) const {
  auto it = agents_.find(agent);
  return it == agents_.end() ? Totals{} : it->second;
}

Status CheckBudgets(const core::RunState& state, int step, const std::string& agent,
                    const BudgetLedger& ledger, const CallEstimate& e, const DailySpend& daily) {
  const core::Workflow& wf = state.workflow();
  const core::Budget& b = state.budget();
  const core::UsageTotals& used = state.usage();
  BudgetLedger::Totals in_flight = ledger.run();
  BATON_RETURN_IF_ERROR(
      CheckUsd("the run's budget", used.cost_usd, in_flight.usd, e.usd, b.max_cost_usd));
  BATON_RETURN_IF_ERROR(CheckTokens("the run's budget", used.input_tokens + used.output_tokens,
                                    in_flight.tokens, e.tokens, b.max_tokens));

  const core::Step& s = wf.steps[static_cast<size_t>(step)];
  const core::UsageTotals& step_used = state.step(step).usage;
  BudgetLedger::Totals step_flight = ledger.step(step);
  std::string what = fmt::format("step '{}' budget", s.id);
  BATON_RETURN_IF_ERROR(
      CheckUsd(what, step_used.cost_usd, step_flight.usd, e.usd, s.budget.max_cost_usd));
  BATON_RETURN_IF_ERROR(CheckTokens(what, step_used.input_tokens + step_used.output_tokens,
                                    step_flight.tokens, e.tokens, s.budget.max_tokens));

  if (!agent.empty()) {
    auto a = wf.agents.find(agent);
    if (a != wf.agents.end() && (a->second.budget.max_cost_usd || a->second.budget.max_tokens)) {
      core::UsageTotals agent_used;
      for (size_t i = 0; i < wf.steps.size(); ++i) {
        const auto* as = std::get_if<core::AgentStep>(&wf.steps[i].kind);
        if (as == nullptr || as->agent != agent) continue;
        const core::UsageTotals& u = state.step(static_cast<int>(i)).usage;
        agent_used.input_tokens += u.input_tokens;
        agent_used.output_tokens += u.output_tokens;
        agent_used.cost_usd += u.cost_usd;
      }
      BudgetLedger::Totals agent_flight = ledger.agent(agent);
      std::string awhat = fmt::format("agent '{}' budget", agent);
      BATON_RETURN_IF_ERROR(CheckUsd(awhat, agent_used.cost_usd, agent_flight.usd, e.usd,
                                     a->second.budget.max_cost_usd));
      BATON_RETURN_IF_ERROR(CheckTokens(awhat, agent_used.input_tokens + agent_used.output_tokens,
                                        agent_flight.tokens, e.tokens,
                                        a->second.budget.max_tokens));
    }
  }
  // Daily budgets count what is already in the ledger (settled calls of every run) plus this
  // run's calls in flight.
  if (daily.workflow_usd) {
    BATON_RETURN_IF_ERROR(CheckUsd(fmt::format("the daily budget of workflow '{}'", wf.name),
                                   *daily.workflow_usd, in_flight.usd, e.usd, b.daily_usd));
  }
  if (daily.global_usd) {
    BATON_RETURN_IF_ERROR(CheckUsd("the global daily budget", *daily.global_usd, in_flight.usd,
                                   e.usd, daily.global_limit));
  }
  return Status::Ok();
}

std::string UtcDay(int64_t epoch_ms) {
  std::time_t t = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

}  // namespace baton::runtime
