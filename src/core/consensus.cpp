#include "core/consensus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "base/text.hpp"
#include "core/decider_internal.hpp"
#include "core/step_env.hpp"

namespace baton::core {
namespace {

constexpr double kEpsilon = 1e-9;

std::string AsText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return ToJson(v);
}

std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  if (s.size() <= kMax) return fmt::format("'{}'", s);
  return fmt::format("'{}…'", s.substr(0, kMax));
}

std::string FormatScore(double x) {
  if (std::abs(x - std::round(x)) < kEpsilon) return fmt::format("{}", static_cast<int64_t>(x));
  return fmt::format("{:.3g}", x);
}

int Answered(const std::vector<Ballot>& ballots) {
  return static_cast<int>(
      std::count_if(ballots.begin(), ballots.end(), [](const Ballot& b) { return b.answered; }));
}

Status NoConsensus(std::string message) {
  return Status(Code::kFailedPrecondition, std::move(message), "no_consensus");
}

// Votes with their scores (count, or sum of weights), best first; equal scores keep the order
// of their first ballot.
struct Count {
  std::string vote;
  double score = 0;
  std::vector<int> ballots;
};

std::vector<Count> CountVotes(const std::vector<Ballot>& ballots, bool weighted) {
  std::vector<Count> counts;
  std::map<std::string, size_t, std::less<>> index;
  for (size_t k = 0; k < ballots.size(); ++k) {
    const Ballot& b = ballots[k];
    if (!b.answered) continue;
    auto [it, inserted] = index.emplace(b.vote, counts.size());
    if (inserted) counts.push_back({b.vote, 0, {}});
    Count& c = counts[it->second];
    c.score += weighted ? b.weight : 1.0;
    c.ballots.push_back(static_cast<int>(k));
  }
  std::stable_sort(counts.begin(), counts.end(),
                   [](const Count& a, const Count& b) { return a.score > b.score + kEpsilon; });
  return counts;
}

// Records the decision for ballot `winner` (-1: `decision` is given, e.g. a merged answer).
void Finish(ConsensusState& s, const std::vector<Ballot>& ballots, int winner, json::value decision,
            std::string reason) {
  if (winner >= 0) {
    const Ballot& b = ballots[static_cast<size_t>(winner)];
    s.decided["decision"] = b.answer;
    s.decided["winner"] = b.participant;
  } else {
    s.decided["decision"] = std::move(decision);
  }
  s.decided["reason"] = std::move(reason);
  if (!s.votes.empty()) s.decided[s.votes_key] = s.votes;
  s.judge_task.clear();
  s.candidates.clear();
}

std::string Labels(const std::vector<Ballot>& ballots, const std::vector<int>& which) {
  std::string out;
  for (int k : which) {
    if (!out.empty()) out += ", ";
    out += ballots[static_cast<size_t>(k)].participant;
  }
  return out;
}

// A tie among `tied` (ballot indices, one per tied answer, in participant order): broken per
// tie_break. `what` describes the tie for the reason.
void BreakTie(const ConsensusStep& c, ConsensusState& s, const std::vector<Ballot>& ballots,
              std::vector<int> tied, const std::string& what) {
  if (c.tie_break == "fail") {
    s.status = NoConsensus(fmt::format("{} (tie_break: fail)", what));
    s.judge_task.clear();
    return;
  }
  if (c.tie_break == "judge" && !c.judge.empty()) {
    s.judge_task = "choose";
    s.candidates = std::move(tied);
    s.tie_reason = what;
    return;
  }
  int first = *std::min_element(tied.begin(), tied.end());
  Finish(s, ballots, first, nullptr,
         fmt::format("{}; tie broken by the first ({})", what,
                     ballots[static_cast<size_t>(first)].participant));
}

}  // namespace

std::vector<std::string> ParticipantLabels(const ConsensusStep& c) {
  std::vector<std::string> labels;
  std::map<std::string, int, std::less<>> seen;
  for (const auto& p : c.participants) {
    std::string name = p.agent.empty() ? p.model : p.agent;
    int n = ++seen[name];
    labels.push_back(n == 1 ? name : fmt::format("{}#{}", name, n));
  }
  return labels;
}

