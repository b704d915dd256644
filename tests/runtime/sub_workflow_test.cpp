// `workflow:` steps in the engine: a child run in the same engine with its own journal, linked to
// its parent, cancelled with it, its failure catchable; and after a crash the resumed parent
// re-attaches to the child its journal names instead of starting another. Real coroutines and
// threads, real processes for exec tools, the memory store (tests/e2e covers SQLite).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "dsl/loader.hpp"
#include "providers/registry.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"
#include "tools/tool.hpp"

namespace baton::runtime {
namespace {

namespace fs = std::filesystem;
using core::EventType;
using core::RunStatus;

bool PollUntil(const std::function<bool()>& done) {
  auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < limit) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// A child whose step blocks (30 s) the first time it runs and answers at once afterwards: the
// marker file tells the attempts apart.
constexpr const char* kSleepyChild = R"(baton: 1
name: sleepy
inputs:
  marker: { type: string }
tools:
  once:
    exec:
      argv: [/bin/sh, -c, 'if [ -e "$1" ]; then echo woke; else touch "$1"; exec sleep 30; fi',
             sh, "${{ with.marker }}"]
steps:
  - { id: nap, call: once, with: { marker: "${{ inputs.marker }}" } }
outputs:
  said: ${{ steps.nap.output }}
)";

constexpr const char* kEchoChild = R"(baton: 1
name: echo
inputs:
  text: { type: string }
steps:
  - { id: shout, set: { loud: "${{ upper(inputs.text) }}" } }
outputs:
  loud: ${{ steps.shout.output.loud }}
)";

constexpr const char* kFailingChild = R"(baton: 1
name: failing
tools:
  boom: { exec: { argv: [/bin/sh, -c, "echo kaput >&2; exit 3"] } }
steps:
  - { id: explode, call: boom }
)";

class SubWorkflowEngine : public ::testing::Test {
 protected:
  SubWorkflowEngine() : store_(store::NewMemoryStore()) {
    providers::RegisterBuiltinProviders(models_);
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("baton-subrt-" + std::to_string(rd()));
    fs::create_directories(dir_ / "lib");
    Write("lib/sleepy.yaml", kSleepyChild);
    Write("lib/echo.yaml", kEchoChild);
    Write("lib/failing.yaml", kFailingChild);
  }
  ~SubWorkflowEngine() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }
  std::shared_ptr<const core::Workflow> Load(const std::string& name, const std::string& text) {
    Write(name, text);
    auto r = dsl::LoadWorkflowFile((dir_ / name).string());
    std::string diags;
    for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
    EXPECT_TRUE(r.workflow) << diags;
    return r.workflow;
  }
  std::string Marker() const { return (dir_ / "marker").string(); }

  std::vector<core::Event> Events(store::Store& s, const std::string& id) {
    auto events = s.ReadEvents(id);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<core::Event>{};
  }
  // The child runs the parent's journal names, in order.
  std::vector<std::string> ChildIds(store::Store& s, const std::string& parent) {
    std::vector<std::string> ids;
    for (const auto& e : Events(s, parent)) {
      if (e.type == EventType::kChildRunStarted) {
        ids.emplace_back(e.data.at("run_id").as_string());
      }
    }
    return ids;
  }
  std::vector<store::RunRecord> AllRuns(store::Store& s) {
    store::RunFilter all;
    all.limit = 0;
    auto runs = s.ListRuns(all);
    EXPECT_TRUE(runs.ok());
    return runs.ok() ? *runs : std::vector<store::RunRecord>{};
  }

  // A crash, replayed: copies run `id` from `from` into `to` as a process that died would have
  // left it (owner gone), keeping only events with seq <= max_seq (0: all), with the blobs its
  // resume needs.
  static void CopyRun(store::Store& from, store::Store& to, const std::string& id,
                      uint64_t max_seq = 0) {
    auto rec = from.GetRun(id);
    ASSERT_TRUE(rec.ok());
    auto events = from.ReadEvents(id);
    ASSERT_TRUE(events.ok());
    std::vector<core::Event> kept;
    for (const auto& e : *events) {
      if (max_seq == 0 || e.seq <= max_seq) kept.push_back(e);
    }
    bool finished = !kept.empty() && kept.back().type == EventType::kRunFinished;
    store::RunRecord copy = *rec;
    copy.owner_pid = 999'999'999;  // no such process
    copy.last_seq = 0;
    if (!finished) {
      copy.status = RunStatus::kRunning;
      copy.outputs = nullptr;
      copy.error.clear();
    }
    if (!rec->workflow_blob.empty()) {
      auto blob = from.GetBlob(rec->workflow_blob);
      ASSERT_TRUE(blob.ok());
      ASSERT_TRUE(to.PutBlob(*blob).ok());
    }
    if (const auto* sources = kept.front().data.if_contains("sources")) {
      for (const auto& kv : sources->as_object()) {
        auto text = from.GetBlob(kv.value().as_string());
        ASSERT_TRUE(text.ok());
        ASSERT_TRUE(to.PutBlob(*text).ok());
      }
    }
    ASSERT_TRUE(to.CreateRun(copy).ok());
    ASSERT_TRUE(to.AppendSync(id, kept).ok());
  }

  std::unique_ptr<store::Store> store_;
  providers::ModelRegistry models_;
  tools::ToolRegistry tools_;
  fs::path dir_;
};

