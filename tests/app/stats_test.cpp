// `baton stats` aggregation (app/stats.hpp) over hand-made journals: exact counts, durations and
// percentiles, breaker transitions from `model_called` events and admission notes, the --since
// and --workflow filters, both stores, and a journal of 100,000 events.

#include "app/stats.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "store/store.hpp"

namespace baton::app {
namespace {

using core::Event;
using core::EventType;
using core::RunStatus;

constexpr std::string_view kReview = R"(baton: 1
name: review
models:
  fast: { provider: sim, model: sim-small }
  smart: { provider: sim, model: sim-large }
agents:
  writer: { model: fast, instructions: Write one line. }
steps:
  - id: draft
    agent: writer
    input: "a draft"
  - id: polish
    llm: { model: smart, prompt: "polish it" }
  - id: pack
    set: { done: true }
)";

// Builds a run's events with dense seqs.
class Journal {
 public:
  explicit Journal(std::string run) : run_(std::move(run)) {}
  Journal& Add(EventType type, int64_t time_ms, std::string step = "", int32_t attempt = 0,
               json::object data = {}, int32_t item = -1) {
    Event e;
    e.seq = events_.size() + 1;
    e.type = type;
    e.time_ms = time_ms;
    e.step = std::move(step);
    e.attempt = attempt;
    e.item = item;
    e.data = std::move(data);
    events_.push_back(std::move(e));
    return *this;
  }
  const std::string& run() const { return run_; }
  std::vector<Event>& events() { return events_; }

