// The engine end to end in process: real coroutines and threads, the sim provider, real child
// processes for exec tools, the memory and SQLite stores.

#include "runtime/engine.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "dsl/loader.hpp"
#include "providers/registry.hpp"
#include "store/store.hpp"
#include "tools/tool.hpp"

namespace baton::runtime {
namespace {

std::shared_ptr<const core::Workflow> Load(const std::string& yaml,
                                           const dsl::LoadOptions& options = {}) {
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml", options);
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  EXPECT_TRUE(r.workflow) << diags;
  return r.workflow;
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() : store_(store::NewMemoryStore()) { providers::RegisterBuiltinProviders(models_); }
  RunResult RunToEnd(std::shared_ptr<const core::Workflow> wf, json::object inputs = {},
                     EngineOptions options = {}) {
    Engine engine(*store_, models_, tools_, options);
    RunOptions ro;
    ro.inputs = std::move(inputs);
    auto id = engine.Start(wf, ro);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    auto r = engine.Wait(*id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return *r;
  }
  std::unique_ptr<store::Store> store_;
  providers::ModelRegistry models_;
  tools::ToolRegistry tools_;
};

const json::object& Steps(const RunResult& r) { return r.summary().at("steps").as_object(); }

TEST_F(EngineTest, AgentsFanOutAndJoinOnSim) {
  auto wf = Load(R"y(
baton: 1
name: team
inputs:
  topic: { type: string }
models:
  m: { provider: sim, model: sim-small }
agents:
  planner:
    model: m
    instructions: Plan ${{ inputs.topic }}
    output_schema:
      type: object
      properties: { questions: { type: array, items: { type: string }, minItems: 3, maxItems: 3 } }
      required: [questions]
  worker: { model: m, instructions: Answer }
steps:
  - { id: plan, agent: planner, input: "${{ inputs.topic }}" }
  - { id: work, for_each: "${{ steps.plan.output.questions }}", agent: worker, input: "${{ item }}", max_parallel: 2 }
outputs:
  answers: ${{ steps.work.output }}
)y");
  RunResult r = RunToEnd(wf, json::object{{"topic", "tides"}});
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  EXPECT_EQ(r.summary().at("outputs").at("answers").as_array().size(), 3u);
  EXPECT_GT(r.summary().at("usage").at("input_tokens").as_int64(), 0);
  EXPECT_EQ(Steps(r).at("work").at("items").to_number<int>(), 3);
  // Deterministic: the same inputs give the same outputs.
  RunResult again = RunToEnd(wf, json::object{{"topic", "tides"}});
  EXPECT_EQ(CanonicalJson(again.summary().at("outputs")), CanonicalJson(r.summary().at("outputs")));
}

TEST_F(EngineTest, ExecToolPassesArgvLiterally) {
  auto wf = Load(R"y(
baton: 1
name: exec
tools:
  echo: { exec: { argv: [echo, "${{ with.text }}", "$(id)"] } }
  json: { exec: { argv: [printf, '{"n": %s}', "${{ with.n }}"], output: json } }
steps:
  - { id: a, call: echo, with: { text: "a; rm -rf /" } }
  - { id: b, call: json, with: { n: 41 } }
outputs:
  a: ${{ steps.a.output }}
  n: ${{ steps.b.output.n + 1 }}
)y");
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());
  EXPECT_EQ(r.summary().at("outputs").at("a").as_string(), "a; rm -rf / $(id)");
  EXPECT_EQ(r.summary().at("outputs").at("n").as_int64(), 42);
}

TEST_F(EngineTest, FailingToolRetriesThenFailsWithToolError) {
  auto wf = Load(R"y(
baton: 1
name: failing
tools:
  boom: { exec: { argv: [sh, -c, "echo broken >&2; exit 3"] } }
steps:
  - id: x
    call: boom
    retry: { max_attempts: 3, on: [tool_error], backoff: { initial: 1ms, max: 5ms } }
)y");
  RunResult r = RunToEnd(wf);
  ASSERT_EQ(r.status, core::RunStatus::kFailed);
  const auto& x = Steps(r).at("x").as_object();
  EXPECT_EQ(x.at("attempts").as_int64(), 3);
  EXPECT_EQ(x.at("error").at("type").as_string(), "tool_error");
  EXPECT_NE(std::string(x.at("error").at("message").as_string()).find("broken"), std::string::npos);
}

TEST_F(EngineTest, StepTimeoutKillsTheToolAndIsATimeoutError) {
  auto wf = Load(R"y(
baton: 1
name: slow
tools:
  nap: { exec: { argv: [sleep, "30"] } }
steps:
  - { id: x, call: nap, timeout: 100ms }
)y");
  auto t0 = std::chrono::steady_clock::now();
  RunResult r = RunToEnd(wf);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));
  ASSERT_EQ(r.status, core::RunStatus::kFailed);
  EXPECT_EQ(Steps(r).at("x").at("error").at("type").as_string(), "timeout");
}