constexpr const char* kEchoParent = R"(baton: 1
name: parent
inputs:
  text: { type: string }
steps:
  - id: sub
    workflow: lib/echo.yaml
    with: { text: "${{ inputs.text }}" }
outputs:
  loud: ${{ steps.sub.output.loud }}
)";

TEST_F(SubWorkflowEngine, ChildSucceedsWithItsOwnLinkedJournal) {
  auto wf = Load("parent.yaml", kEchoParent);
  EngineOptions options;
  options.max_concurrency = 1;  // a waiting parent step holds no permit its child needs
  Engine engine(*store_, models_, tools_, options);
  RunOptions ro;
  ro.inputs = json::object{{"text", "hello"}};
  ro.workflow_source = kEchoParent;
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->outputs().at("loud").as_string(), "HELLO");
  EXPECT_EQ(r->summary().at("steps").at("sub").at("output").at("loud").as_string(), "HELLO");

  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_EQ(children.size(), 1u);
  auto child = store_->GetRun(children[0]);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->parent_run, *id);
  EXPECT_EQ(child->workflow_name, "echo");
  EXPECT_EQ(child->workflow_file, (dir_ / "lib/echo.yaml").string());
  EXPECT_EQ(child->status, RunStatus::kSucceeded);
  auto child_source = store_->GetBlob(child->workflow_blob);
  ASSERT_TRUE(child_source.ok());
  EXPECT_EQ(*child_source, kEchoChild);
  EXPECT_EQ(Events(*store_, children[0]).back().type, EventType::kRunFinished);

  // child_run_started is journaled with the step's start, before the step's outcome; the
  // parent's run_started keeps the child's text for resume.
  auto events = Events(*store_, *id);
  const auto& sources = events.front().data.at("sources").as_object();
  EXPECT_EQ(store_->GetBlob(sources.at(child->workflow_file).as_string()).value(), kEchoChild);
  int started = -1, linked = -1, succeeded = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].step != "sub") continue;
    if (events[i].type == EventType::kStepStarted) started = static_cast<int>(i);
    if (events[i].type == EventType::kChildRunStarted) linked = static_cast<int>(i);
    if (events[i].type == EventType::kStepSucceeded) succeeded = static_cast<int>(i);
  }
  EXPECT_LT(started, linked);
  EXPECT_LT(linked, succeeded);
  EXPECT_EQ(events[static_cast<size_t>(linked)].data.at("workflow").as_string(), "echo");
}

