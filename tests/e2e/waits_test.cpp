// Approvals, events and triggers through the real `baton` binary on the SQLite journal: a run
// that ends up waiting exits 4 and is continued by another process (`baton approve`, `baton
// events send`), also after its process was killed with SIGKILL; registered triggers start runs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

// An approval beside a step that sleeps on its first attempt only (a marker file tells), so the
// run is still owned by its process while the approval is pending.
constexpr std::string_view kGateBesideSleeper = R"(baton: 1
name: gate-beside-sleeper
inputs:
  dir: { type: string }
tools:
  slow:
    exec:
      argv: [/bin/sh, -c, 'if [ -e "$1/marker" ]; then echo again; else touch "$1/marker"; echo $$ > "$1/pid"; exec sleep 30; fi', sh, "${{ with.dir }}"]
steps:
  - { id: work, call: slow, with: { dir: "${{ inputs.dir }}" }, needs: [] }
  - { id: gate, approval: "go?", needs: [] }
  - { id: done, set: { ok: "${{ steps.gate.output.approved }}" }, needs: [work, gate] }
outputs:
  work: ${{ steps.work.output }}
  ok: ${{ steps.done.output.ok }}
)";

class Waits : public JournalTest {
 protected:
  json::value Json(std::vector<std::string> args) {
    args.insert(args.end(), {"-o", "json"});
    Output o = Run(args);
    EXPECT_EQ(o.code, 0) << o.err;
    return MustParse(o.out, "json output");
  }
  std::string StatusOf(const std::string& id) {
    json::value runs = Json({"runs", "list", "--limit", "100"});
    if (!runs.is_array()) return "";
    for (const auto& r : runs.as_array()) {
      if (r.at("run_id") == json::value(id)) return std::string(r.at("status").as_string());
    }
    return "";
  }
  // Event types of a run's journal, e.g. "approval_given:gate".
  std::vector<std::string> Journal(const std::string& id) {
    Output o = Run({"runs", "events", id, "-o", "jsonl"});
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < o.out.size()) {
      size_t end = o.out.find('\n', pos);
      json::value e = MustParse(o.out.substr(pos, end - pos), "event line");
      pos = end == std::string::npos ? o.out.size() : end + 1;
      if (!e.is_object()) continue;
      std::string s(e.at("type").as_string());
      if (const auto* step = e.as_object().if_contains("step"); step && step->is_string()) {
        if (!step->as_string().empty()) s += ":" + std::string(step->as_string());
      }
      out.push_back(s);
    }
    return out;
  }
};

TEST_F(Waits, RunWaitsThenAnotherProcessApprovesIt) {
  Output first = Run({"run", "examples/approval.yaml"});
  ASSERT_EQ(first.code, 4) << first.err;
  std::string id = RunIdFromStderr(first.err);
  ASSERT_FALSE(id.empty()) << first.err;
  EXPECT_THAT(first.err, HasSubstr("is waiting"));
  EXPECT_THAT(first.err, HasSubstr("baton approve " + id + " review"));
  EXPECT_EQ(StatusOf(id), "waiting");

  json::value waiting = Json({"runs", "list", "--waiting"});
  ASSERT_TRUE(waiting.is_array());
  ASSERT_EQ(waiting.as_array().size(), 1u);
  const auto& row = waiting.as_array()[0];
  EXPECT_EQ(row.at("run_id"), json::value(id));
  EXPECT_EQ(row.at("step"), "review");
  EXPECT_EQ(row.at("kind"), "approval");
  EXPECT_EQ(row.at("prompt"), "Release app-2.0.0.tar.gz to production?");
  EXPECT_TRUE(row.as_object().contains("timeout_at"));
  Output text = Run({"runs", "list", "--waiting"});
  EXPECT_THAT(text.out, HasSubstr("approval: Release app-2.0.0.tar.gz"));

  // Not an approval step / an unknown run.
  EXPECT_EQ(Run({"approve", id, "notes"}).code, 1);
  EXPECT_EQ(Run({"approve", "rnope", "review"}).code, 6);

  Output approved =
      Run({"approve", id, "review", "--comment", "ship it", "--by", "ana", "-o", "json"});
  ASSERT_EQ(approved.code, 0) << approved.err;
  json::value summary = MustParse(approved.out, "approve -o json");
  ASSERT_TRUE(summary.is_object());
  EXPECT_EQ(summary.at("status"), "succeeded");
  EXPECT_EQ(summary.at("outputs").at("approved"), true);
  EXPECT_EQ(summary.at("outputs").at("comment"), "ship it");
  EXPECT_EQ(summary.at("steps").at("release").at("status"), "succeeded");
  EXPECT_EQ(StatusOf(id), "succeeded");
  std::vector<std::string> journal = Journal(id);
  EXPECT_EQ(std::count(journal.begin(), journal.end(), "approval_given:review"), 1);
  EXPECT_EQ(std::count(journal.begin(), journal.end(), "step_started:notes"), 1);  // not re-run
  EXPECT_TRUE(Json({"runs", "list", "--waiting"}).as_array().empty());
  // Decided once: a second decision finds nothing to decide.
  EXPECT_EQ(Run({"approve", id, "review"}).code, 1);
}