 private:
  std::string run_;
  std::vector<Event> events_;
};

json::object Usage(int64_t in, int64_t out, double cost) {
  return {{"input_tokens", in}, {"output_tokens", out}, {"cost_usd", cost}};
}

json::object Call(std::string_view model, int64_t duration_ms) {
  json::object o{{"model", model},
                 {"provider", "sim"},
                 {"provider_model", model == "fast" ? "sim-small" : "sim-large"},
                 {"duration_ms", duration_ms}};
  return o;
}

json::object Failed(json::object call, std::string_view type, std::string_view message) {
  call["error"] = json::object{{"type", type}, {"message", message}};
  return call;
}

json::object With(json::object o, std::string_view key, json::value v) {
  o[key] = std::move(v);
  return o;
}

struct Backend {
  std::string name;
  std::function<Result<std::unique_ptr<store::Store>>(const std::string& dir)> open;
};

void PrintTo(const Backend& b, std::ostream* os) { *os << b.name; }

class StatsTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->name());
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("baton_stats_" + std::to_string(getpid())) / name;
    std::filesystem::remove_all(dir_);
    auto opened = GetParam().open(dir_.string());
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void AddRun(const std::string& id, const std::string& workflow, std::string_view source,
              int64_t created_ms, RunStatus status, Journal& journal) {
    store::RunRecord run;
    run.id = id;
    run.workflow_name = workflow;
    run.workflow_file = workflow + ".yaml";
    auto blob = store_->PutBlob(source);
    ASSERT_TRUE(blob.ok());
    run.workflow_blob = *blob;
    run.status = status;
    run.created_ms = created_ms;
    run.updated_ms = created_ms;
    ASSERT_TRUE(store_->CreateRun(run).ok());
    ASSERT_TRUE(store_->AppendSync(id, journal.events()).ok());
  }

  // Three runs: review succeeded after retries and a fallback, review failed, and a run of a
  // workflow whose stored source no longer loads (still running, its process gone).
  void AddThreeRuns() {
    Journal r1("r1");
    r1.Add(EventType::kRunStarted, 1000)
        .Add(EventType::kStepStarted, 1000, "draft", 1)
        .Add(EventType::kModelCalled, 1100, "draft", 1,
             Failed(Call("fast", 100), "overloaded", "simulated overload"))
        .Add(EventType::kRetryScheduled, 1100, "draft", 1, {{"delay_ms", 10}})
        .Add(EventType::kStepStarted, 1110, "draft", 2)
        .Add(EventType::kModelCalled, 1200, "draft", 2,
             With(Call("fast", 90), "usage", Usage(10, 5, 0.25)))
        .Add(EventType::kStepSucceeded, 1200, "draft", 2, {{"output", "d"}})
        .Add(EventType::kStepStarted, 1200, "polish", 1)
        .Add(EventType::kModelCalled, 1300, "polish", 1,
             With(Failed(Call("smart", 100), "server_error", "down"), "breaker", "open"))
        .Add(EventType::kRetryScheduled, 1300, "polish", 1, {{"delay_ms", 100}})
        .Add(EventType::kStepStarted, 1400, "polish", 2)
        .Add(EventType::kModelCalled, 1500, "polish", 2,
             With(With(With(Call("smart", 50), "usage", Usage(20, 10, 0.5)), "notes",
                       json::array{"fallback from smart to fast: circuit open"}),
                  "breaker", "open"))
        .Add(EventType::kStepSucceeded, 1500, "polish", 2, {{"output", "p"}})
        .Add(EventType::kStepSucceeded, 1500, "pack", 0, {{"output", nullptr}})
        .Add(EventType::kRunFinished, 1600, "", 0, {{"status", "succeeded"}});
    AddRun("r1", "review", kReview, 1000, RunStatus::kSucceeded, r1);

    Journal r2("r2");
    r2.Add(EventType::kRunStarted, 2000)
        .Add(EventType::kStepStarted, 2000, "draft", 1)
        .Add(EventType::kModelCalled, 2300, "draft", 1,
             With(Call("fast", 300), "usage", Usage(10, 5, 0.25)))
        .Add(EventType::kStepSucceeded, 2300, "draft", 1, {{"output", "d"}})
        .Add(EventType::kStepStarted, 2300, "polish", 1)
        .Add(EventType::kModelCalled, 2400, "polish", 1,
             Failed(Call("smart", 100), "server_error",
                    "down (after circuit breaker wait on smart: 40ms)"))
        .Add(EventType::kStepFailed, 2400, "polish", 1,
             {{"error", {{"type", "server_error"}, {"message", "down"}}}, {"final", true}})
        .Add(EventType::kStepSkipped, 2400, "pack", 0, {{"reason", "a dependency failed"}})
        .Add(EventType::kRunFinished, 2500, "", 0, {{"status", "failed"}});
    AddRun("r2", "review", kReview, 2000, RunStatus::kFailed, r2);

    Journal r3("r3");
    r3.Add(EventType::kRunStarted, 3000)
        .Add(EventType::kStepStarted, 3000, "ask", 1)
        .Add(EventType::kModelCalled, 3100, "ask", 1,
             With(With(With(Call("smart", 20), "usage", Usage(1, 1, 0)), "cache_hit", true),
                  "breaker", "open"));
    AddRun("r3", "other", "baton: 1\nname: other\nsteps: not a list\n", 3000, RunStatus::kRunning,
           r3);
  }

  json::object Stats(StatsQuery query = {}) {
    auto stats = ComputeStats(*store_, query, {});
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? *stats : json::object();
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

// The row of `section` whose `key` is `name`.
const json::object& Row(const json::object& stats, std::string_view section, std::string_view name,
                        std::string_view key = "name") {
  static const json::object kNone;
  for (const auto& row : stats.at(section).as_array()) {
    if (row.at(key) == json::value(name)) return row.as_object();
  }
  ADD_FAILURE() << "no " << section << " row " << name;
  return kNone;
}

json::value Durations(int64_t min, double avg, int64_t p95, int64_t max) {
  return json::object{{"min", min}, {"avg", avg}, {"p95", p95}, {"max", max}};
}

json::value Tokens(int64_t in, int64_t out) { return json::object{{"input", in}, {"output", out}}; }

TEST_P(StatsTest, WorkflowsPatternsAgentsAndModels) {
  dsl::LoadResult loaded = dsl::LoadWorkflowText(kReview, "review.yaml");
  ASSERT_NE(loaded.workflow, nullptr) << dsl::FormatDiagnostic(loaded.diagnostics.front());
  AddThreeRuns();
  json::object s = Stats();
  EXPECT_EQ(s.at("runs"), 3);
  EXPECT_EQ(s.at("events"), 15 + 9 + 3);
  EXPECT_FALSE(s.contains("since"));

  ASSERT_EQ(s.at("workflows").as_array().size(), 2u);
  const json::object& review = Row(s, "workflows", "review");
  EXPECT_EQ(review.at("runs"), 2);
  EXPECT_EQ(review.at("succeeded"), 1);
  EXPECT_EQ(review.at("failed"), 1);
  EXPECT_EQ(review.at("cancelled"), 0);
  EXPECT_EQ(review.at("unfinished"), 0);
  EXPECT_EQ(review.at("success_rate"), 0.5);
  EXPECT_EQ(review.at("duration_ms"), Durations(500, 550, 600, 600));
  EXPECT_EQ(review.at("retries"), 2);
  EXPECT_EQ(review.at("model_calls"), 6);
  EXPECT_EQ(review.at("tokens"), Tokens(40, 20));
  EXPECT_EQ(review.at("cost_usd"), 1.0);
  const json::object& other = Row(s, "workflows", "other");
  EXPECT_EQ(other.at("runs"), 1);
  EXPECT_EQ(other.at("unfinished"), 1);  // running, with no live process: interrupted
  EXPECT_TRUE(other.at("success_rate").is_null());
  EXPECT_TRUE(other.at("duration_ms").is_null());
  EXPECT_EQ(other.at("tokens"), Tokens(1, 1));

  ASSERT_EQ(s.at("patterns").as_array().size(), 4u);
  const json::object& agent = Row(s, "patterns", "agent", "kind");
  EXPECT_EQ(agent.at("steps"), 2);
  EXPECT_EQ(agent.at("succeeded"), 2);
  EXPECT_EQ(agent.at("success_rate"), 1.0);
  EXPECT_EQ(agent.at("duration_ms"), Durations(200, 250, 300, 300));
  EXPECT_EQ(agent.at("attempts"), 3);
  EXPECT_EQ(agent.at("retries"), 1);
  EXPECT_EQ(agent.at("model_calls"), 3);
  EXPECT_EQ(agent.at("tokens"), Tokens(20, 10));
  EXPECT_EQ(agent.at("cost_usd"), 0.5);
  const json::object& llm = Row(s, "patterns", "llm", "kind");
  EXPECT_EQ(llm.at("steps"), 2);
  EXPECT_EQ(llm.at("succeeded"), 1);
  EXPECT_EQ(llm.at("failed"), 1);
  EXPECT_EQ(llm.at("success_rate"), 0.5);
  EXPECT_EQ(llm.at("duration_ms"), Durations(100, 200, 300, 300));
  EXPECT_EQ(llm.at("attempts"), 3);
  EXPECT_EQ(llm.at("retries"), 1);
  EXPECT_EQ(llm.at("model_calls"), 3);
  const json::object& set = Row(s, "patterns", "set", "kind");
  EXPECT_EQ(set.at("steps"), 2);
  EXPECT_EQ(set.at("succeeded"), 1);
  EXPECT_EQ(set.at("skipped"), 1);
  EXPECT_EQ(set.at("success_rate"), 1.0);
  EXPECT_EQ(set.at("duration_ms"), Durations(0, 0, 0, 0));  // inline: no step_started
  EXPECT_EQ(set.at("attempts"), 0);
  const json::object& unknown = Row(s, "patterns", "unknown", "kind");
  EXPECT_EQ(unknown.at("steps"), 0);
  EXPECT_EQ(unknown.at("model_calls"), 1);

  ASSERT_EQ(s.at("agents").as_array().size(), 1u);
  const json::object& writer = Row(s, "agents", "writer");
  EXPECT_EQ(writer.at("steps"), 2);
  EXPECT_EQ(writer.at("duration_ms"), Durations(200, 250, 300, 300));
  EXPECT_EQ(writer.at("retries"), 1);
  EXPECT_EQ(writer.at("model_calls"), 3);
  EXPECT_EQ(writer.at("tokens"), Tokens(20, 10));

  ASSERT_EQ(s.at("models").as_array().size(), 2u);
  const json::object& fast = Row(s, "models", "fast");
  EXPECT_EQ(fast.at("provider"), "sim");
  EXPECT_EQ(fast.at("provider_model"), "sim-small");
  EXPECT_EQ(fast.at("calls"), 3);
  EXPECT_EQ(fast.at("succeeded"), 2);
  EXPECT_EQ(fast.at("failed"), 1);
  EXPECT_DOUBLE_EQ(fast.at("success_rate").as_double(), 2.0 / 3);
  EXPECT_EQ(fast.at("duration_ms").at("min"), 90);
  EXPECT_DOUBLE_EQ(fast.at("duration_ms").at("avg").as_double(), 490.0 / 3);
  EXPECT_EQ(fast.at("duration_ms").at("p95"), 300);
  EXPECT_EQ(fast.at("retries"), 1);
  EXPECT_EQ(fast.at("tokens"), Tokens(20, 10));
  EXPECT_EQ(fast.at("errors"), (json::object{{"overloaded", 1}}));
  EXPECT_EQ(fast.at("fallbacks"), 0);
  json::object closed{{"state", "closed"}, {"as_of", json::string(FormatTimestamp(2300))},
                      {"opened", 0},       {"rejections", 0},
                      {"waits", 0},        {"wait_ms", 0}};
  EXPECT_EQ(fast.at("breaker"), closed);

  const json::object& smart = Row(s, "models", "smart");
  EXPECT_EQ(smart.at("calls"), 4);
  EXPECT_EQ(smart.at("succeeded"), 2);
  EXPECT_EQ(smart.at("failed"), 2);
  EXPECT_EQ(smart.at("success_rate"), 0.5);
  EXPECT_EQ(smart.at("duration_ms"), Durations(20, 67.5, 100, 100));
  EXPECT_EQ(smart.at("retries"), 1);
  EXPECT_EQ(smart.at("tokens"), Tokens(21, 11));
  EXPECT_EQ(smart.at("cache_hits"), 1);
  EXPECT_EQ(smart.at("fallbacks"), 1);
  EXPECT_EQ(smart.at("errors"), (json::object{{"server_error", 2}}));
  // Seen open at 1300 and 1500, closed at 2400, open again at 3100: opened twice.
  json::object open{{"state", "open"}, {"as_of", json::string(FormatTimestamp(3100))},
                    {"opened", 2},     {"rejections", 1},
                    {"waits", 1},      {"wait_ms", 40}};
  EXPECT_EQ(smart.at("breaker"), open);
}

TEST_P(StatsTest, SinceAndWorkflowFilters) {
  AddThreeRuns();
  json::object since = Stats({.since_ms = 2000});
  EXPECT_EQ(since.at("runs"), 2);
  EXPECT_EQ(since.at("since"), json::value(FormatTimestamp(2000)));
  EXPECT_EQ(Row(since, "workflows", "review").at("runs"), 1);
  EXPECT_EQ(Row(since, "models", "fast").at("calls"), 1);

  json::object review = Stats({.workflow = "review"});
  EXPECT_EQ(review.at("runs"), 2);
  EXPECT_EQ(review.at("workflow"), "review");
  EXPECT_EQ(review.at("workflows").as_array().size(), 1u);
  EXPECT_EQ(Row(review, "models", "smart").at("calls"), 3);

  json::object none = Stats({.since_ms = 10'000});
  EXPECT_EQ(none.at("runs"), 0);
  EXPECT_TRUE(none.at("models").as_array().empty());
}

// 1,000 runs of 100 events each, with realistic model_called payloads.
TEST_P(StatsTest, HundredThousandEvents) {
  constexpr int kRuns = 1000;
  constexpr int kCalls = 96;
  auto blob = store_->PutBlob(kReview);
  ASSERT_TRUE(blob.ok());
  std::string prompt(600, 'p');
  std::string reply(300, 'r');
  for (int r = 0; r < kRuns; ++r) {
    store::RunRecord run;
    run.id = fmt::format("run{:05}", r);
    run.workflow_name = "review";
    run.workflow_file = "review.yaml";
    run.workflow_blob = *blob;
    run.status = RunStatus::kSucceeded;
    run.created_ms = 1000 + r;
    ASSERT_TRUE(store_->CreateRun(run).ok());
    Journal j(run.id);
    int64_t t = run.created_ms;
    j.Add(EventType::kRunStarted, t).Add(EventType::kStepStarted, t, "draft", 1);
    for (int c = 0; c < kCalls; ++c) {
      json::object call = With(Call("fast", c % 8), "usage", Usage(100, 20, 0));
      call["prompt"] = json::array{json::object{{"role", "user"}, {"content", prompt}}};
      call["reply"] = reply;
      j.Add(EventType::kModelCalled, t + c, "draft", 1, std::move(call));
    }
    j.Add(EventType::kStepSucceeded, t + kCalls, "draft", 1, {{"output", reply}})
        .Add(EventType::kRunFinished, t + kCalls + 1, "", 0, {{"status", "succeeded"}});
    ASSERT_TRUE(store_->AppendSync(run.id, j.events()).ok());
  }
  auto start = std::chrono::steady_clock::now();
  int64_t scanned = 0;
  store::ScanVisitor count;
  count.event = [&](const Event&) {
    ++scanned;
    return Status::Ok();
  };
  ASSERT_TRUE(store_->ScanRuns({}, count).ok());
  std::printf("scan alone: %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - start)
                                         .count()));
  EXPECT_EQ(scanned, kRuns * 100);
  start = std::chrono::steady_clock::now();
  json::object s = Stats();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  std::printf("stats over %d events (%s): %lld ms\n", kRuns * 100, GetParam().name.c_str(),
              static_cast<long long>(ms));
  EXPECT_EQ(s.at("runs"), kRuns);
  EXPECT_EQ(s.at("events"), kRuns * 100);
  const json::object& fast = Row(s, "models", "fast");
  EXPECT_EQ(fast.at("calls"), kRuns * kCalls);
  EXPECT_EQ(fast.at("tokens"), Tokens(100LL * kRuns * kCalls, 20LL * kRuns * kCalls));
  EXPECT_EQ(fast.at("duration_ms"), Durations(0, 3.5, 7, 7));
  EXPECT_EQ(Row(s, "workflows", "review").at("duration_ms"),
            Durations(kCalls + 1, kCalls + 1, kCalls + 1, kCalls + 1));
  EXPECT_EQ(Row(s, "agents", "writer").at("steps"), kRuns);
}

const Backend kBackends[] = {
    {"Memory",
     [](const std::string&) -> Result<std::unique_ptr<store::Store>> {
       return store::NewMemoryStore();
     }},
    {"Sqlite",
     [](const std::string& dir) {
       return store::OpenSqliteStore(dir + "/journal.db", {.synchronous_full = false});
     }},
};

INSTANTIATE_TEST_SUITE_P(Stores, StatsTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& p) { return p.param.name; });

// Percentiles by nearest rank, straight through the builder.
TEST(StatsBuilderTest, NearestRankPercentiles) {
  StatsBuilder builder;
  for (int i = 1; i <= 20; ++i) {
    store::RunRecord run;
    run.workflow_name = "w";
    builder.AddRun(run, RunStatus::kSucceeded, nullptr);
    Event start;
    start.type = EventType::kRunStarted;
    start.time_ms = 0;
    builder.AddEvent(start);
    Event finish;
    finish.type = EventType::kRunFinished;
    finish.time_ms = 21 - i;  // 20, 19, ..., 1: order does not matter
    builder.AddEvent(finish);
  }
  json::object s = builder.Result();
  EXPECT_EQ(Row(s, "workflows", "w").at("duration_ms"), Durations(1, 10.5, 19, 20));
  EXPECT_EQ(Row(s, "workflows", "w").at("success_rate"), 1.0);

  StatsBuilder one;
  store::RunRecord run;
  run.workflow_name = "w";
  one.AddRun(run, RunStatus::kFailed, nullptr);
  Event finish;
  finish.type = EventType::kRunFinished;
  finish.time_ms = 7;  // no run_started: from created_ms (0)
  one.AddEvent(finish);
  EXPECT_EQ(Row(one.Result(), "workflows", "w").at("duration_ms"), Durations(7, 7, 7, 7));
}

TEST(StatsBuilderTest, FanOutCountsTheStepOnceAndNotesOnlyPlainNames) {
  auto wf = std::make_shared<StepCatalog>();
  (*wf)["each"] = {"llm", ""};
  StatsBuilder b;
  store::RunRecord run;
  run.workflow_name = "w";
  b.AddRun(run, RunStatus::kSucceeded, wf);
  auto add = [&](EventType type, int64_t t, int32_t item, json::object data = {}) {
    Event e;
    e.type = type;
    e.time_ms = t;
    e.step = "each";
    e.item = item;
    e.attempt = item >= 0 ? 1 : 0;
    e.data = std::move(data);
    b.AddEvent(e);
  };
  add(EventType::kFanOut, 10, -1, {{"count", 2}});
  add(EventType::kStepStarted, 11, 0);
  add(EventType::kStepStarted, 12, 1);
  add(EventType::kModelCalled, 20, 0,
      {{"model", "m"},
       {"notes", json::array{"fallback from a b to c: circuit open", "rate limit wait on m: 5ms",
                             "fallback from m to n: overloaded: x"}}});
  add(EventType::kStepSucceeded, 20, 0);
  add(EventType::kStepFailed, 25, 1, {{"error", {{"type", "timeout"}}}});
  add(EventType::kRetryScheduled, 25, 1, {{"delay_ms", 0}, {"paused", true}});
  add(EventType::kStepSucceeded, 30, -1);
  json::object s = b.Result();
  const json::object& llm = Row(s, "patterns", "llm", "kind");
  EXPECT_EQ(llm.at("steps"), 1);
  EXPECT_EQ(llm.at("succeeded"), 1);
  EXPECT_EQ(llm.at("attempts"), 2);
  EXPECT_EQ(llm.at("retries"), 0);                              // a parked instance is not a retry
  EXPECT_EQ(llm.at("duration_ms"), Durations(20, 20, 20, 20));  // from fan_out to the whole
  ASSERT_EQ(s.at("models").as_array().size(), 1u);              // "a b" is not a model name
  EXPECT_EQ(Row(s, "models", "m").at("fallbacks"), 1);
  EXPECT_EQ(Row(s, "models", "m").at("breaker").at("rejections"), 0);
}

TEST(ParseSinceTest, DurationsAndDates) {
  constexpr int64_t kNow = 1'700'000'000'000;
  EXPECT_EQ(*ParseSince("24h", kNow), kNow - 86'400'000);
  EXPECT_EQ(*ParseSince("7d", kNow), kNow - 7 * 86'400'000LL);
  EXPECT_EQ(*ParseSince("90m", kNow), kNow - 5'400'000);
  EXPECT_EQ(*ParseSince("2023-11-14", kNow), 1'699'920'000'000);
  EXPECT_EQ(*ParseSince("2023-11-14T22:13", kNow), 1'699'999'980'000);
  EXPECT_EQ(*ParseSince("2023-11-14T22:13:20Z", kNow), kNow);
  EXPECT_EQ(*ParseSince("2023-11-14 22:13:20.250", kNow), kNow + 250);
  for (const char* bad : {"", "yesterday", "2023-13-01", "2023-11-14T25:00", "2023-11-14T22",
                          "2023-11-14X", "24 h", "-3d"}) {
    auto r = ParseSince(bad, kNow);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), Code::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace baton::app