TEST_F(SubWorkflowEngine, FanOutRunsOneChildPerItemInOrder) {
  auto wf = Load("parent.yaml", R"(baton: 1
name: parent
steps:
  - id: subs
    for_each: [a, b, c]
    as: word
    workflow: lib/echo.yaml
    with: { text: "${{ word }}" }
    output: ${{ result.map(r, r.loud) }}
outputs:
  all: ${{ steps.subs.output }}
)");
  EngineOptions options;
  options.threads = 3;  // children finish on other threads than their parent's strand runs on
  Engine engine(*store_, models_, tools_, options);
  auto id = engine.Start(wf, {});
  ASSERT_TRUE(id.ok());
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(ToJson(r->outputs().at("all")), R"(["A","B","C"])");
  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_EQ(children.size(), 3u);
  EXPECT_EQ(AllRuns(*store_).size(), 4u);
}

TEST_F(SubWorkflowEngine, ChildFailureIsChildFailedAndCatchable) {
  auto wf = Load("parent.yaml", R"(baton: 1
name: parent
steps:
  - id: caught
    workflow: lib/failing.yaml
    catch:
      - { errors: [child_failed], then: { output: "recovered: ${{ error.type }}" } }
  - id: uncaught
    workflow: lib/failing.yaml
)");
  Engine engine(*store_, models_, tools_, {});
  auto id = engine.Start(wf, {});
  ASSERT_TRUE(id.ok());
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kFailed) << ToJson(r->summary());
  const auto& steps = r->summary().at("steps").as_object();
  EXPECT_EQ(steps.at("caught").at("status").as_string(), "succeeded");
  EXPECT_EQ(steps.at("caught").at("output").as_string(), "recovered: child_failed");
  const auto& err = steps.at("uncaught").at("error").as_object();
  EXPECT_EQ(err.at("type").as_string(), "child_failed");
  std::string message(err.at("message").as_string());
  EXPECT_NE(message.find("(failing) failed: tool_error:"), std::string::npos) << message;
  EXPECT_NE(message.find("kaput"), std::string::npos) << message;
  EXPECT_EQ(r->summary().at("error").at("type").as_string(), "child_failed");

  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_EQ(children.size(), 2u);
  for (const auto& c : children) EXPECT_EQ(store_->GetRun(c)->status, RunStatus::kFailed);
}

TEST_F(SubWorkflowEngine, CancellingTheParentCancelsTheChild) {
  auto wf = Load("parent.yaml", R"(baton: 1
name: parent
inputs:
  marker: { type: string }
steps:
  - { id: sub, workflow: lib/sleepy.yaml, with: { marker: "${{ inputs.marker }}" } }
)");
  Engine engine(*store_, models_, tools_, {});
  RunOptions ro;
  ro.inputs = json::object{{"marker", Marker()}};
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(PollUntil([&] { return fs::exists(Marker()); }));  // the child's tool is running
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(engine.Cancel(*id));
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(20));  // not the 30 s nap
  EXPECT_EQ(r->status, RunStatus::kCancelled);
  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_EQ(children.size(), 1u);
  auto child = store_->GetRun(children[0]);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->status, RunStatus::kCancelled);
  EXPECT_EQ(Events(*store_, children[0]).back().type, EventType::kRunFinished);
}

TEST_F(SubWorkflowEngine, StepTimeoutCancelsTheChild) {
  auto wf = Load("parent.yaml", R"(baton: 1
name: parent
inputs:
  marker: { type: string }
steps:
  - id: sub
    workflow: lib/sleepy.yaml
    with: { marker: "${{ inputs.marker }}" }
    timeout: 300ms
)");
  Engine engine(*store_, models_, tools_, {});
  RunOptions ro;
  ro.inputs = json::object{{"marker", Marker()}};
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok());
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->summary().at("steps").at("sub").at("error").at("type").as_string(), "timeout");
  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_GE(children.size(), 1u);  // the default retry policy may try again: a new child each
  for (const auto& c : children) EXPECT_EQ(store_->GetRun(c)->status, RunStatus::kCancelled);
}