TEST_F(Waits, RejectionIsCaughtByTheWorkflow) {
  Output first = Run({"run", "examples/approval.yaml"});
  ASSERT_EQ(first.code, 4) << first.err;
  std::string id = RunIdFromStderr(first.err);
  Output rejected =
      Run({"approve", id, "review", "--reject", "--comment", "not today", "-o", "json"});
  ASSERT_EQ(rejected.code, 0) << rejected.err;  // caught: the run still succeeds
  json::value summary = MustParse(rejected.out, "approve --reject -o json");
  EXPECT_EQ(summary.at("outputs").at("approved"), false);
  EXPECT_THAT(std::string(summary.at("outputs").at("comment").as_string()),
              HasSubstr("rejected: not today"));
  EXPECT_EQ(summary.at("steps").at("release").at("status"), "skipped");
}

TEST_F(Waits, KilledWhileWaitingThenApprovedElsewhere) {
  fs::path wf = tmp_.Write("gate.yaml", kGateBesideSleeper);
  Child c = Start({"run", wf.string(), "-i", "dir=" + tmp_.path().string(), "--store", Store()},
                  tmp_.path());
  // The approval is journaled and the sleeper runs: the process owns the run.
  ASSERT_TRUE(PollUntil([&] { return !ReadFile(tmp_ / "pid").empty(); })) << c.Err();
  std::string id = RunIdFromStderr(c.Err());
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(PollUntil([&] { return c.Err().find("waits for approval") != std::string::npos; }))
      << c.Err();
  ASSERT_EQ(kill(c.pid, SIGKILL), 0);
  EXPECT_EQ(Wait(c), 128 + SIGKILL);
  kill(static_cast<pid_t>(std::stol(ReadFile(tmp_ / "pid"))), SIGKILL);  // the orphaned sleeper
  EXPECT_EQ(StatusOf(id), "interrupted");

  // The approver claims the dead process's run and continues it: the interrupted step runs
  // again (quickly now), the approval is applied once.
  Output approved = Run({"approve", id, "gate", "-o", "json"});
  ASSERT_EQ(approved.code, 0) << approved.err;
  json::value summary = MustParse(approved.out, "approve -o json");
  EXPECT_EQ(summary.at("status"), "succeeded");
  EXPECT_EQ(summary.at("outputs").at("ok"), true);
  EXPECT_THAT(std::string(summary.at("outputs").at("work").as_string()), HasSubstr("again"));
  std::vector<std::string> journal = Journal(id);
  EXPECT_EQ(std::count(journal.begin(), journal.end(), "approval_requested:gate"), 1);
  EXPECT_EQ(std::count(journal.begin(), journal.end(), "approval_given:gate"), 1);
}

TEST_F(Waits, ApprovalForALiveProcessIsPickedUpFromItsInbox) {
  fs::path wf = tmp_.Write("gate.yaml", kGateBesideSleeper);
  Child c = Start({"run", wf.string(), "-i", "dir=" + tmp_.path().string(), "--store", Store()},
                  tmp_.path());
  ASSERT_TRUE(PollUntil([&] { return c.Err().find("waits for approval") != std::string::npos; }))
      << c.Err();
  std::string id = RunIdFromStderr(c.Err());
  Output approved = Run({"approve", id, "gate"});
  EXPECT_EQ(approved.code, 0) << approved.err;
  EXPECT_THAT(approved.err, HasSubstr("continues run"));
  // The owner applies it while its other step still sleeps; then the sleeper is stopped and
  // the run fails there, with the approval recorded.
  ASSERT_TRUE(PollUntil([&] {
    std::vector<std::string> j = Journal(id);
    return std::count(j.begin(), j.end(), "approval_given:gate") == 1;
  }));
  ASSERT_EQ(kill(c.pid, SIGTERM), 0);
  EXPECT_EQ(Wait(c), 130) << c.Err();
  kill(static_cast<pid_t>(std::stol(ReadFile(tmp_ / "pid"))), SIGKILL);
}

