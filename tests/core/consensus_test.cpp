// `consensus:` without I/O: loading, the dispatch input, votes, counting, ties, quorum, the
// judge's questions and replies, and the decider journaling a consensus outcome.

#include "core/consensus.hpp"

#include <gtest/gtest.h>

#include "core/decider.hpp"
#include "dsl/loader.hpp"
#include "testing/load_workflow.hpp"

namespace baton::core {
namespace {

std::shared_ptr<const Workflow> Load(const std::string& yaml) {
  return test_util::LoadWorkflowOrFail(yaml);
}

// The diagnostics of a workflow that must not load.
std::string Errors(const std::string& yaml) {
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml");
  EXPECT_FALSE(r.workflow);
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  return diags;
}

json::value J(std::string_view text) {
  auto v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : json::value();
}

constexpr const char* kHead = R"(
baton: 1
name: vote
models:
  m1: { provider: sim, model: sim-small }
  m2: { provider: sim, model: sim-small }
agents:
  a: { model: m1, instructions: "You are A for ${{ inputs.topic }}" }
  b: { model: m1, instructions: "You are B" }
  c: { model: m2 }
  j: { model: m2, instructions: "You judge" }
inputs:
  topic: { type: string, default: tides }
steps:
)";

Ballot Answer(std::string who, json::value answer, double weight = 1.0) {
  Ballot b;
  b.participant = std::move(who);
  b.weight = weight;
  b.answered = true;
  b.vote = NormalizeVote(answer);
  b.answer = std::move(answer);
  return b;
}

Ballot NoAnswer(std::string who, std::string type = "server_error") {
  Ballot b;
  b.participant = std::move(who);
  b.error = json::object{{"type", std::move(type)}, {"message", "boom"}};
  return b;
}

ConsensusStep Step(std::string method, int n, std::string tie_break = "first",
                   std::string judge = "") {
  ConsensusStep c;
  c.method = std::move(method);
  c.tie_break = std::move(tie_break);
  c.judge = std::move(judge);
  for (int k = 0; k < n; ++k) c.participants.push_back({"p" + std::to_string(k), "", 1.0, {}});
  return c;
}

TEST(ConsensusTest, LoadsEveryParticipantForm) {
  auto wf = Load(std::string(kHead) + R"(
  - id: v1
    consensus: { agents: [a, b, a], input: "Q", method: majority, quorum: 2, tie_break: fail }
  - id: v2
    consensus:
      models: [m1, m2]
      input: "${{ steps.v1.output.decision }}"
      instructions: "Answer in one word"
      method: judge
      judge: j
  - id: v3
    consensus:
      participants: [{ agent: a, weight: 2 }, { model: m2, weight: 0.5 }, { agent: c }]
      input: Q
      method: weighted
      vote: "${{ answer.label }}"
)");
  ASSERT_TRUE(wf);
  const auto& v1 = std::get<ConsensusStep>(wf->steps[0].kind);
  ASSERT_EQ(v1.participants.size(), 3u);
  EXPECT_EQ(v1.participants[0].agent, "a");
  EXPECT_EQ(ParticipantLabels(v1), (std::vector<std::string>{"a", "b", "a#2"}));
  EXPECT_EQ(QuorumOf(v1), 2);
  EXPECT_EQ(v1.tie_break, "fail");
  const auto& v2 = std::get<ConsensusStep>(wf->steps[1].kind);
  EXPECT_EQ(v2.participants[1].model, "m2");
  EXPECT_EQ(v2.judge, "j");
  EXPECT_EQ(QuorumOf(v2), 2);  // more than half of 2
  const auto& v3 = std::get<ConsensusStep>(wf->steps[2].kind);
  EXPECT_EQ(v3.participants[0].weight, 2.0);
  EXPECT_EQ(v3.participants[1].weight, 0.5);
  EXPECT_TRUE(v3.vote.has_value());
  EXPECT_EQ(QuorumOf(v3), 2);
}

TEST(ConsensusTest, ReportsMistakesWithPositions) {
  std::string e = Errors(std::string(kHead) + R"(
  - id: v1
    consensus: { agents: [a, nobody], input: Q, method: judge }
  - id: v2
    consensus: { models: [m1], input: Q, quorum: 3, tie_break: coin }
  - id: v3
    consensus: { participants: [{ agent: a, model: m1 }, { agent: b, weight: 0 }], method: best }
  - id: v4
    consensus: { agents: [a, b], models: [m1], participants: [{ agent: a }], input: Q }
)");
  EXPECT_NE(e.find("test.yaml:17:30: error: step 'v1' uses unknown agent 'nobody'"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("method 'judge' needs a 'judge' agent"), std::string::npos) << e;
  EXPECT_NE(e.find("'consensus' needs at least two participants"), std::string::npos) << e;
  EXPECT_NE(e.find("'tie_break' must be one of first, judge, fail, got 'coin'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("a participant names exactly one of 'agent' or 'model'"), std::string::npos)
      << e;
  EXPECT_NE(e.find("'weight' must be greater than 0"), std::string::npos) << e;
  EXPECT_NE(e.find("'method' must be one of"), std::string::npos) << e;
  EXPECT_NE(e.find("'consensus' is missing required key 'input'"), std::string::npos) << e;
  EXPECT_NE(e.find("give either 'participants' or 'agents'/'models', not both"), std::string::npos)
      << e;
  // `answer` exists only in `vote`.
  std::string scope = Errors(std::string(kHead) + R"(
  - id: v1
    consensus: { agents: [a, b], input: "${{ answer }}" }
)");
  EXPECT_NE(scope.find("answer"), std::string::npos) << scope;
  // no_quorum is an error type catch clauses may name.
  Load(std::string(kHead) + R"(
  - id: v1
    consensus: { agents: [a, b], input: Q }
    catch: [{ errors: [no_quorum, no_consensus], then: continue }]
)");
}

TEST(ConsensusTest, NormalisesVotes) {
  EXPECT_EQ(NormalizeVote("  Paris. "), "paris");
  EXPECT_EQ(NormalizeVote("The\n  Hague"), "the hague");
  EXPECT_EQ(NormalizeVote(J(R"({"b": 1, "a": [true]})")), R"({"a":[true],"b":1})");
  EXPECT_EQ(NormalizeVote(42), "42");
}

TEST(ConsensusTest, MajorityNeedsTheMostVotes) {
  ConsensusStep c = Step("majority", 4);
  std::vector<Ballot> ballots = {Answer("p0", "Lyon"), Answer("p1", "paris"),
                                 Answer("p2", " Paris."), NoAnswer("p3")};
  ConsensusState s = Decide(c, ballots);
  ASSERT_TRUE(s.status.ok()) << s.status.ToString();
  ASSERT_TRUE(s.done());
  EXPECT_EQ(s.decided.at("decision"), "paris");  // the first winning answer, as given
  EXPECT_EQ(s.decided.at("winner"), "p1");
  EXPECT_EQ(s.decided.at("reason"), "'paris' has 2 of 3 votes");
  EXPECT_EQ(s.decided.at("answered"), 3);
  EXPECT_EQ(s.decided.at("quorum"), 3);
  const auto& votes = s.decided.at("votes").as_array();
  ASSERT_EQ(votes.size(), 2u);
  EXPECT_EQ(votes[0].at("vote"), "paris");
  EXPECT_EQ(votes[0].at("count"), 2);
  EXPECT_EQ(votes[0].at("participants").as_array().size(), 2u);
  json::object out = ConsensusOutput(s, ballots);
  EXPECT_EQ(out.at("method"), "majority");
  EXPECT_EQ(out.at("answers").as_array().size(), 3u);  // p3 did not answer
  EXPECT_EQ(out.at("answers").as_array()[0].at("participant"), "p0");
}

TEST(ConsensusTest, TooFewAnswersIsNoQuorum) {
  ConsensusStep c = Step("majority", 3);
  std::vector<Ballot> ballots = {Answer("p0", "x"), NoAnswer("p1", "rate_limited"),
                                 NoAnswer("p2", "timeout")};
  ConsensusState s = Decide(c, ballots);
  EXPECT_EQ(s.status.ErrorType(), "no_quorum");
  EXPECT_NE(s.status.message().find("1 of 3 participants answered, fewer than the quorum of 2"),
            std::string::npos)
      << s.status.message();
  EXPECT_NE(s.status.message().find("p1: rate_limited: boom"), std::string::npos);
  // An explicit quorum of 1 accepts the single answer.
  c.quorum = 1;
  s = Decide(c, ballots);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.decided.at("decision"), "x");
}

TEST(ConsensusTest, TiesFollowTieBreak) {
  std::vector<Ballot> ballots = {Answer("p0", "a"), Answer("p1", "b"), Answer("p2", "b"),
                                 Answer("p3", "a")};
  ConsensusState first = Decide(Step("majority", 4), ballots);
  ASSERT_TRUE(first.status.ok());
  EXPECT_EQ(first.decided.at("decision"), "a");
  EXPECT_EQ(first.decided.at("reason"),
            "tie between 2 answers with votes 2 each (p0, p1); tie broken by the first (p0)");

  ConsensusState fail = Decide(Step("majority", 4, "fail"), ballots);
  EXPECT_EQ(fail.status.ErrorType(), "no_consensus");

  ConsensusStep judged = Step("majority", 4, "judge", "j");
  ConsensusState ask = Decide(judged, ballots);
  ASSERT_TRUE(ask.status.ok());
  ASSERT_TRUE(ask.needs_judge());
  EXPECT_EQ(ask.judge_task, "choose");
  EXPECT_EQ(ask.candidates, (std::vector<int>{0, 1}));
  std::string prompt = JudgePrompt(ask, ballots, "Which letter?");
  EXPECT_NE(prompt.find("Question:\nWhich letter?"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("Answer 1:\na\n\nAnswer 2:\nb\n"), std::string::npos) << prompt;
  json::value schema = JudgeSchema(ask);
  EXPECT_EQ(schema.at("properties").at("choice").at("maximum"), 2);
  ConsensusState done = ApplyJudgement(judged, ballots, ask, J(R"({"choice": 2,
      "reason": "b is better"})"));
  ASSERT_TRUE(done.status.ok());
  ASSERT_TRUE(done.done());
  EXPECT_EQ(done.decided.at("decision"), "b");
  EXPECT_EQ(done.decided.at("winner"), "p1");
  EXPECT_NE(std::string(done.decided.at("reason").as_string()).find("judge 'j' chose p1: b is"),
            std::string::npos);
  EXPECT_EQ(done.decided.at("votes").as_array().size(), 2u);
}

TEST(ConsensusTest, WeightedSumsWeights) {
  std::vector<Ballot> ballots = {Answer("p0", "a", 1), Answer("p1", "b", 2.5),
                                 Answer("p2", "a", 1)};
  ConsensusState s = Decide(Step("weighted", 3), ballots);
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.decided.at("decision"), "b");
  EXPECT_EQ(s.decided.at("reason"), "'b' has weight 2.5 of 4.5");
  EXPECT_EQ(s.decided.at("votes").as_array()[0].at("weight"), 2.5);
  // Majority ignores the weights.
  ConsensusState m = Decide(Step("majority", 3), ballots);
  EXPECT_EQ(m.decided.at("decision"), "a");
}

TEST(ConsensusTest, JudgeChoosesAndItsReplyIsChecked) {
  ConsensusStep c = Step("judge", 3, "first", "j");
  std::vector<Ballot> ballots = {Answer("p0", "x"), NoAnswer("p1"), Answer("p2", "y")};
  ConsensusState ask = Decide(c, ballots);
  ASSERT_TRUE(ask.needs_judge());
  EXPECT_EQ(ask.candidates, (std::vector<int>{0, 2}));  // only the answers are numbered
  ConsensusState ok = ApplyJudgement(c, ballots, ask, J(R"({"choice": 2})"));
  ASSERT_TRUE(ok.status.ok());
  EXPECT_EQ(ok.decided.at("decision"), "y");
  EXPECT_EQ(ok.decided.at("choice"), 2);
  EXPECT_EQ(ok.decided.at("reason"), "judge 'j' chose answer 2 of 2 (p2)");
  for (const char* bad :
       {R"({"choice": 3})", R"({"choice": 0})", R"({"choice": 1.5})", R"({"pick": 1})", R"("1")"}) {
    ConsensusState s = ApplyJudgement(c, ballots, ask, J(bad));
    EXPECT_EQ(s.status.ErrorType(), "schema_validation") << bad;
    EXPECT_TRUE(s.done());
  }
  // A single answer needs no judge.
  std::vector<Ballot> one = {Answer("p0", "x"), NoAnswer("p1"), NoAnswer("p2")};
  c.quorum = 1;
  ConsensusState single = Decide(c, one);
  ASSERT_TRUE(single.done());
  EXPECT_EQ(single.decided.at("decision"), "x");
}

TEST(ConsensusTest, BestOfNTakesTheHighestScore) {
  ConsensusStep c = Step("best_of_n", 3, "first", "j");
  std::vector<Ballot> ballots = {Answer("p0", "x"), Answer("p1", "y"), Answer("p2", "z")};
  ConsensusState ask = Decide(c, ballots);
  ASSERT_EQ(ask.judge_task, "score");
  EXPECT_EQ(JudgeSchema(ask).at("properties").at("scores").at("minItems"), 3);
  ConsensusState s = ApplyJudgement(c, ballots, ask, J(R"({"scores": [3, 9, 7], "reason": "r"})"));
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.decided.at("decision"), "y");
  EXPECT_EQ(s.decided.at("scores").as_array()[1].at("score"), 9);
  EXPECT_EQ(s.decided.at("reason"), "judge 'j' scored p1 highest (9 of 10): r");
  EXPECT_EQ(ApplyJudgement(c, ballots, ask, J(R"({"scores": [1, 2]})")).status.ErrorType(),
            "schema_validation");

  // Ties: first, fail, or a second question to the judge among the tied answers.
  json::value tie = J(R"({"scores": [8, 5, 8]})");
  ConsensusState first = ApplyJudgement(c, ballots, ask, tie);
  EXPECT_EQ(first.decided.at("decision"), "x");
  c.tie_break = "fail";
  EXPECT_EQ(ApplyJudgement(c, ballots, ask, tie).status.ErrorType(), "no_consensus");
  c.tie_break = "judge";
  ConsensusState again = ApplyJudgement(c, ballots, ask, tie);
  ASSERT_TRUE(again.needs_judge());
  EXPECT_EQ(again.judge_task, "choose");
  EXPECT_EQ(again.candidates, (std::vector<int>{0, 2}));
  ConsensusState done = ApplyJudgement(c, ballots, again, J(R"({"choice": 2})"));
  EXPECT_EQ(done.decided.at("decision"), "z");
  EXPECT_EQ(done.decided.at("scores").as_array().size(), 3u);
}

TEST(ConsensusTest, EnsembleMergesThroughTheJudge) {
  ConsensusStep c = Step("ensemble", 2, "first", "j");
  std::vector<Ballot> ballots = {Answer("p0", "x"), Answer("p1", "y")};
  ConsensusState ask = Decide(c, ballots);
  ASSERT_EQ(ask.judge_task, "merge");
  EXPECT_TRUE(JudgeSchema(ask).is_null());
  EXPECT_NE(JudgePrompt(ask, ballots, "Q").find("Reply with the merged answer only."),
            std::string::npos);
  ConsensusState s = ApplyJudgement(c, ballots, ask, "x and y");
  ASSERT_TRUE(s.status.ok());
  EXPECT_EQ(s.decided.at("decision"), "x and y");
  EXPECT_FALSE(s.decided.contains("winner"));
  EXPECT_EQ(s.decided.at("reason"), "judge 'j' merged 2 answers");
}

// The decider side: the dispatch input, and an outcome's facts journaled before the success.
TEST(ConsensusTest, DeciderDispatchesRenderedInputAndJournalsTheOutcome) {
  auto wf = Load(std::string(kHead) + R"(
  - id: v
    for_each: [x, y]
    consensus:
      participants: [{ agent: a }, { model: m2 }]
      input: "Q about ${{ item }}"
      instructions: "Be brief about ${{ inputs.topic }}"
      judge: j
      vote: "${{ answer.label }} ${{ item }}"
outputs:
  d: ${{ steps.v.output[0].decision }}
)");
  RunState state(wf, "r1");
  Event started = RunStartedEvent(json::object{{"topic", "tides"}}, {}, "/tmp", false, 1000);
  state.Apply(started);
  Decision d;
  Decider::Advance(state, 1000, d);
  ASSERT_EQ(d.dispatch.size(), 2u);
  const Dispatch& x = d.dispatch[0];
  EXPECT_EQ(x.input.at("input"), "Q about x");
  EXPECT_EQ(x.input.at("instructions"), "Be brief about tides");
  EXPECT_EQ(x.input.at("systems").at("a"), "You are A for tides");
  EXPECT_EQ(x.input.at("systems").at("j"), "You judge");
  EXPECT_FALSE(x.input.at("systems").as_object().contains("c"));

  auto vote = ConsensusVote(state, 0, 1, J(R"({"label": " YES "})"));
  ASSERT_TRUE(vote.ok()) << vote.status().ToString();
  EXPECT_EQ(*vote, "yes y");
  EXPECT_FALSE(ConsensusVote(state, 0, 1, "not an object").ok());

  for (const Dispatch& disp : std::vector<Dispatch>(d.dispatch)) {
    StepOutcome o{disp.step, disp.item, disp.attempt, Status::Ok(), {}, {}};
    Event answered;
    answered.type = EventType::kParticipantAnswered;
    answered.step = "v";
    answered.item = disp.item;
    answered.attempt = disp.attempt;
    answered.data = json::object{{"participant", "a"}, {"answer", "yes"}, {"vote", "yes"}};
    Event decided = answered;
    decided.type = EventType::kConsensusDecided;
    decided.data = json::object{{"method", "majority"}, {"decision", "yes"}, {"reason", "r"}};
    o.facts = {answered, decided};
    o.output = json::object{{"decision", disp.item == 0 ? "first" : "second"}};
    Decision next;
    Decider::OnOutcome(state, std::move(o), 1001, next);
    ASSERT_GE(next.events.size(), 3u);
    EXPECT_EQ(next.events[0].type, EventType::kParticipantAnswered);
    EXPECT_EQ(next.events[1].type, EventType::kConsensusDecided);
    EXPECT_EQ(next.events[2].type, EventType::kStepSucceeded);
  }
  EXPECT_EQ(state.status(), RunStatus::kSucceeded);
  EXPECT_EQ(state.outputs().at("d"), "first");
}

}  // namespace
}  // namespace baton::core