TEST_F(SubWorkflowEngine, AFailureElsewhereInTheParentCancelsTheChild) {
  auto wf = Load("parent.yaml", R"(baton: 1
name: parent
inputs:
  marker: { type: string }
tools:
  fail_later:  # fails once the child's step runs
    exec:
      argv: [/bin/sh, -c, 'while [ ! -e "$1" ]; do sleep 0.02; done; echo broken >&2; exit 1', sh,
             "${{ with.marker }}"]
steps:
  - { id: sub, workflow: lib/sleepy.yaml, with: { marker: "${{ inputs.marker }}" } }
  - { id: other, needs: [], call: fail_later, with: { marker: "${{ inputs.marker }}" } }
)");
  Engine engine(*store_, models_, tools_, {});
  RunOptions ro;
  ro.inputs = json::object{{"marker", Marker()}};
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok());
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->summary().at("error").at("step").as_string(), "other");
  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(store_->GetRun(children[0])->status, RunStatus::kCancelled);
}

TEST_F(SubWorkflowEngine, TheParentsRunTimeoutCancelsTheChild) {
  auto wf = Load("parent.yaml", R"(baton: 1
name: parent
inputs:
  marker: { type: string }
steps:
  - { id: sub, workflow: lib/sleepy.yaml, with: { marker: "${{ inputs.marker }}" } }
)");
  Engine engine(*store_, models_, tools_, {});
  RunOptions ro;
  ro.inputs = json::object{{"marker", Marker()}};
  ro.timeout = Millis(300);
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok());
  auto r = engine.Wait(*id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, RunStatus::kFailed);
  EXPECT_EQ(r->summary().at("error").at("type").as_string(), "timeout");
  std::vector<std::string> children = ChildIds(*store_, *id);
  ASSERT_EQ(children.size(), 1u);
  EXPECT_EQ(store_->GetRun(children[0])->status, RunStatus::kCancelled);
}

TEST_F(SubWorkflowEngine, ResumeAfterACrashReattachesToTheRunningChild) {
  constexpr const char* kParent = R"(baton: 1
name: parent
inputs:
  marker: { type: string }
steps:
  - { id: sub, workflow: lib/sleepy.yaml, with: { marker: "${{ inputs.marker }}" } }
outputs:
  said: ${{ steps.sub.output.said }}
)";
  auto wf = Load("parent.yaml", kParent);
  std::string parent_id, child_id;
  auto crashed = store::NewMemoryStore();
  {
    Engine engine(*store_, models_, tools_, {});
    RunOptions ro;
    ro.inputs = json::object{{"marker", Marker()}};
    ro.workflow_source = kParent;
    auto id = engine.Start(wf, ro);
    ASSERT_TRUE(id.ok());
    parent_id = *id;
    ASSERT_TRUE(PollUntil([&] { return fs::exists(Marker()); }));
    // The journals as the process left them when it died here: the child mid-step.
    std::vector<std::string> children = ChildIds(*store_, parent_id);
    ASSERT_EQ(children.size(), 1u);
    child_id = children[0];
    CopyRun(*store_, *crashed, parent_id);
    CopyRun(*store_, *crashed, child_id);
  }  // (this engine cancels its runs in the original store)

  // The files may change after the run started: resume uses the stored texts.
  Write("lib/sleepy.yaml", "baton: 1\nname: changed\nsteps: []\n");
  auto rec = crashed->GetRun(parent_id);
  ASSERT_TRUE(rec.ok());
  auto first = crashed->ReadEvents(parent_id, 0, 1);
  ASSERT_TRUE(first.ok());
  dsl::LoadOptions options;
  json::object sources = first->front().data.at("sources").as_object();
  options.read_file = [&](const std::string& path) -> Result<std::string> {
    return crashed->GetBlob(sources.at(path).as_string());
  };
  auto reloaded = dsl::LoadWorkflowText(crashed->GetBlob(rec->workflow_blob).value(),
                                        (dir_ / "parent.yaml").string(), options);
  ASSERT_TRUE(reloaded.workflow);

  Engine engine(*crashed, models_, tools_, {});
  ASSERT_TRUE(engine.Resume(reloaded.workflow, parent_id).ok());
  auto r = engine.Wait(parent_id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->outputs().at("said").as_string(), "woke");
  // The same child, resumed (its step ran again after the crash), and no second one.
  EXPECT_EQ(ChildIds(*crashed, parent_id), std::vector<std::string>{child_id});
  EXPECT_EQ(AllRuns(*crashed).size(), 2u);
  auto child = crashed->GetRun(child_id);
  EXPECT_EQ(child->status, RunStatus::kSucceeded);
  bool interrupted = false;
  for (const auto& e : Events(*crashed, child_id)) {
    if (e.type == EventType::kRetryScheduled &&
        e.data.at("error").at("type").as_string() == "interrupted") {
      interrupted = true;
    }
  }
  EXPECT_TRUE(interrupted);
}