TEST_F(Waits, EventSentFromAnotherProcessContinuesTheRun) {
  Output first = Run({"run", "examples/events.yaml", "-i", "order=7"});
  ASSERT_EQ(first.code, 4) << first.err;
  std::string id = RunIdFromStderr(first.err);
  EXPECT_THAT(first.err, HasSubstr("baton events send order.paid"));
  json::value waiting = Json({"runs", "list", "--waiting"});
  ASSERT_EQ(waiting.as_array().size(), 1u);
  EXPECT_EQ(waiting.as_array()[0].at("event"), "order.paid");

  // Another order's payment does not match: the run, continued to look at it, waits again.
  Output other = Run({"events", "send", "order.paid", "--data", R"({"order": 8, "amount": 5})"});
  EXPECT_EQ(other.code, 0) << other.err;
  EXPECT_THAT(other.out, HasSubstr(id + " (continued: event order.paid arrived): waiting"));
  EXPECT_EQ(StatusOf(id), "waiting");
  fs::path data = tmp_.Write("paid.json", R"({"order": 7, "amount": 30})");
  Output sent = Run({"events", "send", "order.paid", "--data", "@" + data.string(), "-o", "json"});
  ASSERT_EQ(sent.code, 0) << sent.err;
  json::value rows = MustParse(sent.out, "events send -o json");
  ASSERT_TRUE(rows.is_array());
  ASSERT_EQ(rows.as_array().size(), 1u);
  EXPECT_EQ(rows.as_array()[0].at("run_id"), json::value(id));
  EXPECT_EQ(rows.as_array()[0].at("status"), "succeeded");
  EXPECT_EQ(rows.as_array()[0].at("outputs").at("paid"), 30);
  EXPECT_EQ(StatusOf(id), "succeeded");

  json::value events = Json({"events", "list"});
  ASSERT_EQ(events.as_array().size(), 3u);  // two sent, one emitted by the run
  EXPECT_EQ(events.as_array()[2].at("event"), "order.created");
  EXPECT_EQ(events.as_array()[2].at("source_run"), json::value(id));
}

TEST_F(Waits, RegisteredTriggersStartRunsForMatchingEvents) {
  Output added = Run({"triggers", "add", "examples/triggered.yaml"});
  ASSERT_EQ(added.code, 0) << added.err;
  EXPECT_THAT(added.out, HasSubstr("big-order starts on event order.paid"));
  json::value triggers = Json({"triggers", "list"});
  ASSERT_EQ(triggers.as_array().size(), 1u);
  EXPECT_EQ(triggers.as_array()[0].at("workflow"), "big-order");

  Output small = Run({"events", "send", "order.paid", "--data", R"({"order": 1, "amount": 5})"});
  EXPECT_EQ(small.code, 0) << small.err;
  EXPECT_EQ(small.out, "");  // the match refused it: nothing ran
  Output big = Run(
      {"events", "send", "order.paid", "--data", R"({"order": 2, "amount": 250})", "-o", "json"});
  ASSERT_EQ(big.code, 0) << big.err;
  json::value rows = MustParse(big.out, "events send -o json");
  ASSERT_EQ(rows.as_array().size(), 1u);
  EXPECT_EQ(rows.as_array()[0].at("status"), "succeeded");
  EXPECT_EQ(rows.as_array()[0].at("outputs").at("note"), "order 2: thank you for 250");
  EXPECT_THAT(std::string(rows.as_array()[0].at("why").as_string()),
              HasSubstr("triggered by event order.paid"));

  // An emit step of another run triggers it too.
  fs::path emitter = tmp_.Write("emitter.yaml", R"(baton: 1
name: emitter
steps:
  - { id: pay, emit: { event: order.paid, data: { order: 3, amount: 300 } } }
)");
  Output emitted = Run({"run", emitter.string()});
  ASSERT_EQ(emitted.code, 0) << emitted.err;
  EXPECT_THAT(emitted.err, HasSubstr("(triggered by event order.paid"));
  json::value runs = Json({"runs", "list", "--workflow", "big-order"});
  EXPECT_EQ(runs.as_array().size(), 2u);

  Output removed = Run({"triggers", "remove", "big-order"});
  EXPECT_EQ(removed.code, 0) << removed.err;
  EXPECT_EQ(Run({"triggers", "remove", "big-order"}).code, 6);
  Run({"events", "send", "order.paid", "--data", R"({"order": 4, "amount": 999})"});
  EXPECT_EQ(Json({"runs", "list", "--workflow", "big-order"}).as_array().size(), 2u);
  EXPECT_EQ(Run({"triggers", "add", "examples/approval.yaml"}).code, 5);  // no `on:`
}

TEST_F(Waits, TimeoutOfAWaitingRunFiresWhenItIsContinued) {
  fs::path wf = tmp_.Write("timeout.yaml", R"(baton: 1
name: timeout
steps:
  - { id: gate, approval: { prompt: "ok?", timeout: 1s, on_timeout: approve } }
)");
  Output first = Run({"run", wf.string()});
  ASSERT_EQ(first.code, 4) << first.err;
  std::string id = RunIdFromStderr(first.err);
  // Resuming before the deadline finds nothing to do and leaves it waiting again; after it,
  // the timeout decides.
  ASSERT_TRUE(PollUntil([&] { return Run({"runs", "resume", id}).code == 0; }));
  EXPECT_EQ(StatusOf(id), "succeeded");
  std::vector<std::string> journal = Journal(id);
  EXPECT_EQ(std::count(journal.begin(), journal.end(), "approval_given:gate"), 1);
}

}  // namespace
}  // namespace baton::e2e
