// Sagas (`compensate:`) through the real binary on a SQLite journal: examples/saga.yaml ends
// `compensated` (hotel cancelled before flight, exit 3), a compensation that keeps failing is
// retried and the run ends `compensation_failed`, and a process killed (SIGKILL) in the middle
// of the compensation resumes it without undoing anything twice.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <sstream>

#include "baton_process.hpp"

namespace baton::e2e {
namespace {

using ::testing::HasSubstr;

class Saga : public JournalTest {
 protected:
  // The steps of the step_started events, in journal order.
  static std::vector<std::string> Started(const std::vector<json::object>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
      if (e.at("type") == "step_started") out.emplace_back(e.at("step").as_string());
    }
    return out;
  }
  std::string StatusInList(const std::string& id) {
    Output o = Run({"runs", "list", "-o", "json"});
    json::value v = MustParse(o.out, "runs list");
    if (!v.is_array()) return "";
    for (const auto& r : v.as_array()) {
      if (r.at("run_id") == json::value(id)) return std::string(r.at("status").as_string());
    }
    return "";
  }
};

TEST_F(Saga, ExampleUndoesTheBookingsInReverseOrder) {
  Output o = Run({"run", (SourceDir() / "examples/saga.yaml").string(), "-o", "json"});
  EXPECT_EQ(o.code, 3) << o.err;
  std::string id = RunIdFromStderr(o.err);
  ASSERT_FALSE(id.empty()) << o.err;
  json::value v = MustParse(o.out, "run -o json");
  ASSERT_TRUE(v.is_object()) << o.out;
  EXPECT_EQ(v.at("status"), "compensated");
  EXPECT_EQ(v.at("error").at("step"), "charge");
  EXPECT_EQ(v.at("error").at("type"), "tool_error");
  const auto& steps = v.at("steps");
  EXPECT_EQ(steps.at("hotel.compensate").at("output"), "cancelled HT-ada-1");
  EXPECT_EQ(steps.at("flight.compensate").at("output"), "cancelled FL-ada-1");

  std::vector<json::object> events = Events(id);
  EXPECT_EQ(Started(events), (std::vector<std::string>{"flight", "hotel", "charge",
                                                       "hotel.compensate", "flight.compensate"}));
  bool seen = false;
  for (const auto& e : events) {
    if (e.at("type") != "compensation_started") continue;
    seen = true;
    EXPECT_EQ(e.at("data").at("steps"), (json::array{"hotel", "flight"}));
    EXPECT_EQ(e.at("data").at("error").at("step"), "charge");
  }
  EXPECT_TRUE(seen);
  EXPECT_EQ(events.back().at("data").at("status"), "compensated");

  EXPECT_EQ(StatusInList(id), "compensated");
  Output list = Run({"runs", "list", "--status", "compensated"});
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_THAT(list.out, HasSubstr(id));
  Output show = Run({"runs", "show", id});
  EXPECT_EQ(show.code, 0) << show.err;
  EXPECT_THAT(show.out, HasSubstr("compensated"));
  EXPECT_THAT(show.out, HasSubstr("hotel.compensate"));
}

TEST_F(Saga, ASucceedingRunUndoesNothing) {
  Output o = Run(
      {"run", (SourceDir() / "examples/saga.yaml").string(), "-i", "card=4242-4242", "-o", "json"});
  EXPECT_EQ(o.code, 0) << o.err;
  json::value v = MustParse(o.out, "run -o json");
  ASSERT_TRUE(v.is_object()) << o.out;
  EXPECT_EQ(v.at("status"), "succeeded");
  EXPECT_EQ(v.at("outputs").at("payment"), "paid");
  // Compensations that never ran are not listed.
  EXPECT_EQ(v.at("steps").as_object().if_contains("hotel.compensate"), nullptr);
  for (const auto& e : Events(RunIdFromStderr(o.err))) {
    EXPECT_NE(e.at("type"), "compensation_started");
  }
}

constexpr std::string_view kStubborn = R"(baton: 1
name: stubborn
tools:
  ok:
    exec: { argv: [/bin/sh, -c, 'printf "%s" "$1"', sh, "${{ with.v }}"] }
  broken:
    exec: { argv: [/bin/sh, -c, 'echo "cannot undo $1" >&2; exit 1', sh, "${{ with.v }}"] }
steps:
  - id: flight
    call: ok
    with: { v: FL }
    compensate:
      call: broken
      with: { v: "${{ steps.flight.output }}" }
      retry: { max_attempts: 2, on: [tool_error], backoff: { initial: 10ms } }
  - id: hotel
    call: ok
    with: { v: HT }
    compensate: { call: ok, with: { v: "undo ${{ steps.hotel.output }}" } }
  - { id: charge, call: broken, with: { v: card } }
)";