TEST_F(SubWorkflowEngine, ResumeStartsAChildThatWasRecordedButNeverCreated) {
  auto wf = Load("parent.yaml", kEchoParent);
  Engine engine(*store_, models_, tools_, {});
  RunOptions ro;
  ro.inputs = json::object{{"text", "late"}};
  ro.workflow_source = kEchoParent;
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(engine.Wait(*id).ok());
  // Crash right after child_run_started became durable: the child does not exist yet.
  uint64_t linked = 0;
  for (const auto& e : Events(*store_, *id)) {
    if (e.type == EventType::kChildRunStarted) linked = e.seq;
  }
  ASSERT_GT(linked, 0u);
  std::string child_id = ChildIds(*store_, *id).at(0);
  auto crashed = store::NewMemoryStore();
  CopyRun(*store_, *crashed, *id, linked);

  Engine again(*crashed, models_, tools_, {});
  ASSERT_TRUE(again.Resume(wf, *id).ok());
  auto r = again.Wait(*id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->outputs().at("loud").as_string(), "LATE");
  EXPECT_EQ(ChildIds(*crashed, *id), std::vector<std::string>{child_id});
  auto child = crashed->GetRun(child_id);
  ASSERT_TRUE(child.ok());
  EXPECT_EQ(child->parent_run, *id);
}

TEST_F(SubWorkflowEngine, ResumeTakesTheResultOfAChildThatFinishedMeanwhile) {
  auto wf = Load("parent.yaml", kEchoParent);
  Engine engine(*store_, models_, tools_, {});
  RunOptions ro;
  ro.inputs = json::object{{"text", "done"}};
  auto id = engine.Start(wf, ro);
  ASSERT_TRUE(id.ok());
  ASSERT_TRUE(engine.Wait(*id).ok());
  uint64_t linked = 0;
  for (const auto& e : Events(*store_, *id)) {
    if (e.type == EventType::kChildRunStarted) linked = e.seq;
  }
  std::string child_id = ChildIds(*store_, *id).at(0);
  auto crashed = store::NewMemoryStore();
  CopyRun(*store_, *crashed, *id, linked);  // the parent died before recording the outcome
  CopyRun(*store_, *crashed, child_id);     // the child had finished
  size_t child_events = Events(*crashed, child_id).size();

  Engine again(*crashed, models_, tools_, {});
  ASSERT_TRUE(again.Resume(wf, *id).ok());
  auto r = again.Wait(*id);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->outputs().at("loud").as_string(), "DONE");
  EXPECT_EQ(Events(*crashed, child_id).size(), child_events);  // not run again
  EXPECT_EQ(AllRuns(*crashed).size(), 2u);
}

}  // namespace
}  // namespace baton::runtime