TEST_F(EngineTest, CancelStopsInFlightStepsAndRecordsCancelled) {
  auto wf = Load(R"y(
baton: 1
name: cancel
tools:
  nap: { exec: { argv: [sleep, "30"] } }
steps:
  - { id: a, call: nap }
  - { id: b, call: nap, needs: [] }
  - { id: c, call: nap, needs: [a, b] }
)y");
  Engine engine(*store_, models_, tools_, {});
  std::atomic<int> started{0};
  engine.SetListener([&](const std::string&, const core::Event& e) {
    if (e.type == core::EventType::kStepStarted) ++started;
  });
  auto id = engine.Start(wf, {});
  ASSERT_TRUE(id.ok());
  while (started.load() < 2) std::this_thread::yield();
  EXPECT_TRUE(engine.Cancel(*id));
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, core::RunStatus::kCancelled);
  EXPECT_EQ(Steps(*r).at("c").at("status").as_string(), "pending");
  auto events = store_->ReadEvents(*id);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->back().type, core::EventType::kRunFinished);
}

TEST_F(EngineTest, RegisteredLibraryToolIsCallable) {
  ASSERT_TRUE(tools_
                  .Register(std::make_unique<tools::FunctionTool>(
                      "double",
                      [](const json::value& args) -> Result<json::value> {
                        return json::value(args.at("n").as_int64() * 2);
                      }))
                  .ok());
  auto wf = Load(R"y(
baton: 1
name: lib
steps:
  - { id: x, call: double, with: { n: 21 } }
outputs:
  x: ${{ steps.x.output }}
)y",
                 dsl::LoadOptions{tools_.Names(), {}});
  RunResult r = RunToEnd(wf);
  EXPECT_EQ(r.summary().at("outputs").at("x").as_int64(), 42);
}

TEST_F(EngineTest, InputsAreDefaultedAndValidated) {
  auto wf = Load(R"y(
baton: 1
name: inputs
inputs:
  n: { type: integer, minimum: 1, default: 2 }
steps:
  - { id: x, set: { v: "${{ inputs.n * 10 }}" } }
outputs:
  v: ${{ steps.x.output.v }}
)y");
  RunResult r = RunToEnd(wf);
  EXPECT_EQ(r.summary().at("outputs").at("v").as_int64(), 20);
  Engine engine(*store_, models_, tools_, {});
  RunOptions bad;
  bad.inputs = json::object{{"n", 0}};
  auto id = engine.Start(wf, bad);
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.error().message().find("input 'n'"), std::string::npos) << id.error().message();
  bad.inputs = json::object{{"m", 1}};
  EXPECT_FALSE(engine.Start(wf, bad).ok());
}

TEST_F(EngineTest, ManyConcurrentRunsOnSqlite) {
  std::string dir = ::testing::TempDir() + "/engine_sqlite_" + std::to_string(getpid());
  std::filesystem::create_directories(dir);
  auto db = store::OpenSqliteStore(dir + "/baton.db", {false, 5000});
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto wf = Load(R"y(
baton: 1
name: three
inputs:
  i: { type: integer }
steps:
  - { id: a, set: { v: "${{ inputs.i }}" } }
  - { id: b, set: { memory.w: "${{ steps.a.output.v * 2 }}" } }
  - { id: c, set: { w: "${{ memory.w + 1 }}" } }
outputs:
  w: ${{ steps.c.output.w }}
)y");
  EngineOptions options;
  options.threads = 2;
  Engine engine(**db, models_, tools_, options);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    RunOptions ro;
    ro.inputs = json::object{{"i", i}};
    auto id = engine.Start(wf, ro);
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  for (int i = 0; i < 200; ++i) {
    auto r = engine.Wait(ids[static_cast<size_t>(i)]);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, core::RunStatus::kSucceeded);
    EXPECT_EQ(r->summary().at("outputs").at("w").as_int64(), 2 * i + 1);
    auto rec = (*db)->GetRun(ids[static_cast<size_t>(i)]);
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->status, core::RunStatus::kSucceeded);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace baton::runtime