TEST_F(Saga, AFailingCompensationIsRetriedAndListed) {
  fs::path wf = tmp_.Write("stubborn.yaml", kStubborn);
  Output o = Run({"run", wf.string(), "-o", "json"});
  EXPECT_EQ(o.code, 3) << o.err;
  json::value v = MustParse(o.out, "run -o json");
  ASSERT_TRUE(v.is_object()) << o.out;
  EXPECT_EQ(v.at("status"), "compensation_failed");
  const auto& err = v.at("error");
  EXPECT_EQ(err.at("type"), "compensation_failed");
  ASSERT_EQ(err.at("not_undone").as_array().size(), 1u);
  EXPECT_EQ(err.at("not_undone").as_array()[0].at("step"), "flight");
  EXPECT_THAT(std::string(err.at("message").as_string()), HasSubstr("cannot undo FL"));
  EXPECT_EQ(err.at("cause").at("step"), "charge");
  EXPECT_EQ(v.at("steps").at("flight.compensate").at("attempts"), 2);
  EXPECT_EQ(v.at("steps").at("hotel.compensate").at("status"), "succeeded");
  Output show = Run({"runs", "show", RunIdFromStderr(o.err)});
  EXPECT_THAT(show.out, HasSubstr("compensation_failed"));
}

// hotel's compensation writes its pid, then sleeps: the process is killed there.
constexpr std::string_view kSlowUndo = R"(baton: 1
name: slow-undo
inputs:
  dir: { type: string }
tools:
  ok:
    exec: { argv: [/bin/sh, -c, 'printf "%s" "$1"', sh, "${{ with.v }}"] }
  undo:
    exec:
      argv:
        - /bin/sh
        - -c
        - 'echo "$2" >> "$1/undone"; if [ "$2" = FL ] && [ ! -e "$1/pid" ]; then echo $$ > "$1/pid.tmp"; mv "$1/pid.tmp" "$1/pid"; exec sleep 30; fi; printf "undid %s" "$2"'
        - sh
        - "${{ with.dir }}"
        - "${{ with.v }}"
  broken:
    exec: { argv: [/bin/sh, -c, 'exit 1'] }
steps:
  - id: flight
    call: ok
    with: { v: FL }
    compensate: { call: undo, with: { dir: "${{ inputs.dir }}", v: "${{ steps.flight.output }}" } }
  - id: hotel
    call: ok
    with: { v: HT }
    compensate: { call: undo, with: { dir: "${{ inputs.dir }}", v: "${{ steps.hotel.output }}" } }
  - { id: charge, call: broken }
)";

TEST_F(Saga, KillDuringTheCompensationThenResumeFinishesIt) {
  fs::path wf = tmp_.Write("slow_undo.yaml", kSlowUndo);
  Child runner = Start(
      {"run", wf.string(), "-i", "dir=" + tmp_.path().string(), "--store", Store()}, tmp_.path());
  ASSERT_TRUE(PollUntil([&] { return fs::exists(tmp_ / "pid"); })) << runner.Err();
  std::string id = RunIdFromStderr(runner.Err());
  kill(runner.pid, SIGKILL);
  EXPECT_EQ(Wait(runner), 128 + SIGKILL);
  kill(static_cast<pid_t>(std::stol(ReadFile(tmp_ / "pid"))), SIGKILL);  // the orphaned sleeper
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(StatusInList(id), "interrupted");

  Output resumed = Run({"runs", "resume", id, "-o", "json"});
  EXPECT_EQ(resumed.code, 3) << resumed.err;
  json::value v = MustParse(resumed.out, "runs resume -o json");
  ASSERT_TRUE(v.is_object()) << resumed.out;
  EXPECT_EQ(v.at("status"), "compensated");
  EXPECT_EQ(v.at("steps").at("flight.compensate").at("output"), "undid FL");
  // The hotel was undone once, before the kill; the flight's undo ran again after it.
  EXPECT_EQ(ReadFile(tmp_ / "undone"), "HT\nFL\nFL\n");
  std::vector<json::object> events = Events(id);
  EXPECT_EQ(Started(events),
            (std::vector<std::string>{"flight", "hotel", "charge", "hotel.compensate",
                                      "flight.compensate", "flight.compensate"}));
  EXPECT_EQ(StatusInList(id), "compensated");
}

}  // namespace
}  // namespace baton::e2e
