#include "runtime/consensus_runner.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <utility>

#include "core/consensus.hpp"

namespace baton::runtime {
namespace {

namespace asio = boost::asio;

core::Event Fact(core::EventType type, const core::Step& step, const core::Dispatch& d) {
  core::Event e;
  e.type = type;
  e.step = step.id;
  e.item = d.item;
  e.attempt = d.attempt;
  return e;
}

// Moves the facts of one model call into `out`, tagging its model_called events with `key`.
void TakeFacts(core::StepOutcome& call, std::vector<core::Event>& out, const char* key,
               const std::string& value) {
  for (auto& f : call.facts) {
    if (f.type == core::EventType::kModelCalled) f.data[key] = value;
    out.push_back(std::move(f));
  }
  call.facts.clear();
}

std::string ExceptionText(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

asio::awaitable<core::StepOutcome> RunConsensus(StepRunner& runner, const core::RunState& state,
                                                core::Dispatch d, CallContext ctx) {
  const core::Workflow& wf = state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];
  const auto& c = std::get<core::ConsensusStep>(step.kind);
  core::StepOutcome o;
  o.step = d.step;
  o.item = d.item;
  o.attempt = d.attempt;

  std::vector<std::string> labels = core::ParticipantLabels(c);
  json::value input;
  if (const auto* in = d.input.if_contains("input")) input = *in;
  json::object systems;
  if (const auto* s = d.input.if_contains("systems"); s && s->is_object()) {
    systems = s->get_object();
  }

  // Every participant at once, each a coroutine on this strand. Participants do not stream:
  // their deltas would interleave under one step.
  auto ex = co_await asio::this_coro::executor;
  using Op = decltype(asio::co_spawn(ex, std::declval<asio::awaitable<core::StepOutcome>>(),
                                     asio::deferred));
  std::vector<Op> ops;
  ops.reserve(c.participants.size());
  for (const auto& p : c.participants) {
    core::Dispatch pd;
    pd.step = d.step;
    pd.item = d.item;
    pd.attempt = d.attempt;
    const json::value* system = nullptr;
    std::string model = p.model;
    const json::value* schema = nullptr;
    if (!p.agent.empty()) {
      const core::Agent& agent = wf.agents.at(p.agent);
      model = agent.model;
      if (agent.output_schema) schema = &*agent.output_schema;
      system = systems.if_contains(p.agent);
    } else {
      system = d.input.if_contains("instructions");
    }
    if (system) pd.input["system"] = *system;
    pd.input["input"] = input;
    CallContext pc;
    pc.ledger = ctx.ledger;
    auto call =
        runner.CallModel(state, std::move(pd), std::move(pc), std::move(model), p.agent, schema);
    ops.push_back(asio::co_spawn(ex, std::move(call), asio::deferred));
  }
  auto group = asio::experimental::make_parallel_group(std::move(ops));
  asio::experimental::wait_for_all all;
  auto waiting = group.async_wait(all, asio::use_awaitable);
  auto results = co_await std::move(waiting);
  std::vector<std::exception_ptr>& errors = std::get<1>(results);
  std::vector<core::StepOutcome>& calls = std::get<2>(results);

  std::vector<core::Ballot> ballots(c.participants.size());
  Status vote_error;
  for (size_t k = 0; k < ballots.size(); ++k) {
    const auto& p = c.participants[k];
    core::Ballot& b = ballots[k];
    b.participant = labels[k];
    b.weight = p.weight;
    core::StepOutcome& call = calls[k];
    Status st = call.status;
    if (errors[k]) st = Internal(ExceptionText(errors[k]));
    TakeFacts(call, o.facts, "participant", b.participant);
    core::Event e = Fact(core::EventType::kParticipantAnswered, step, d);
    e.data["participant"] = b.participant;
    e.data[p.agent.empty() ? "model" : "agent"] = p.agent.empty() ? p.model : p.agent;
    if (p.weight != 1.0) e.data["weight"] = p.weight;
    if (st.ok()) {
      auto vote = core::ConsensusVote(state, d.step, d.item, call.output);
      if (!vote.ok() && vote_error.ok()) {
        vote_error = vote.error().WithContext(fmt::format("participant '{}'", b.participant));
      }
      b.answered = true;
      b.answer = std::move(call.output);
      b.vote = vote.ok() ? *vote : "";
      e.data["answer"] = b.answer;
      e.data["vote"] = b.vote;
    } else {
      b.error = json::object{{"type", st.ErrorType()}, {"message", st.message()}};
      e.data["error"] = b.error;
    }
    o.facts.push_back(std::move(e));
  }
  auto cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    o.status = Cancelled("cancelled");
    co_return o;
  }
  if (!vote_error.ok()) {
    o.status = vote_error;
    co_return o;
  }

  core::ConsensusState s = core::Decide(c, ballots);
  // A judge answers at most twice: once for its method, once more for a tie among its scores.
  for (int round = 0; s.status.ok() && s.needs_judge() && round < 2; ++round) {
    const core::Agent& judge = wf.agents.at(c.judge);
    core::Dispatch jd;
    jd.step = d.step;
    jd.item = d.item;
    jd.attempt = d.attempt;
    if (const auto* sys = systems.if_contains(c.judge)) jd.input["system"] = *sys;
    jd.input["input"] = core::JudgePrompt(s, ballots, input);
    json::value schema = core::JudgeSchema(s);
    const json::value* schema_ptr = &schema;
    if (schema.is_null()) schema_ptr = judge.output_schema ? &*judge.output_schema : nullptr;
    CallContext jc;
    jc.ledger = ctx.ledger;
    jc.stream = ctx.stream;
    auto judging =
        runner.CallModel(state, std::move(jd), std::move(jc), judge.model, c.judge, schema_ptr);
    core::StepOutcome call = co_await std::move(judging);
    TakeFacts(call, o.facts, "judge", c.judge);
    if (!call.status.ok()) {
      o.status = call.status.WithContext(fmt::format("judge '{}'", c.judge));
      co_return o;
    }
    s = core::ApplyJudgement(c, ballots, std::move(s), call.output);
  }
  if (s.status.ok() && s.needs_judge()) {
    s.status = Internal("consensus: the judge was asked too many times");
  }
  if (!s.status.ok()) {
    o.status = s.status;
    co_return o;
  }
  core::Event decided = Fact(core::EventType::kConsensusDecided, step, d);
  decided.data = s.decided;
  o.facts.push_back(std::move(decided));
  o.output = core::ConsensusOutput(s, ballots);
  co_return o;
}

}  // namespace baton::runtime
