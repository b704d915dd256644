// The engine with waits: a run left with approvals only is suspended (kWaiting, no owner), a
// signal posted to its inbox is applied by Resume, an emit reaches a waiting run of the same
// engine, and a run that must not suspend takes its decision from the inbox while it runs.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

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

class WaitsRuntimeTest : public ::testing::TestWithParam<bool> {
 protected:
  WaitsRuntimeTest() {
    providers::RegisterBuiltinProviders(models_);
    if (GetParam()) {
      dir_ = ::testing::TempDir() + "baton_waits_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name();
      std::filesystem::remove_all(dir_);
      store_ = std::move(store::OpenSqliteStore(dir_ + "/j.db")).value();
    } else {
      store_ = store::NewMemoryStore();
    }
  }
  ~WaitsRuntimeTest() override {
    store_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  EngineOptions Options() {
    EngineOptions o;
    o.cancel_poll = Millis(5);
    return o;
  }

  std::string dir_;
  std::unique_ptr<store::Store> store_;
  providers::ModelRegistry models_;
  tools::ToolRegistry tools_;
};

constexpr const char* kGate = R"(
baton: 1
name: gate
steps:
  - { id: a, set: { x: 1 } }
  - { id: gate, approval: "ok?" }
  - { id: b, set: { by: "${{ steps.gate.output.by }}" } }
outputs:
  by: ${{ steps.b.output.by }}
)";

TEST_P(WaitsRuntimeTest, SuspendsThenResumesWithTheDecision) {
  auto wf = Load(kGate);
  std::string id;
  {
    Engine engine(*store_, models_, tools_, Options());
    id = *engine.Start(wf, {});
    auto r = engine.Wait(id);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, core::RunStatus::kWaiting);
    EXPECT_EQ(r->final_state->waits().pending().size(), 1u);
  }
  auto rec = store_->GetRun(id);
  EXPECT_EQ(rec->status, core::RunStatus::kWaiting);
  EXPECT_EQ(rec->owner_pid, 0);

  // Resuming with an empty inbox: nothing to do, suspended again, no new events.
  uint64_t seq = rec->last_seq;
  {
    Engine engine(*store_, models_, tools_, Options());
    ASSERT_TRUE(engine.Resume(wf, id).ok());
    EXPECT_EQ(engine.Wait(id)->status, core::RunStatus::kWaiting);
  }
  EXPECT_EQ(store_->GetRun(id)->last_seq, seq);

  ASSERT_TRUE(
      store_
          ->PostSignal(
              id, {{"kind", "approval"}, {"step", "gate"}, {"approved", true}, {"by", "ana"}}, 1)
          .ok());
  ASSERT_TRUE(*store_->ClaimRun(id, 0, "", getpid(), "test"));
  Engine engine(*store_, models_, tools_, Options());
  ASSERT_TRUE(engine.Resume(wf, id).ok());
  auto r = engine.Wait(id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->summary().at("outputs").at("by"), "ana");
  EXPECT_TRUE(store_->ReadSignals(id)->empty());  // consumed with the events
  EXPECT_EQ(store_->GetRun(id)->status, core::RunStatus::kSucceeded);
}

TEST_P(WaitsRuntimeTest, WithoutSuspendingTheRunReadsItsInbox) {
  auto wf = Load(kGate);
  EngineOptions options = Options();
  options.suspend_waiting = false;
  Engine engine(*store_, models_, tools_, options);
  std::string id = *engine.Start(wf, {});
  // The run stays here; wait until the approval is journaled, then decide it.
  for (int i = 0; i < 2000; ++i) {
    auto events = store_->ReadEvents(id);  // kNotFound until the run's creation commits
    bool requested = false;
    if (events.ok()) {
      for (const auto& e : *events) requested |= e.type == core::EventType::kApprovalRequested;
    }
    if (requested) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(store_->GetRun(id)->status, core::RunStatus::kRunning);
  ASSERT_TRUE(
      store_->PostSignal(id, {{"kind", "approval"}, {"step", "gate"}, {"approved", false}}, 1)
          .ok());
  auto r = engine.Wait(id);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, core::RunStatus::kFailed);
  EXPECT_EQ(r->summary().at("error").at("type"), "approval_rejected");
}

TEST_P(WaitsRuntimeTest, EmitReachesAWaitingRunThroughTheBus) {
  auto waiter = Load(R"(
baton: 1
name: waiter
steps:
  - { id: w, wait: { event: ping, match: "${{ event.n > 1 }}" } }
outputs:
  n: ${{ steps.w.output.data.n }}
)");
  auto emitter = Load(R"(
baton: 1
name: emitter
steps:
  - { id: one, emit: { event: ping, data: { n: 1 } } }
  - { id: two, emit: { event: ping, data: { n: 2 } } }
)");
  EngineOptions options = Options();
  std::vector<json::object> published;
  options.on_published = [&](const json::object& e) { published.push_back(e); };
  Engine engine(*store_, models_, tools_, options);
  std::string w = *engine.Start(waiter, {});
  ASSERT_EQ(engine.Wait(w)->status, core::RunStatus::kWaiting);
  EXPECT_EQ(*store_->SubscribedRuns("ping"), std::vector<std::string>{w});
  std::string e = *engine.Start(emitter, {});
  ASSERT_EQ(engine.Wait(e)->status, core::RunStatus::kSucceeded);
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[1].at("data").at("n"), 2);
  EXPECT_EQ(published[1].at("run_id"), json::value(e));
  // Both events are in the suspended run's inbox; resumed, it takes the one that matches.
  EXPECT_EQ(store_->ReadSignals(w)->size(), 2u);
  ASSERT_TRUE(*store_->ClaimRun(w, 0, "", getpid(), "test"));
  ASSERT_TRUE(engine.Resume(waiter, w).ok());
  auto r = engine.Wait(w);
  ASSERT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->summary().at("outputs").at("n"), 2);
  EXPECT_TRUE(store_->SubscribedRuns("ping")->empty());
}

INSTANTIATE_TEST_SUITE_P(Stores, WaitsRuntimeTest, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "Sqlite" : "Memory"; });

}  // namespace
}  // namespace baton::runtime