int QuorumOf(const ConsensusStep& c) {
  if (c.quorum > 0) return c.quorum;
  return static_cast<int>(c.participants.size()) / 2 + 1;
}

Result<json::object> RenderConsensusInput(const RunState& state, int i, int32_t item) {
  const Workflow& wf = state.workflow();
  const Step& step = wf.steps[static_cast<size_t>(i)];
  const auto& c = std::get<ConsensusStep>(step.kind);
  internal::ItemLocals l = internal::LocalsFor(state, i, item);
  StepEnv env = internal::EnvFor(state, i, l);
  json::object in;
  BATON_ASSIGN_OR_RETURN(in["input"], internal::RenderOpt(c.input, env));
  BATON_ASSIGN_OR_RETURN(json::value instructions, internal::RenderOpt(c.instructions, env));
  if (!instructions.is_null()) in["instructions"] = std::move(instructions);
  json::object systems;
  auto add = [&](const std::string& name) -> Status {
    if (name.empty() || systems.contains(name)) return Status::Ok();
    auto agent = wf.agents.find(name);
    if (agent == wf.agents.end()) return Status::Ok();
    BATON_ASSIGN_OR_RETURN(json::value sys, internal::RenderOpt(agent->second.instructions, env));
    if (!sys.is_null()) systems[name] = std::move(sys);
    return Status::Ok();
  };
  for (const auto& p : c.participants) BATON_RETURN_IF_ERROR(add(p.agent));
  BATON_RETURN_IF_ERROR(add(c.judge));
  in["systems"] = std::move(systems);
  return in;
}

