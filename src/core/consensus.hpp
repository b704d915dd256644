#pragma once

// `consensus:` decisions, without I/O: what a consensus instance is dispatched with, how an
// answer becomes a vote, how votes are counted, what the judge is asked and how its reply is
// read. The runtime (runtime/consensus_runner.hpp) makes the model calls and feeds the answers
// here; everything here is deterministic, so the same answers always give the same decision.
// Functions taking a RunState run on the run's strand.

#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"
#include "core/run_state.hpp"
#include "core/workflow.hpp"

namespace baton::core {

// How participants are named in events and outputs: the agent or model name; a name listed
// more than once is "name#2", "name#3", ... from its second appearance.
std::vector<std::string> ParticipantLabels(const ConsensusStep& c);

// Answers needed for a decision: `quorum`, or more than half of the participants.
int QuorumOf(const ConsensusStep& c);

// The dispatch input of instance `item` of consensus step `i`: {input, instructions?, systems:
// {agent: rendered instructions}} for every agent participant and the judge.
Result<json::object> RenderConsensusInput(const RunState& state, int i, int32_t item);

// Normalises a vote: a string is trimmed, its whitespace runs become one space, ASCII letters
// are lower-cased and one trailing '.' is dropped; any other value is its canonical JSON.
std::string NormalizeVote(const json::value& v);

// The vote of `answer` for step `i`: `vote:` evaluated with `answer` bound (and the instance's
// for_each item), or the answer itself; normalised. Fails when the expression fails.
Result<std::string> ConsensusVote(const RunState& state, int i, int32_t item,
                                  const json::value& answer);

// One participant's contribution.
struct Ballot {
  std::string participant;  // label
  double weight = 1.0;
  bool answered = false;
  json::value answer;  // answered: the reply (text, or structured with an output_schema)
  std::string vote;    // answered: normalised vote
  json::object error;  // not answered: {type, message}
};

// Where a decision stands. Either finished (status not ok, or `decided` set), or waiting for
// the judge: `judge_task` is set and `candidates` lists the ballots (indices, answered) put
// before it, numbered from 1 in this order.
struct ConsensusState {
  Status status;
  json::object decided;    // consensus_decided data: {method, decision, reason, winner?, votes?,
                           // scores?, answered, quorum}
  std::string judge_task;  // "" | choose | score | merge
  std::vector<int> candidates;
  std::string tie_reason;  // choose: why the judge is asked (a tie) or "" (method judge)
  json::array votes;       // counted votes / scores kept for the final record
  std::string votes_key;   // "votes" | "scores"

  bool needs_judge() const { return !judge_task.empty(); }
  bool done() const { return !needs_judge(); }
};

// Counts the ballots and decides, or says what to ask the judge.
ConsensusState Decide(const ConsensusStep& c, const std::vector<Ballot>& ballots);

// What the judge is asked: the user message for `s` (its task and candidates) about `input`.
std::string JudgePrompt(const ConsensusState& s, const std::vector<Ballot>& ballots,
                        const json::value& input);

// The output_schema of the judge's reply for `s`: choose {choice, reason}, score {scores,
// reason}; null for merge (the judge agent's own output_schema applies, if any).
json::value JudgeSchema(const ConsensusState& s);

// Reads the judge's reply to `s` (validated against JudgeSchema already, checked again here)
// and continues: a decision, an error, or (best_of_n with a tie and tie_break: judge) another
// question for the judge.
ConsensusState ApplyJudgement(const ConsensusStep& c, const std::vector<Ballot>& ballots,
                              ConsensusState s, const json::value& reply);

// The step's output: {decision, method, reason, winner?, votes? | scores?, answers:
// [{participant, answer}]} (answers of those who answered, in participant order).
json::object ConsensusOutput(const ConsensusState& s, const std::vector<Ballot>& ballots);

}  // namespace baton::core
