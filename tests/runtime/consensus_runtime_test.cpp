// `consensus:` executed by the engine: real coroutines on the run's strand, the sim provider with
// scripted replies (so answers are deterministic), every method, ties, quorum, failures, retries,
// cancellation and resume of a run interrupted in the middle of the step.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/decider.hpp"
#include "core/run_state.hpp"
#include "dsl/loader.hpp"
#include "providers/registry.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"
#include "testing/load_workflow.hpp"
#include "tools/tool.hpp"

namespace baton::runtime {
namespace {

std::shared_ptr<const core::Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

// Agents a, b, c, d answer from scripts keyed by their names (`replies` of model `m`); models
// x and y have their own scripts; agent j (the judge) has its own model.
std::string Workflow(const std::string& scripts, const std::string& judge_script,
                     const std::string& steps) {
  return R"(
baton: 1
name: consensus
models:
  m: { provider: sim, model: sim-small, sim: { replies: )" +
         scripts + R"( } }
  x: { provider: sim, model: sim-small, sim: { replies: ["Paris"] } }
  y: { provider: sim, model: sim-small, sim: { replies: ["Rome"] } }
  mj: { provider: sim, model: sim-large, sim: { replies: )" +
         judge_script + R"( } }
agents:
  a: { model: m, instructions: "You are a" }
  b: { model: m, instructions: "You are b" }
  c: { model: m, instructions: "You are c" }
  d: { model: m, instructions: "You are d" }
  j: { model: mj, instructions: "You judge fairly" }
steps:
)" + steps;
}

class ConsensusRuntimeTest : public ::testing::Test {
 protected:
  ConsensusRuntimeTest() : store_(store::NewMemoryStore()) {
    providers::RegisterBuiltinProviders(models_);
  }

  RunResult RunToEnd(std::shared_ptr<const core::Workflow> wf) {
    Engine engine(*store_, models_, tools_);
    auto id = engine.Start(wf, RunOptions{});
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    auto r = engine.Wait(*id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }

  std::vector<core::Event> Events(const std::string& run_id, core::EventType type) {
    auto all = store_->ReadEvents(run_id);
    EXPECT_TRUE(all.ok());
    std::vector<core::Event> out;
    for (auto& e : *all) {
      if (e.type == type) out.push_back(std::move(e));
    }
    return out;
  }

  std::unique_ptr<store::Store> store_;
  providers::ModelRegistry models_;
  tools::ToolRegistry tools_;
};

const json::object& StepOf(const RunResult& r, const char* id) {
  return r.summary().at("steps").at(id).as_object();
}

TEST_F(ConsensusRuntimeTest, MajorityAsksEveryoneAndRecordsAnswersAndDecision) {
  auto wf = Load(Workflow(R"({ a: ["Paris"], b: ["paris."], c: ["Lyon"] })", "{}", R"(
  - id: capital
    consensus: { agents: [a, b, c], input: "Capital of France?" }
outputs:
  capital: ${{ steps.capital.output.decision }}
)"));
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  EXPECT_EQ(r.summary().at("outputs").at("capital"), "Paris");
  const auto& out = StepOf(r, "capital").at("output").as_object();
  EXPECT_EQ(out.at("method"), "majority");
  EXPECT_EQ(out.at("winner"), "a");
  EXPECT_EQ(out.at("reason"), "'paris' has 2 of 3 votes");
  EXPECT_EQ(out.at("answers").as_array().size(), 3u);
  EXPECT_EQ(out.at("votes").as_array()[0].at("count"), 2);
  EXPECT_EQ(StepOf(r, "capital").at("model_calls"), 3);

  // Journal: each participant's model_called then participant_answered, in participant order,
  // then consensus_decided, then the step's success.
  auto all = store_->ReadEvents(r.run_id);
  ASSERT_TRUE(all.ok());
  std::vector<std::string> seen;
  for (const auto& e : *all) {
    if (e.step != "capital") continue;
    std::string t(core::EventTypeName(e.type));
    if (const auto* p = e.data.if_contains("participant")) t += ":" + std::string(p->as_string());
    seen.push_back(t);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "step_started", "model_called:a", "participant_answered:a", "model_called:b",
                      "participant_answered:b", "model_called:c", "participant_answered:c",
                      "consensus_decided", "step_succeeded"}));
  auto answered = Events(r.run_id, core::EventType::kParticipantAnswered);
  ASSERT_EQ(answered.size(), 3u);
  EXPECT_EQ(answered[1].data.at("agent"), "b");
  EXPECT_EQ(answered[1].data.at("answer"), "paris.");
  EXPECT_EQ(answered[1].data.at("vote"), "paris");
  // Each participant was asked with its own instructions and the same question.
  auto calls = Events(r.run_id, core::EventType::kModelCalled);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[2].data.at("prompt").as_array()[0].at("content"), "You are c");
  EXPECT_EQ(calls[2].data.at("prompt").as_array()[1].at("content"), "Capital of France?");
}

TEST_F(ConsensusRuntimeTest, JudgePicksAmongModelAnswers) {
  auto wf = Load(Workflow("{}", R"({ j: [{ json: { choice: 2, reason: "Rome is right" } }] })", R"(
  - id: pick
    consensus:
      models: [x, y]
      input: Which city?
      instructions: Name one city.
      method: judge
      judge: j
)"));
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  const auto& out = StepOf(r, "pick").at("output").as_object();
  EXPECT_EQ(out.at("decision"), "Rome");
  EXPECT_EQ(out.at("winner"), "y");
  EXPECT_EQ(out.at("choice"), 2);
  EXPECT_EQ(out.at("reason"), "judge 'j' chose answer 2 of 2 (y): Rome is right");
  auto calls = Events(r.run_id, core::EventType::kModelCalled);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_EQ(calls[0].data.at("prompt").as_array()[0].at("content"), "Name one city.");
  const auto& judge = calls[2].data;
  EXPECT_EQ(judge.at("judge"), "j");
  EXPECT_EQ(judge.at("model"), "mj");
  std::string asked(judge.at("prompt").as_array()[1].at("content").as_string());
  EXPECT_NE(asked.find("Answer 1:\nParis\n\nAnswer 2:\nRome\n"), std::string::npos) << asked;
  auto decided = Events(r.run_id, core::EventType::kConsensusDecided);
  ASSERT_EQ(decided.size(), 1u);
  EXPECT_EQ(decided[0].data.at("method"), "judge");
  EXPECT_EQ(decided[0].data.at("decision"), "Rome");
}

TEST_F(ConsensusRuntimeTest, UnscriptedJudgeStillGivesAValidChoice) {
  // The sim synthesises the judge's reply from the requested schema.
  auto wf = Load(Workflow("{}", "{}", R"(
  - id: pick
    consensus: { models: [x, y], input: Q, method: judge, judge: j }
  - id: best
    consensus: { models: [x, y], input: Q, method: best_of_n, judge: j }
)"));
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  for (const char* id : {"pick", "best"}) {
    std::string decision(StepOf(r, id).at("output").at("decision").as_string());
    EXPECT_TRUE(decision == "Paris" || decision == "Rome") << decision;
  }
  EXPECT_EQ(StepOf(r, "best").at("output").at("scores").as_array().size(), 2u);
}

TEST_F(ConsensusRuntimeTest, BestOfNAndEnsembleUseTheJudge) {
  auto wf = Load(Workflow(R"({ a: ["short"], b: ["long and careful"], c: ["medium"] })",
                          R"({ j: [{ json: { scores: [2, 9, 5], reason: "most careful" } }] })", R"(
  - id: best
    consensus: { agents: [a, b, c], input: "Explain tides.", method: best_of_n, judge: j }
)"));
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  const auto& best = StepOf(r, "best").at("output").as_object();
  EXPECT_EQ(best.at("decision"), "long and careful");
  EXPECT_EQ(best.at("scores").as_array()[1].at("score"), 9);

  auto merged = Load(Workflow(R"({ a: ["x"], b: ["y"] })", R"({ j: ["x, and also y"] })", R"(
  - id: all
    consensus: { agents: [a, b], input: Q, method: ensemble, judge: j }
)"));
  RunResult m = RunToEnd(merged);
  ASSERT_EQ(m.status, core::RunStatus::kSucceeded) << ToJson(m.summary());
  EXPECT_EQ(StepOf(m, "all").at("output").at("decision"), "x, and also y");
  EXPECT_EQ(StepOf(m, "all").at("output").at("reason"), "judge 'j' merged 2 answers");
}

TEST_F(ConsensusRuntimeTest, WeightedAndVoteExpression) {
  auto wf = Load(Workflow(
      R"({ a: [{ json: { label: "Yes", why: "1" } }], b: [{ json: { label: "no", why: "2" } }],
           c: [{ json: { label: "yes ", why: "3" } }] })",
      "{}", R"(
  - id: w
    consensus:
      participants: [{ agent: a }, { agent: b, weight: 3 }, { agent: c }]
      input: Agree?
      method: weighted
      vote: ${{ answer.label }}
)"));
  // Structured answers need an output_schema on the agents.
  auto edited = std::make_shared<core::Workflow>(*wf);
  json::value schema = json::object{{"type", "object"}};
  for (auto& [name, agent] : edited->agents) agent.output_schema = schema;
  RunResult r = RunToEnd(edited);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  const auto& out = StepOf(r, "w").at("output").as_object();
  EXPECT_EQ(out.at("decision").at("label"), "no");
  EXPECT_EQ(out.at("reason"), "'no' has weight 3 of 5");
  auto answered = Events(r.run_id, core::EventType::kParticipantAnswered);
  ASSERT_EQ(answered.size(), 3u);
  EXPECT_EQ(answered[0].data.at("vote"), "yes");
  EXPECT_EQ(answered[1].data.at("weight"), 3.0);
}

TEST_F(ConsensusRuntimeTest, TieGoesToTheJudgeOrFails) {
  std::string scripts = R"({ a: ["red"], b: ["blue"], c: ["Blue"], d: ["RED"] })";
  auto judged = Load(Workflow(scripts, R"({ j: [{ json: { choice: 2, reason: "calmer" } }] })", R"(
  - id: colour
    consensus: { agents: [a, b, c, d], input: "Colour?", tie_break: judge, judge: j }
)"));
  RunResult r = RunToEnd(judged);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  const auto& out = StepOf(r, "colour").at("output").as_object();
  EXPECT_EQ(out.at("decision"), "blue");
  EXPECT_EQ(out.at("winner"), "b");
  EXPECT_EQ(out.at("reason"),
            "tie between 2 answers with votes 2 each (a, b); judge 'j' chose b: calmer");

  auto failing = Load(Workflow(scripts, "{}", R"(
  - id: colour
    consensus: { agents: [a, b, c, d], input: "Colour?", tie_break: fail }
)"));
  RunResult f = RunToEnd(failing);
  ASSERT_EQ(f.status, core::RunStatus::kFailed);
  EXPECT_EQ(StepOf(f, "colour").at("error").at("type"), "no_consensus");
  EXPECT_EQ(Events(f.run_id, core::EventType::kParticipantAnswered).size(), 4u);
  EXPECT_TRUE(Events(f.run_id, core::EventType::kConsensusDecided).empty());
}

TEST_F(ConsensusRuntimeTest, FailedParticipantsCountAsNoAnswer) {
  auto wf = Load(Workflow(
      R"({ a: [{ error: server_error, message: "a is down" }], b: ["42"], c: ["42"] })", "{}", R"(
  - id: n
    consensus: { agents: [a, b, c], input: "6 x 7?" }
)"));
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  EXPECT_EQ(StepOf(r, "n").at("output").at("decision"), "42");
  EXPECT_EQ(StepOf(r, "n").at("output").at("answers").as_array().size(), 2u);
  auto answered = Events(r.run_id, core::EventType::kParticipantAnswered);
  ASSERT_EQ(answered.size(), 3u);
  EXPECT_EQ(answered[0].data.at("error").at("type"), "server_error");
  EXPECT_EQ(answered[0].data.at("error").at("message"), "a is down");
  EXPECT_FALSE(answered[0].data.contains("answer"));
  auto calls = Events(r.run_id, core::EventType::kModelCalled);
  ASSERT_EQ(calls.size(), 3u);
  EXPECT_TRUE(calls[0].data.contains("error"));
}

TEST_F(ConsensusRuntimeTest, NoQuorumFailsCatchesAndRetries) {
  std::string down = R"({ a: [{ error: overloaded }, "yes"], b: [{ error: timeout }, "yes"],
                          c: ["yes"] })";
  auto failing = Load(Workflow(down, "{}", R"(
  - id: q
    consensus: { agents: [a, b, c], input: Q }
)"));
  RunResult f = RunToEnd(failing);
  ASSERT_EQ(f.status, core::RunStatus::kFailed);
  const auto& err = StepOf(f, "q").at("error").as_object();
  EXPECT_EQ(err.at("type"), "no_quorum");
  std::string msg(err.at("message").as_string());
  EXPECT_NE(msg.find("1 of 3 participants answered, fewer than the quorum of 2"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("a: overloaded"), std::string::npos) << msg;

  auto caught = Load(Workflow(down, "{}", R"(
  - id: q
    consensus: { agents: [a, b, c], input: Q }
    catch: [{ errors: [no_quorum], then: { output: { decision: unknown } } }]
)"));
  RunResult c = RunToEnd(caught);
  ASSERT_EQ(c.status, core::RunStatus::kSucceeded) << ToJson(c.summary());
  EXPECT_EQ(StepOf(c, "q").at("output").at("decision"), "unknown");

  // A retry asks every participant again (their scripts move on to "yes").
  auto retried = Load(Workflow(down, "{}", R"(
  - id: q
    consensus: { agents: [a, b, c], input: Q }
    retry: { max_attempts: 2, on: [no_quorum], backoff: { initial: 1ms } }
)"));
  RunResult t = RunToEnd(retried);
  ASSERT_EQ(t.status, core::RunStatus::kSucceeded) << ToJson(t.summary());
  EXPECT_EQ(StepOf(t, "q").at("attempts"), 2);
  EXPECT_EQ(StepOf(t, "q").at("output").at("decision"), "yes");
  EXPECT_EQ(Events(t.run_id, core::EventType::kParticipantAnswered).size(), 6u);
}

TEST_F(ConsensusRuntimeTest, JudgeFailureFailsTheStepWithItsType) {
  auto wf = Load(Workflow(R"({ a: ["x"], b: ["y"] })", R"({ j: [{ error: rate_limited }] })", R"(
  - id: pick
    consensus: { agents: [a, b], input: Q, method: judge, judge: j }
)"));
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kFailed);
  const auto& err = StepOf(r, "pick").at("error").as_object();
  EXPECT_EQ(err.at("type"), "rate_limited");
  EXPECT_NE(std::string(err.at("message").as_string()).find("judge 'j'"), std::string::npos);
}

TEST_F(ConsensusRuntimeTest, ParticipantsRunConcurrentlyAndAStepTimeoutStopsThem) {
  // Six participants of 1 s each inside a 4 s step timeout: only concurrent calls fit.
  auto wf = Load(R"(
baton: 1
name: slow
models:
  s: { provider: sim, model: sim-small, sim: { latency: 1s, replies: ["same"] } }
  never: { provider: sim, model: sim-small, sim: { latency: 60s } }
steps:
  - id: fast
    consensus: { models: [s, s, s, s, s, s], input: Q }
    timeout: 4s
  - id: stuck
    consensus: { models: [never, never], input: Q }
    timeout: 200ms
)");
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = RunToEnd(wf);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  ASSERT_EQ(r.status, core::RunStatus::kFailed);
  EXPECT_EQ(StepOf(r, "fast").at("status"), "succeeded") << ToJson(r.summary());
  EXPECT_EQ(StepOf(r, "fast").at("output").at("reason"), "'same' has 6 of 6 votes");
  EXPECT_EQ(StepOf(r, "stuck").at("error").at("type"), "timeout");
}

TEST_F(ConsensusRuntimeTest, CancellingTheRunStopsTheParticipants) {
  auto wf = Load(R"(
baton: 1
name: cancel
models:
  never: { provider: sim, model: sim-small, sim: { latency: 60s } }
steps:
  - id: stuck
    consensus: { models: [never, never, never], input: Q }
)");
  Engine engine(*store_, models_, tools_);
  auto id = engine.Start(wf, RunOptions{});
  ASSERT_TRUE(id.ok());
  // Wait until the step has started, then cancel.
  for (int i = 0; i < 2000; ++i) {
    auto events = store_->ReadEvents(*id);
    if (events.ok() && events->size() >= 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(engine.Cancel(*id));
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30));
  EXPECT_EQ(r->status, core::RunStatus::kCancelled);
}

TEST_F(ConsensusRuntimeTest, ResumeAfterACrashRunsTheWholeStepAgain) {
  auto wf = Load(Workflow(R"({ a: ["yes"], b: ["yes"], c: ["no"] })", "{}", R"(
  - id: first
    set: { v: 1 }
  - id: q
    consensus: { agents: [a, b, c], input: Q }
outputs:
  q: ${{ steps.q.output.decision }}
)"));
  // The journal a process leaves when it dies while the participants are being asked: the
  // step started, and nothing of its calls is durable.
  std::string run_id = "r-crashed";
  store::RunRecord rec;
  rec.id = run_id;
  rec.workflow_name = wf->name;
  rec.status = core::RunStatus::kRunning;
  ASSERT_TRUE(store_->CreateRun(rec).ok());
  core::RunState state(wf, run_id);
  core::Event started = core::RunStartedEvent({}, {}, "/tmp", true, 1000);
  state.Apply(started);
  core::Decision d;
  d.events.push_back(started);
  core::Decider::Advance(state, 1000, d);
  ASSERT_EQ(d.dispatch.size(), 1u);
  ASSERT_EQ(d.events.back().type, core::EventType::kStepStarted);
  ASSERT_TRUE(store_->AppendSync(run_id, d.events).ok());

  Engine engine(*store_, models_, tools_);
  ASSERT_TRUE(engine.Resume(wf, run_id).ok());
  auto r = engine.Wait(run_id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->summary().at("outputs").at("q"), "yes");
  EXPECT_EQ(StepOf(*r, "q").at("attempts"), 2);
  EXPECT_EQ(Events(run_id, core::EventType::kParticipantAnswered).size(), 3u);
  EXPECT_EQ(Events(run_id, core::EventType::kConsensusDecided).size(), 1u);
  auto restarts = Events(run_id, core::EventType::kRetryScheduled);
  ASSERT_EQ(restarts.size(), 1u);
  EXPECT_EQ(restarts[0].data.at("error").at("type"), "interrupted");
}

}  // namespace
}  // namespace baton::runtime