std::string NormalizeVote(const json::value& v) {
  if (!v.is_string()) return CanonicalJson(v);
  std::string out;
  bool space = false;
  for (char ch : v.get_string()) {
    if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
  }
  if (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

Result<std::string> ConsensusVote(const RunState& state, int i, int32_t item,
                                  const json::value& answer) {
  const Step& step = state.workflow().steps[static_cast<size_t>(i)];
  const auto& c = std::get<ConsensusStep>(step.kind);
  if (!c.vote) return NormalizeVote(answer);
  internal::ItemLocals l = internal::LocalsFor(state, i, item);
  StepEnv env = internal::EnvFor(state, i, l);
  env.WithLocal("answer", &answer);
  auto v = c.vote->Render(env);
  if (!v.ok()) return v.error().WithContext("vote");
  return NormalizeVote(*v);
}

ConsensusState Decide(const ConsensusStep& c, const std::vector<Ballot>& ballots) {
  ConsensusState s;
  int answered = Answered(ballots);
  int quorum = QuorumOf(c);
  s.decided["method"] = c.method;
  s.decided["answered"] = answered;
  s.decided["quorum"] = quorum;
  if (answered < quorum) {
    std::string why;
    for (const Ballot& b : ballots) {
      if (b.answered) continue;
      const auto* type = b.error.if_contains("type");
      const auto* msg = b.error.if_contains("message");
      why += fmt::format("; {}: {}: {}", b.participant, type ? AsText(*type) : "error",
                         msg ? AsText(*msg) : "");
    }
    s.status = Status(Code::kFailedPrecondition,
                      fmt::format("{} of {} participants answered, fewer than the quorum of {}{}",
                                  answered, ballots.size(), quorum, why),
                      "no_quorum");
    return s;
  }
  std::vector<int> all;
  for (size_t k = 0; k < ballots.size(); ++k) {
    if (ballots[k].answered) all.push_back(static_cast<int>(k));
  }
  if (c.method == "majority" || c.method == "weighted") {
    bool weighted = c.method == "weighted";
    std::vector<Count> counts = CountVotes(ballots, weighted);
    s.votes_key = "votes";
    for (const Count& n : counts) {
      json::array who;
      for (int k : n.ballots) who.emplace_back(ballots[static_cast<size_t>(k)].participant);
      json::object entry{{"vote", n.vote}, {"participants", std::move(who)}};
      if (weighted) {
        entry["weight"] = n.score;
      } else {
        entry["count"] = static_cast<int64_t>(n.score);
      }
      s.votes.emplace_back(std::move(entry));
    }
    const Count& top = counts.front();
    std::vector<int> tied;
    for (const Count& n : counts) {
      if (std::abs(n.score - top.score) < kEpsilon) tied.push_back(n.ballots.front());
    }
    std::string unit = weighted ? "weight" : "votes";
    if (tied.size() == 1) {
      double total = 0;
      for (const Count& n : counts) total += n.score;
      std::string reason = weighted ? fmt::format("{} has weight {} of {}", Quote(top.vote),
                                                  FormatScore(top.score), FormatScore(total))
                                    : fmt::format("{} has {} of {} votes", Quote(top.vote),
                                                  FormatScore(top.score), FormatScore(total));
      Finish(s, ballots, top.ballots.front(), nullptr, std::move(reason));
      return s;
    }
    BreakTie(c, s, ballots, tied,
             fmt::format("tie between {} answers with {} {} each ({})", tied.size(), unit,
                         FormatScore(top.score), Labels(ballots, tied)));
    return s;
  }
  if (all.size() == 1) {
    Finish(s, ballots, all.front(), nullptr, "only one participant answered");
    return s;
  }
  s.candidates = all;
  if (c.method == "judge") {
    s.judge_task = "choose";
  } else if (c.method == "best_of_n") {
    s.judge_task = "score";
  } else {
    s.judge_task = "merge";
  }
  return s;
}

std::string JudgePrompt(const ConsensusState& s, const std::vector<Ballot>& ballots,
                        const json::value& input) {
  std::string out;
  if (s.judge_task == "merge") {
    out =
        "Several participants answered the same question. Merge their answers into one answer "
        "that keeps what they agree on and settles what they disagree on.\n";
  } else if (s.judge_task == "score") {
    out =
        "Several participants answered the same question. Score each answer from 0 (useless) "
        "to 10 (perfect).\n";
  } else {
    out = "Several participants answered the same question. Choose the best answer.\n";
  }
  out += "\nQuestion:\n" + AsText(input) + "\n";
  for (size_t n = 0; n < s.candidates.size(); ++n) {
    const Ballot& b = ballots[static_cast<size_t>(s.candidates[n])];
    out += fmt::format("\nAnswer {}:\n{}\n", n + 1, AsText(b.answer));
  }
  if (s.judge_task == "merge") {
    out += "\nReply with the merged answer only.";
  } else if (s.judge_task == "score") {
    out += fmt::format(
        "\nReply with JSON: {{\"scores\": [the score of answer 1, ..., of answer {}], "
        "\"reason\": \"why\"}}.",
        s.candidates.size());
  } else {
    out += fmt::format(
        "\nReply with JSON: {{\"choice\": the number of the best answer (1 to {}), "
        "\"reason\": \"why\"}}.",
        s.candidates.size());
  }
  return out;
}

json::value JudgeSchema(const ConsensusState& s) {
  auto n = static_cast<int64_t>(s.candidates.size());
  if (s.judge_task == "choose") {
    return json::object{
        {"type", "object"},
        {"properties",
         json::object{{"choice", json::object{{"type", "integer"}, {"minimum", 1}, {"maximum", n}}},
                      {"reason", json::object{{"type", "string"}}}}},
        {"required", json::array{"choice", "reason"}},
        {"additionalProperties", false}};
  }
  if (s.judge_task == "score") {
    return json::object{
        {"type", "object"},
        {"properties",
         json::object{{"scores", json::object{{"type", "array"},
                                              {"items", json::object{{"type", "number"},
                                                                     {"minimum", 0},
                                                                     {"maximum", 10}}},
                                              {"minItems", n},
                                              {"maxItems", n}}},
                      {"reason", json::object{{"type", "string"}}}}},
        {"required", json::array{"scores", "reason"}},
        {"additionalProperties", false}};
  }
  return nullptr;
}

ConsensusState ApplyJudgement(const ConsensusStep& c, const std::vector<Ballot>& ballots,
                              ConsensusState s, const json::value& reply) {
  auto invalid = [&](std::string why) {
    s.status = Status(
        Code::kInvalidArgument,
        fmt::format("judge '{}': {} (reply: {})", c.judge, why, Utf8Prefix(AsText(reply), 200)),
        "schema_validation");
    s.judge_task.clear();
    return s;
  };
  const json::object* obj = reply.if_object();
  std::string why;
  if (obj) {
    if (const auto* r = obj->if_contains("reason");
        r && r->is_string() && !r->get_string().empty()) {
      why = fmt::format(": {}", std::string_view(r->get_string()));
    }
  }
  size_t n = s.candidates.size();
  if (s.judge_task == "merge") {
    Finish(s, ballots, -1, reply, fmt::format("judge '{}' merged {} answers", c.judge, n));
    return s;
  }
  if (s.judge_task == "choose") {
    const json::value* choice = obj ? obj->if_contains("choice") : nullptr;
    if (!choice || !choice->is_number()) return invalid("expected {\"choice\": N}");
    double x = choice->to_number<double>();
    if (x != std::floor(x) || x < 1 || x > static_cast<double>(n)) {
      return invalid(fmt::format("choice must be a whole number from 1 to {}", n));
    }
    auto k = static_cast<size_t>(x);
    int winner = s.candidates[k - 1];
    s.decided["choice"] = static_cast<int64_t>(k);
    std::string reason = s.tie_reason.empty()
                             ? fmt::format("judge '{}' chose answer {} of {} ({}){}", c.judge, k, n,
                                           ballots[static_cast<size_t>(winner)].participant, why)
                             : fmt::format("{}; judge '{}' chose {}{}", s.tie_reason, c.judge,
                                           ballots[static_cast<size_t>(winner)].participant, why);
    Finish(s, ballots, winner, nullptr, std::move(reason));
    return s;
  }
  // score
  const json::value* scores = obj ? obj->if_contains("scores") : nullptr;
  if (!scores || !scores->is_array() || scores->get_array().size() != n) {
    return invalid(fmt::format("expected {{\"scores\": [...]}} with {} numbers", n));
  }
  std::vector<double> values;
  for (const auto& v : scores->get_array()) {
    if (!v.is_number()) return invalid("every score must be a number");
    values.push_back(v.to_number<double>());
  }
  s.votes_key = "scores";
  s.votes.clear();
  double best = *std::max_element(values.begin(), values.end());
  std::vector<int> tied;
  for (size_t k = 0; k < n; ++k) {
    int b = s.candidates[k];
    s.votes.emplace_back(json::object{{"participant", ballots[static_cast<size_t>(b)].participant},
                                      {"score", scores->get_array()[k]}});
    if (std::abs(values[k] - best) < kEpsilon) tied.push_back(b);
  }
  if (tied.size() == 1) {
    Finish(s, ballots, tied.front(), nullptr,
           fmt::format("judge '{}' scored {} highest ({} of 10){}", c.judge,
                       ballots[static_cast<size_t>(tied.front())].participant, FormatScore(best),
                       why));
    return s;
  }
  s.judge_task.clear();
  s.candidates.clear();
  std::string what = fmt::format("tie between {} answers scored {} by judge '{}' ({})", tied.size(),
                                 FormatScore(best), c.judge, Labels(ballots, tied));
  BreakTie(c, s, ballots, std::move(tied), what);
  return s;
}

json::object ConsensusOutput(const ConsensusState& s, const std::vector<Ballot>& ballots) {
  json::object out;
  for (const char* key : {"decision", "method", "reason", "winner", "choice", "votes", "scores"}) {
    if (const auto* v = s.decided.if_contains(key)) out[key] = *v;
  }
  json::array answers;
  for (const Ballot& b : ballots) {
    if (!b.answered) continue;
    answers.emplace_back(json::object{{"participant", b.participant}, {"answer", b.answer}});
  }
  out["answers"] = std::move(answers);
  return out;
}

}  // namespace baton::core
