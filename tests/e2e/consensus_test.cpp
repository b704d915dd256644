// `consensus:` through the real `baton` binary on the SQLite journal: the example (majority and
// judge), the recorded participant answers and decisions, a quorum failure, and a run killed
// (SIGKILL) while the participants are being asked, then resumed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

class Consensus : public JournalTest {
 protected:
  static int Count(const std::vector<json::object>& events, std::string_view type,
                   std::string_view step = "") {
    int n = 0;
    for (const auto& e : events) {
      if (e.at("type") != json::value(type)) continue;
      if (!step.empty() && e.at("step") != json::value(step)) continue;
      ++n;
    }
    return n;
  }
};

TEST_F(Consensus, ExampleDecidesByMajorityAndByJudge) {
  Output o = Run({"run", "examples/consensus.yaml", "-o", "json"});
  ASSERT_EQ(o.code, 0) << o.err;
  json::value s = MustParse(o.out, "summary");
  ASSERT_TRUE(s.is_object());
  const auto& outputs = s.at("outputs");
  EXPECT_EQ(outputs.at("capital"), "Paris");
  EXPECT_EQ(outputs.at("votes").as_array()[0].at("vote"), "paris");
  EXPECT_EQ(outputs.at("votes").as_array()[0].at("count"), 2);
  EXPECT_EQ(outputs.at("headline"), "Moon tugs, seas rise");
  EXPECT_EQ(outputs.at("why"),
            "judge 'editor' chose answer 2 of 2 (quick): shorter and more vivid");

  std::string id = RunIdFromStderr(o.err);
  ASSERT_FALSE(id.empty()) << o.err;
  std::vector<json::object> events = Events(id);
  EXPECT_EQ(Count(events, "participant_answered", "capital"), 3);
  EXPECT_EQ(Count(events, "participant_answered", "headline"), 2);
  EXPECT_EQ(Count(events, "consensus_decided"), 2);
  EXPECT_EQ(Count(events, "model_called", "headline"), 3);  // two models and the judge
  for (const auto& e : events) {
    if (e.at("type") != "consensus_decided" || e.at("step") != "capital") continue;
    EXPECT_EQ(e.at("data").at("method"), "majority");
    EXPECT_EQ(e.at("data").at("winner"), "geographer");
    EXPECT_EQ(e.at("data").at("reason"), "'paris' has 2 of 3 votes");
  }

  Output text = Run({"runs", "events", id});
  EXPECT_THAT(text.out, HasSubstr("capital: historian answered"));
  EXPECT_THAT(text.out, HasSubstr("headline: decided by judge"));
}

TEST_F(Consensus, TooFewAnswersFailTheRunWithNoQuorum) {
  fs::path wf = tmp_.Write("quorum.yaml", R"(baton: 1
name: quorum
models:
  up: { provider: sim, model: sim-small, sim: { replies: ["yes"] } }
  down: { provider: sim, model: sim-small, sim: { replies: [{ error: overloaded }] } }
steps:
  - id: ask
    consensus: { models: [up, down, down], input: "Ready?" }
)");
  Output o = Run({"run", wf.string(), "-o", "json"});
  EXPECT_EQ(o.code, 3) << o.err;
  json::value s = MustParse(o.out, "summary");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.at("status"), "failed");
  EXPECT_EQ(s.at("error").at("type"), "no_quorum");
  EXPECT_THAT(std::string(s.at("error").at("message").as_string()),
              HasSubstr("1 of 3 participants answered, fewer than the quorum of 2"));
  std::vector<json::object> events = Events(RunIdFromStderr(o.err));
  EXPECT_EQ(Count(events, "participant_answered"), 3);
  EXPECT_EQ(Count(events, "consensus_decided"), 0);
}

TEST_F(Consensus, KilledMidStepResumesAndAsksEveryoneOnce) {
  // `slow` answers after 3 s, so the process is killed while the participants are being asked.
  fs::path wf = tmp_.Write("slow.yaml", R"(baton: 1
name: slow-consensus
models:
  fast: { provider: sim, model: sim-small, sim: { replies: ["Blue"] } }
  slow: { provider: sim, model: sim-small, sim: { latency: 3s, replies: ["blue."] } }
steps:
  - { id: warmup, set: { ok: true } }
  - id: colour
    consensus: { models: [fast, slow, fast], input: "Sky colour?" }
outputs:
  colour: ${{ steps.colour.output.decision }}
)");
  Child c = Start({"run", wf.string(), "--store", Store()}, tmp_.path());
  std::string id;
  ASSERT_TRUE(PollUntil([&] {
    id = RunIdFromStderr(c.Err());
    if (id.empty()) return false;
    return Count(Events(id), "step_started", "colour") == 1;
  })) << c.Err();
  kill(c.pid, SIGKILL);
  ASSERT_EQ(Wait(c), 128 + SIGKILL);
  std::vector<json::object> before = Events(id);
  // The kill landed before the step's outcome was journaled (3 s of latency).
  ASSERT_EQ(Count(before, "step_succeeded", "colour"), 0);
  EXPECT_EQ(Count(before, "participant_answered"), 0);

  Output resumed = Run({"runs", "resume", id, "-o", "json"});
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  json::value s = MustParse(resumed.out, "summary");
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.at("status"), "succeeded");
  EXPECT_EQ(s.at("outputs").at("colour"), "Blue");
  std::vector<json::object> after = Events(id);
  EXPECT_EQ(Count(after, "participant_answered", "colour"), 3);
  EXPECT_EQ(Count(after, "consensus_decided", "colour"), 1);
  EXPECT_EQ(Count(after, "step_started", "colour"), 2);
  EXPECT_EQ(Count(after, "step_succeeded", "warmup"), 1);  // not run again
}

}  // namespace
}  // namespace baton::e2e
