// The contract of store::Store, run against every backend. A new backend is one line in
// kBackends.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "base/hash.hpp"
#include "store/store.hpp"

namespace baton::store {
namespace {

using core::Event;
using core::EventType;
using core::RunStatus;

struct Backend {
  std::string name;
  // Data outlives the Store object, and two Store objects may open the same location at once.
  bool persistent;
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> open;
};

// Names the backend in test listings (instead of a byte dump).
void PrintTo(const Backend& backend, std::ostream* os) { *os << backend.name; }

const Backend kBackends[] = {
    {"Memory", false,
     [](const std::string&) -> Result<std::unique_ptr<Store>> { return NewMemoryStore(); }},
    {"SqliteFull", true,
     [](const std::string& dir) {
       return OpenSqliteStore(dir + "/journal.db", {.synchronous_full = true});
     }},
    {"SqliteNormal", true,
     [](const std::string& dir) {
       return OpenSqliteStore(dir + "/journal.db", {.synchronous_full = false});
     }},
};

RunRecord MakeRun(std::string id, std::string workflow = "wf", int64_t created_ms = 1000,
                  RunStatus status = RunStatus::kRunning) {
  RunRecord run;
  run.id = std::move(id);
  run.workflow_name = std::move(workflow);
  run.workflow_file = "flows/" + run.workflow_name + ".yaml";
  run.workflow_blob = Sha256Hex(run.workflow_name);
  run.inputs = {{"topic", "rivers"}, {"n", 3}};
  run.status = status;
  run.created_ms = created_ms;
  run.updated_ms = created_ms;
  return run;
}

// Events first_seq .. first_seq + count - 1, each with a distinct payload.
std::vector<Event> MakeEvents(uint64_t first_seq, size_t count) {
  std::vector<Event> events;
  for (size_t i = 0; i < count; ++i) {
    Event e;
    e.seq = first_seq + i;
    e.type = EventType::kStepSucceeded;
    e.time_ms = 2000 + static_cast<int64_t>(e.seq);
    e.step = "step" + std::to_string(e.seq);
    e.item = static_cast<int32_t>(e.seq % 3) - 1;
    e.attempt = 1;
    e.data = {{"output", "out" + std::to_string(e.seq)}};
    events.push_back(std::move(e));
  }
  return events;
}

std::vector<uint64_t> Seqs(const std::vector<Event>& events) {
  std::vector<uint64_t> seqs;
  for (const Event& e : events) seqs.push_back(e.seq);
  return seqs;
}

std::vector<std::string> Ids(const std::vector<RunRecord>& runs) {
  std::vector<std::string> ids;
  for (const RunRecord& r : runs) ids.push_back(r.id);
  return ids;
}

class StoreConformanceTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("baton_store_" + std::to_string(getpid())) / name;
    std::filesystem::remove_all(dir_);
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<Store> Open() {
    Result<std::unique_ptr<Store>> store = GetParam().open(dir_.string());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
};

TEST_P(StoreConformanceTest, CreateAndGetRoundTripsEveryField) {
  RunRecord run = MakeRun("r1");
  run.parent_run = "r0";
  run.outputs = json::value{{"answer", 42}};
  run.error = "tool_error: boom";
  run.owner_pid = 4242;
  run.owner_host = "host-a";
  run.cancel_requested = true;
  run.usage = {{"input_tokens", 10}, {"cost_usd", 0.5}};
  run.last_seq = 99;  // ignored: a new run has no events
  ASSERT_TRUE(store_->CreateRun(run).ok());

  Result<RunRecord> got = store_->GetRun("r1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->id, "r1");
  EXPECT_EQ(got->workflow_name, run.workflow_name);
  EXPECT_EQ(got->workflow_file, run.workflow_file);
  EXPECT_EQ(got->workflow_blob, run.workflow_blob);
  EXPECT_EQ(got->parent_run, "r0");
  EXPECT_EQ(got->inputs, run.inputs);
  EXPECT_EQ(got->status, RunStatus::kRunning);
  EXPECT_EQ(got->outputs, run.outputs);
  EXPECT_EQ(got->error, run.error);
  EXPECT_EQ(got->created_ms, 1000);
  EXPECT_EQ(got->updated_ms, 1000);
  EXPECT_EQ(got->owner_pid, 4242);
  EXPECT_EQ(got->owner_host, "host-a");
  EXPECT_TRUE(got->cancel_requested);
  EXPECT_EQ(got->last_seq, 0u);
  EXPECT_EQ(got->usage, run.usage);
}

TEST_P(StoreConformanceTest, DuplicateCreateFailsAndKeepsTheOriginal) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1", "first")).ok());
  Status again = store_->CreateRun(MakeRun("r1", "second"));
  EXPECT_EQ(again.code(), Code::kAlreadyExists);
  EXPECT_EQ(store_->GetRun("r1")->workflow_name, "first");
  EXPECT_EQ(store_->CreateRun(MakeRun("")).code(), Code::kInvalidArgument);
}

TEST_P(StoreConformanceTest, GetRunByPrefix) {
  for (const char* id : {"abc123", "abc456", "abd789", "xyz", "xyz1"}) {
    ASSERT_TRUE(store_->CreateRun(MakeRun(id)).ok());
  }
  EXPECT_EQ(store_->GetRun("abc1")->id, "abc123");
  EXPECT_EQ(store_->GetRun("abd")->id, "abd789");
  EXPECT_EQ(store_->GetRun("xyz")->id, "xyz");  // an exact id wins over longer ids
  EXPECT_EQ(store_->GetRun("abc").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetRun("ab").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->GetRun("abe").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetRun("abc1234").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetRun("zzz").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->GetRun("").status().code(), Code::kInvalidArgument);
}

TEST_P(StoreConformanceTest, AppendThenReadInOrder) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(1, 2)).ok());
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(3, 1)).ok());
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(4, 3)).ok());

  Result<std::vector<Event>> all = store_->ReadEvents("r1");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(Seqs(*all), (std::vector<uint64_t>{1, 2, 3, 4, 5, 6}));
  std::vector<Event> expected = MakeEvents(1, 6);
  for (size_t i = 0; i < expected.size(); ++i) {
    const Event& got = (*all)[i];
    EXPECT_EQ(got.type, expected[i].type);
    EXPECT_EQ(got.time_ms, expected[i].time_ms);
    EXPECT_EQ(got.step, expected[i].step);
    EXPECT_EQ(got.item, expected[i].item);
    EXPECT_EQ(got.attempt, expected[i].attempt);
    EXPECT_EQ(got.data, expected[i].data);
  }

  EXPECT_EQ(Seqs(*store_->ReadEvents("r1", 2)), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(Seqs(*store_->ReadEvents("r1", 2, 2)), (std::vector<uint64_t>{3, 4}));
  EXPECT_EQ(Seqs(*store_->ReadEvents("r1", 0, 1)), (std::vector<uint64_t>{1}));
  EXPECT_TRUE(store_->ReadEvents("r1", 6)->empty());
  EXPECT_TRUE(store_->ReadEvents("r1", 100)->empty());

  Result<RunRecord> run = store_->GetRun("r1");
  EXPECT_EQ(run->last_seq, 6u);
  EXPECT_EQ(run->updated_ms, expected.back().time_ms);
}

TEST_P(StoreConformanceTest, UnknownRunIsNotFound) {
  EXPECT_EQ(store_->ReadEvents("nope").status().code(), Code::kNotFound);
  EXPECT_EQ(store_->AppendSync("nope", MakeEvents(1, 1)).code(), Code::kNotFound);
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  EXPECT_TRUE(store_->ReadEvents("r1")->empty());  // exists, no events yet
}

TEST_P(StoreConformanceTest, SeqGapIsRejectedWithoutSideEffects) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(1, 2)).ok());
  RunUpdate finish;
  finish.status = RunStatus::kFailed;
  finish.error = "should not land";

  EXPECT_EQ(store_->AppendSync("r1", MakeEvents(4, 1), finish).code(),
            Code::kFailedPrecondition);  // gap
  std::vector<Event> not_dense = MakeEvents(3, 2);
  not_dense[1].seq = 5;
  EXPECT_EQ(store_->AppendSync("r1", not_dense, finish).code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->AppendSync("r1", MakeEvents(2, 1), finish).code(),
            Code::kFailedPrecondition);  // replay of an existing seq

  Result<RunRecord> run = store_->GetRun("r1");
  EXPECT_EQ(run->status, RunStatus::kRunning);
  EXPECT_EQ(run->error, "");
  EXPECT_EQ(run->last_seq, 2u);
  EXPECT_EQ(Seqs(*store_->ReadEvents("r1")), (std::vector<uint64_t>{1, 2}));

  EXPECT_TRUE(store_->AppendSync("r1", MakeEvents(3, 1)).ok());
  EXPECT_EQ(store_->GetRun("r1")->last_seq, 3u);
}

TEST_P(StoreConformanceTest, BadBatchDoesNotFailItsNeighbours) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("r2")).ok());
  std::vector<Status> results(5);
  auto record = [&results](size_t i) { return [&results, i](Status s) { results[i] = s; }; };
  RunUpdate fail;
  fail.status = RunStatus::kFailed;
  // Queued back to back, so a group-committing store writes them in one transaction.
  store_->Append("r1", MakeEvents(1, 2), std::nullopt, record(0));
  store_->Append("r2", MakeEvents(5, 1), fail, record(1));  // gap
  store_->Append("r1", MakeEvents(3, 1), std::nullopt, record(2));
  store_->Append("r2", MakeEvents(1, 1), std::nullopt, record(3));
  store_->Append("missing", MakeEvents(1, 1), std::nullopt, record(4));
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_TRUE(results[0].ok()) << results[0].ToString();
  EXPECT_EQ(results[1].code(), Code::kFailedPrecondition);
  EXPECT_TRUE(results[2].ok()) << results[2].ToString();
  EXPECT_TRUE(results[3].ok()) << results[3].ToString();
  EXPECT_EQ(results[4].code(), Code::kNotFound);
  EXPECT_EQ(Seqs(*store_->ReadEvents("r1")), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(Seqs(*store_->ReadEvents("r2")), (std::vector<uint64_t>{1}));
  EXPECT_EQ(store_->GetRun("r2")->status, RunStatus::kRunning);
}

TEST_P(StoreConformanceTest, RunUpdateIsAppliedWithTheEvents) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  RunUpdate claim;
  claim.owner_pid = 77;
  claim.owner_host = "worker-1";
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(1, 1), claim).ok());
  Result<RunRecord> run = store_->GetRun("r1");
  EXPECT_EQ(run->owner_pid, 77);
  EXPECT_EQ(run->owner_host, "worker-1");
  EXPECT_EQ(run->status, RunStatus::kRunning);  // untouched fields stay

  RunUpdate finish;
  finish.status = RunStatus::kSucceeded;
  finish.outputs = json::value{{"summary", "done"}};
  finish.usage = json::object{{"input_tokens", 120}, {"output_tokens", 30}, {"cost_usd", 0.01}};
  finish.owner_pid = 0;
  finish.owner_host = "";
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(2, 2), finish).ok());
  run = store_->GetRun("r1");
  EXPECT_EQ(run->status, RunStatus::kSucceeded);
  EXPECT_EQ(run->outputs, *finish.outputs);
  EXPECT_EQ(run->usage, *finish.usage);
  EXPECT_EQ(run->owner_pid, 0);
  EXPECT_EQ(run->owner_host, "");
  EXPECT_EQ(run->error, "");
  EXPECT_EQ(run->last_seq, 3u);
  EXPECT_EQ(run->updated_ms, MakeEvents(3, 1)[0].time_ms);

  // An update without events is still applied.
  RunUpdate fail;
  fail.status = RunStatus::kFailed;
  fail.error = "timeout: too slow";
  ASSERT_TRUE(store_->AppendSync("r1", {}, fail).ok());
  run = store_->GetRun("r1");
  EXPECT_EQ(run->status, RunStatus::kFailed);
  EXPECT_EQ(run->error, "timeout: too slow");
  EXPECT_EQ(run->last_seq, 3u);
  EXPECT_EQ(run->outputs, *finish.outputs);
}

TEST_P(StoreConformanceTest, DailySpendAddsUpWithAppendsAndSurvivesReopen) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  EXPECT_EQ(*store_->DailySpend("2026-11-21", "*"), 0.0);
  RunUpdate u;
  u.spend = {{"2026-11-21", "*", 0.25, 100}, {"2026-11-21", "workflow:w", 0.25, 100}};
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(1, 1), u).ok());
  u.spend = {{"2026-11-21", "*", 0.5, 10}, {"2026-11-22", "*", 1.0, 10}};
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(2, 1), u).ok());
  EXPECT_DOUBLE_EQ(*store_->DailySpend("2026-11-21", "*"), 0.75);
  EXPECT_DOUBLE_EQ(*store_->DailySpend("2026-11-21", "workflow:w"), 0.25);
  EXPECT_DOUBLE_EQ(*store_->DailySpend("2026-11-22", "*"), 1.0);
  EXPECT_EQ(*store_->DailySpend("2026-11-22", "workflow:w"), 0.0);
  // A rejected batch (sequence gap) adds nothing.
  u.spend = {{"2026-11-21", "*", 9.0, 1}};
  EXPECT_FALSE(store_->AppendSync("r1", MakeEvents(9, 1), u).ok());
  EXPECT_DOUBLE_EQ(*store_->DailySpend("2026-11-21", "*"), 0.75);
  if (!GetParam().persistent) return;
  store_.reset();
  store_ = Open();
  EXPECT_DOUBLE_EQ(*store_->DailySpend("2026-11-21", "*"), 0.75);
}

TEST_P(StoreConformanceTest, ResponseCacheHonoursExpiryAndReplaces) {
  EXPECT_FALSE(store_->GetCached("k", 1000)->has_value());
  ASSERT_TRUE(store_->PutCached("k", "v1", 1000, 2000).ok());
  EXPECT_EQ(store_->GetCached("k", 1500)->value_or(""), "v1");
  EXPECT_FALSE(store_->GetCached("k", 2000)->has_value());  // expired at 2000
  ASSERT_TRUE(store_->PutCached("k", "v2", 1000, 5000).ok());
  EXPECT_EQ(store_->GetCached("k", 2500)->value_or(""), "v2");
  ASSERT_TRUE(store_->PutCached("other", std::string(100000, 'x'), 1000, 9000).ok());
  EXPECT_EQ(store_->GetCached("other", 1000)->value_or("").size(), 100000u);
  if (!GetParam().persistent) return;
  store_.reset();
  store_ = Open();
  EXPECT_EQ(store_->GetCached("k", 2500)->value_or(""), "v2");
}

TEST_P(StoreConformanceTest, ListRunsNewestFirstWithFilters) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("a", "alpha", 100, RunStatus::kSucceeded)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("b", "beta", 300, RunStatus::kRunning)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("c", "alpha", 200, RunStatus::kRunning)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("d", "alpha", 400, RunStatus::kFailed)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("e", "beta", 400, RunStatus::kRunning)).ok());

  RunFilter all;
  EXPECT_EQ(Ids(*store_->ListRuns(all)), (std::vector<std::string>{"e", "d", "b", "c", "a"}));
  RunFilter running;
  running.status = RunStatus::kRunning;
  EXPECT_EQ(Ids(*store_->ListRuns(running)), (std::vector<std::string>{"e", "b", "c"}));
  RunFilter alpha;
  alpha.workflow_name = "alpha";
  EXPECT_EQ(Ids(*store_->ListRuns(alpha)), (std::vector<std::string>{"d", "c", "a"}));
  RunFilter running_alpha = running;
  running_alpha.workflow_name = "alpha";
  EXPECT_EQ(Ids(*store_->ListRuns(running_alpha)), (std::vector<std::string>{"c"}));
  RunFilter two;
  two.limit = 2;
  EXPECT_EQ(Ids(*store_->ListRuns(two)), (std::vector<std::string>{"e", "d"}));
  RunFilter none;
  none.workflow_name = "gamma";
  EXPECT_TRUE(store_->ListRuns(none)->empty());

  // Status changes made by appends are what the filter sees.
  RunUpdate finish;
  finish.status = RunStatus::kSucceeded;
  ASSERT_TRUE(store_->AppendSync("b", MakeEvents(1, 1), finish).ok());
  EXPECT_EQ(Ids(*store_->ListRuns(running)), (std::vector<std::string>{"e", "c"}));
}

TEST_P(StoreConformanceTest, CancelRequest) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  EXPECT_FALSE(*store_->IsCancelRequested("r1"));
  ASSERT_TRUE(store_->RequestCancel("r1").ok());
  EXPECT_TRUE(*store_->IsCancelRequested("r1"));
  EXPECT_TRUE(store_->GetRun("r1")->cancel_requested);
  EXPECT_TRUE(store_->RequestCancel("r1").ok());  // idempotent
  EXPECT_EQ(store_->RequestCancel("nope").code(), Code::kNotFound);
  EXPECT_EQ(store_->IsCancelRequested("nope").status().code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, BlobsAreContentAddressed) {
  Result<std::string> hash = store_->PutBlob("hello");
  ASSERT_TRUE(hash.ok()) << hash.status().ToString();
  EXPECT_EQ(*hash, Sha256Hex("hello"));
  EXPECT_EQ(*store_->PutBlob("hello"), *hash);  // idempotent
  EXPECT_EQ(*store_->GetBlob(*hash), "hello");

  std::string large(1 << 20, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>((i * 131) % 256);
  Result<std::string> large_hash = store_->PutBlob(large);
  ASSERT_TRUE(large_hash.ok());
  EXPECT_EQ(*large_hash, Sha256Hex(large));
  Result<std::string> large_back = store_->GetBlob(*large_hash);
  ASSERT_TRUE(large_back.ok());
  EXPECT_TRUE(*large_back == large);

  Result<std::string> empty_hash = store_->PutBlob("");
  ASSERT_TRUE(empty_hash.ok());
  EXPECT_EQ(*store_->GetBlob(*empty_hash), "");

  EXPECT_EQ(store_->GetBlob(Sha256Hex("never stored")).status().code(), Code::kNotFound);
}

TEST_P(StoreConformanceTest, FlushWaitsForEarlierAppends) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  std::atomic<int> ok_callbacks{0};
  constexpr int kBatches = 200;
  for (int i = 0; i < kBatches; ++i) {
    store_->Append("r1", MakeEvents(static_cast<uint64_t>(2 * i + 1), 2), std::nullopt,
                   [&](Status s) {
                     if (s.ok()) ok_callbacks.fetch_add(1);
                   });
  }
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_EQ(ok_callbacks.load(), kBatches);
  EXPECT_EQ(store_->ReadEvents("r1")->size(), 2u * kBatches);
  EXPECT_EQ(store_->GetRun("r1")->last_seq, 2u * kBatches);
}

TEST_P(StoreConformanceTest, ConcurrentAppendsFromEightThreads) {
  constexpr int kThreads = 8;
  constexpr int kBatchesPerThread = 150;
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_TRUE(store_->CreateRun(MakeRun("run" + std::to_string(t))).ok());
  }
  std::atomic<int> ok_callbacks{0};
  std::atomic<int> failed_callbacks{0};
  std::vector<uint64_t> expected_last(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string run = "run" + std::to_string(t);
      uint64_t next = 1;
      for (int b = 0; b < kBatchesPerThread; ++b) {
        size_t count = 1 + static_cast<size_t>((b + t) % 3);
        auto done = [&](Status s) { (s.ok() ? ok_callbacks : failed_callbacks).fetch_add(1); };
        if (b % 10 == 9) {
          done(store_->AppendSync(run, MakeEvents(next, count)));
        } else {
          store_->Append(run, MakeEvents(next, count), std::nullopt, done);
        }
        next += count;
      }
      expected_last[static_cast<size_t>(t)] = next - 1;
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_EQ(ok_callbacks.load(), kThreads * kBatchesPerThread);
  EXPECT_EQ(failed_callbacks.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    std::string run = "run" + std::to_string(t);
    Result<std::vector<Event>> events = store_->ReadEvents(run);
    ASSERT_TRUE(events.ok());
    uint64_t last = expected_last[static_cast<size_t>(t)];
    ASSERT_EQ(events->size(), last) << run;
    for (size_t i = 0; i < events->size(); ++i) {
      ASSERT_EQ((*events)[i].seq, i + 1) << run;
      ASSERT_EQ((*events)[i].step, "step" + std::to_string(i + 1)) << run;
    }
    EXPECT_EQ(store_->GetRun(run)->last_seq, last);
  }
}

// ---- Waits and the event bus.

TEST_P(StoreConformanceTest, SignalsAreReadUntilAnAppendConsumesThem) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("r2")).ok());
  EXPECT_EQ(store_->PostSignal("nope", {{"kind", "approval"}}, 5).status().code(), Code::kNotFound);
  EXPECT_EQ(store_->ReadSignals("nope").status().code(), Code::kNotFound);
  Result<int64_t> a = store_->PostSignal("r1", {{"kind", "approval"}, {"step", "a"}}, 5);
  Result<int64_t> b = store_->PostSignal("r1", {{"kind", "approval"}, {"step", "b"}}, 6);
  Result<int64_t> c = store_->PostSignal("r2", {{"kind", "approval"}, {"step", "c"}}, 7);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_LT(*a, *b);
  Result<std::vector<Signal>> got = store_->ReadSignals("r1");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].id, *a);
  EXPECT_EQ((*got)[0].run_id, "r1");
  EXPECT_EQ((*got)[0].data.at("step"), "a");
  EXPECT_EQ((*got)[0].created_ms, 5);
  EXPECT_EQ((*got)[1].id, *b);

  // Consumption belongs to the append that records the signal: a failed append consumes nothing.
  RunUpdate update;
  update.consume_signals = {*a, *c};  // c belongs to r2: not consumed by r1's append
  EXPECT_EQ(store_->AppendSync("r1", MakeEvents(5, 1), update).code(), Code::kFailedPrecondition);
  EXPECT_EQ(store_->ReadSignals("r1")->size(), 2u);
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(1, 1), update).ok());
  got = store_->ReadSignals("r1");
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].id, *b);
  EXPECT_EQ(store_->ReadSignals("r2")->size(), 1u);
}

TEST_P(StoreConformanceTest, ClaimRunIsACompareAndSetOfTheOwner) {
  RunRecord run = MakeRun("r1", "wf", 1000, RunStatus::kWaiting);
  ASSERT_TRUE(store_->CreateRun(run).ok());
  EXPECT_EQ(store_->ClaimRun("nope", 0, "", 1, "h").status().code(), Code::kNotFound);
  // Unowned and waiting: the first claim wins and makes it running; the second loses.
  EXPECT_TRUE(*store_->ClaimRun("r1", 0, "", 11, "host-a"));
  EXPECT_FALSE(*store_->ClaimRun("r1", 0, "", 12, "host-b"));
  Result<RunRecord> got = store_->GetRun("r1");
  EXPECT_EQ(got->owner_pid, 11);
  EXPECT_EQ(got->owner_host, "host-a");
  EXPECT_EQ(got->status, RunStatus::kRunning);
  // Taking over from a known (dead) owner names it, host included.
  EXPECT_FALSE(*store_->ClaimRun("r1", 11, "host-b", 13, "host-b"));
  EXPECT_TRUE(*store_->ClaimRun("r1", 11, "host-a", 13, "host-b"));
  // Releasing is an append; a finished run cannot be claimed.
  RunUpdate release;
  release.status = RunStatus::kWaiting;
  release.owner_pid = 0;
  release.owner_host = "";
  ASSERT_TRUE(store_->AppendSync("r1", {}, release).ok());
  EXPECT_EQ(store_->GetRun("r1")->status, RunStatus::kWaiting);
  RunFilter waiting;
  waiting.status = RunStatus::kWaiting;
  EXPECT_EQ(Ids(*store_->ListRuns(waiting)), (std::vector<std::string>{"r1"}));
  RunUpdate finish;
  finish.status = RunStatus::kSucceeded;
  ASSERT_TRUE(store_->AppendSync("r1", {}, finish).ok());
  EXPECT_FALSE(*store_->ClaimRun("r1", 0, "", 14, "host-a"));
}

TEST_P(StoreConformanceTest, PublishedEventsReachSubscribedRunsOnce) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("waiter")).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("other")).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("emitter")).ok());
  // Two waits of one run on the same name get one signal; a wait on another name none.
  RunUpdate sub;
  sub.subscribe = {{"w1", -1, "order.paid"}, {"w2", 0, "order.paid"}};
  ASSERT_TRUE(store_->AppendSync("waiter", MakeEvents(1, 1), sub).ok());
  RunUpdate sub2;
  sub2.subscribe = {{"w", -1, "order.shipped"}};
  ASSERT_TRUE(store_->AppendSync("other", MakeEvents(1, 1), sub2).ok());
  EXPECT_EQ(*store_->SubscribedRuns("order.paid"), (std::vector<std::string>{"waiter"}));

  BusEvent sent;
  sent.id = "ev1";
  sent.name = "order.paid";
  sent.data = json::value{{"order", 7}};
  sent.time_ms = 3000;
  Result<std::vector<std::string>> delivered = store_->PublishEvent(sent);
  ASSERT_TRUE(delivered.ok()) << delivered.status().ToString();
  EXPECT_EQ(*delivered, (std::vector<std::string>{"waiter"}));
  EXPECT_EQ(store_->PublishEvent(sent).status().code(), Code::kAlreadyExists);
  Result<std::vector<Signal>> inbox = store_->ReadSignals("waiter");
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].data.at("kind"), "event");
  EXPECT_EQ((*inbox)[0].data.at("id"), "ev1");
  EXPECT_EQ((*inbox)[0].data.at("event"), "order.paid");
  EXPECT_EQ((*inbox)[0].data.at("data"), sent.data);
  EXPECT_TRUE(store_->ReadSignals("other")->empty());

  // An emit is published by the append that journals it, and delivered in the same commit.
  RunUpdate emit;
  emit.publish.push_back({"ev2", "order.paid", json::value{{"order", 8}}, "emitter", 0, false});
  ASSERT_TRUE(store_->AppendSync("emitter", MakeEvents(1, 1), emit).ok());
  EXPECT_EQ(store_->ReadSignals("waiter")->size(), 2u);
  // A repeated id fails the append, which then writes nothing.
  EXPECT_EQ(store_->AppendSync("emitter", MakeEvents(2, 1), emit).code(),
            Code::kFailedPrecondition);
  EXPECT_EQ(store_->GetRun("emitter")->last_seq, 1u);

  Result<std::vector<BusEvent>> listed = store_->ListEvents({});
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_EQ((*listed)[0].id, "ev2");  // newest first
  EXPECT_EQ((*listed)[0].source_run, "emitter");
  EXPECT_EQ((*listed)[0].time_ms, 2001);  // the append's last event time
  EXPECT_EQ((*listed)[1].id, "ev1");
  EXPECT_EQ((*listed)[1].data, sent.data);
  EXPECT_TRUE((*listed)[1].triggers_done);  // no trigger is registered for the name
  EXPECT_EQ(store_->ListEvents({.name = "order.shipped"})->size(), 0u);
  EXPECT_EQ(store_->ListEvents({.name = "", .triggers_pending = false, .limit = 1})->size(), 1u);

  // A wait that ends unsubscribes; a finished run loses every subscription.
  RunUpdate done;
  done.unsubscribe = {{"w1", -1}};
  ASSERT_TRUE(store_->AppendSync("waiter", MakeEvents(2, 1), done).ok());
  EXPECT_EQ(*store_->SubscribedRuns("order.paid"), (std::vector<std::string>{"waiter"}));
  RunUpdate finish;
  finish.status = RunStatus::kFailed;
  ASSERT_TRUE(store_->AppendSync("waiter", MakeEvents(3, 1), finish).ok());
  EXPECT_TRUE(store_->SubscribedRuns("order.paid")->empty());
}

TEST_P(StoreConformanceTest, TriggersAreRegisteredByWorkflowAndEvent) {
  TriggerRecord t{"on-paid", "order.paid", "flows/on_paid.yaml", "abc", 10};
  ASSERT_TRUE(store_->PutTrigger(t).ok());
  ASSERT_TRUE(
      store_->PutTrigger({"on-paid", "order.refunded", "flows/on_paid.yaml", "abc", 10}).ok());
  ASSERT_TRUE(store_->PutTrigger({"audit", "order.paid", "flows/audit.yaml", "def", 11}).ok());
  t.workflow_blob = "abd";  // replaced, not added
  ASSERT_TRUE(store_->PutTrigger(t).ok());
  Result<std::vector<TriggerRecord>> paid = store_->ListTriggers("order.paid");
  ASSERT_EQ(paid->size(), 2u);
  EXPECT_EQ((*paid)[0].workflow, "audit");
  EXPECT_EQ((*paid)[1].workflow, "on-paid");
  EXPECT_EQ((*paid)[1].workflow_blob, "abd");
  EXPECT_EQ((*paid)[1].workflow_file, "flows/on_paid.yaml");
  EXPECT_EQ(store_->ListTriggers("")->size(), 3u);

  // Events with triggers stay pending until their runs are created.
  ASSERT_TRUE(store_->PublishEvent({"e1", "order.paid", json::value(1), "", 50, false}).ok());
  ASSERT_TRUE(store_->PublishEvent({"e2", "nobody.listens", json::value(2), "", 51, false}).ok());
  Result<std::vector<BusEvent>> pending = store_->ListEvents({.triggers_pending = true});
  ASSERT_EQ(pending->size(), 1u);
  EXPECT_EQ((*pending)[0].id, "e1");
  ASSERT_TRUE(store_->MarkTriggersDone("e1").ok());
  EXPECT_EQ(store_->MarkTriggersDone("e9").code(), Code::kNotFound);
  EXPECT_TRUE(store_->ListEvents({.triggers_pending = true})->empty());

  EXPECT_EQ(*store_->RemoveTriggers("on-paid"), 2);
  EXPECT_EQ(*store_->RemoveTriggers("on-paid"), 0);
  EXPECT_EQ(store_->ListTriggers("")->size(), 1u);
}

TEST_P(StoreConformanceTest, PersistsAcrossReopen) {
  if (!GetParam().persistent) GTEST_SKIP() << "backend keeps nothing after close";
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  RunUpdate finish;
  finish.status = RunStatus::kSucceeded;
  finish.outputs = json::value{{"x", 1}};
  ASSERT_TRUE(store_->AppendSync("r1", MakeEvents(1, 3), finish).ok());
  ASSERT_TRUE(store_->RequestCancel("r1").ok());
  Result<std::string> hash = store_->PutBlob("payload");
  ASSERT_TRUE(hash.ok());
  store_.reset();

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  Result<RunRecord> run = store_->GetRun("r1");
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->status, RunStatus::kSucceeded);
  EXPECT_EQ(run->outputs, *finish.outputs);
  EXPECT_EQ(run->last_seq, 3u);
  EXPECT_TRUE(run->cancel_requested);
  EXPECT_EQ(Seqs(*store_->ReadEvents("r1")), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(*store_->GetBlob(*hash), "payload");
  // The sequence continues where it stopped.
  EXPECT_EQ(store_->AppendSync("r1", MakeEvents(3, 1)).code(), Code::kFailedPrecondition);
  EXPECT_TRUE(store_->AppendSync("r1", MakeEvents(4, 1)).ok());
}

TEST_P(StoreConformanceTest, SecondStoreReadsWhileAppendsHappen) {
  if (!GetParam().persistent) GTEST_SKIP() << "backend cannot be opened twice";
  ASSERT_TRUE(store_->CreateRun(MakeRun("r1")).ok());
  std::unique_ptr<Store> reader = Open();
  ASSERT_NE(reader, nullptr);

  constexpr uint64_t kBatches = 300;
  std::atomic<bool> written{false};
  std::thread writer([&] {
    for (uint64_t b = 0; b < kBatches; ++b) {
      store_->Append("r1", MakeEvents(2 * b + 1, 2), std::nullopt, [](Status) {});
    }
    EXPECT_TRUE(store_->Flush().ok());
    written.store(true);
  });
  // Every read is a dense prefix of the final journal and never shrinks.
  size_t seen = 0;
  do {
    Result<std::vector<Event>> events = reader->ReadEvents("r1");
    ASSERT_TRUE(events.ok()) << events.status().ToString();
    ASSERT_GE(events->size(), seen);
    for (size_t i = 0; i < events->size(); ++i) ASSERT_EQ((*events)[i].seq, i + 1);
    seen = events->size();
  } while (!written.load());
  writer.join();
  EXPECT_EQ(reader->ReadEvents("r1")->size(), 2 * kBatches);
  EXPECT_EQ(reader->GetRun("r1")->last_seq, 2 * kBatches);
}

// What ScanRuns visited, as "run" and "run/seq:type" entries in visiting order.
std::vector<std::string> Scan(Store& store, const ScanFilter& filter) {
  std::vector<std::string> seen;
  std::string run_id;
  ScanVisitor visitor;
  visitor.run = [&](const RunRecord& run) {
    run_id = run.id;
    seen.push_back(run.id);
    return Status::Ok();
  };
  visitor.event = [&](const Event& e) {
    seen.push_back(run_id + "/" + std::to_string(e.seq) + ":" +
                   std::string(core::EventTypeName(e.type)));
    return Status::Ok();
  };
  Status st = store.ScanRuns(filter, visitor);
  EXPECT_TRUE(st.ok()) << st.ToString();
  return seen;
}

TEST_P(StoreConformanceTest, ScanRunsOldestFirstWithTheirEvents) {
  ASSERT_TRUE(store_->CreateRun(MakeRun("d", "alpha", 300)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("a", "alpha", 100)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("b", "beta", 300)).ok());
  ASSERT_TRUE(store_->CreateRun(MakeRun("c", "alpha", 200)).ok());
  std::vector<Event> a_events = MakeEvents(1, 3);
  a_events[1].type = EventType::kModelCalled;
  a_events[1].data = {{"model", "fast"}, {"usage", {{"input_tokens", 7}}}};
  ASSERT_TRUE(store_->AppendSync("a", a_events).ok());
  ASSERT_TRUE(store_->AppendSync("b", MakeEvents(1, 2)).ok());
  ASSERT_TRUE(store_->AppendSync("d", MakeEvents(1, 1)).ok());

  // Oldest first, ties by id; a run without events is visited too.
  EXPECT_EQ(Scan(*store_, {}),
            (std::vector<std::string>{"a", "a/1:step_succeeded", "a/2:model_called",
                                      "a/3:step_succeeded", "c", "b", "b/1:step_succeeded",
                                      "b/2:step_succeeded", "d", "d/1:step_succeeded"}));
  ScanFilter since;
  since.created_since_ms = 200;
  since.types = {EventType::kModelCalled, EventType::kRunFinished};
  EXPECT_EQ(Scan(*store_, since), (std::vector<std::string>{"c", "b", "d"}));
  ScanFilter alpha;
  alpha.workflow_name = "alpha";
  alpha.types = {EventType::kModelCalled};
  EXPECT_EQ(Scan(*store_, alpha), (std::vector<std::string>{"a", "a/2:model_called", "c", "d"}));

  // Every field arrives: the run record whole, the event with its data.
  ScanVisitor check;
  int runs = 0;
  check.run = [&](const RunRecord& run) {
    ++runs;
    EXPECT_EQ(run.workflow_file, "flows/" + run.workflow_name + ".yaml");
    EXPECT_EQ(run.inputs.at("topic"), "rivers");
    // Visitors may read the store while the scan is under way.
    Result<RunRecord> again = store_->GetRun(run.id);
    EXPECT_TRUE(again.ok());
    return Status::Ok();
  };
  check.event = [&](const Event& e) {
    EXPECT_EQ(e.step, "step2");
    EXPECT_EQ(e.time_ms, 2002);
    EXPECT_EQ(e.data.at("usage").at("input_tokens"), 7);
    return Status::Ok();
  };
  ASSERT_TRUE(store_->ScanRuns(alpha, check).ok());
  EXPECT_EQ(runs, 3);

  // A visitor's error stops the scan and comes back.
  ScanVisitor stop;
  int events = 0;
  stop.event = [&](const Event&) {
    return ++events == 2 ? Status(Code::kCancelled, "enough") : Status::Ok();
  };
  Status st = store_->ScanRuns({}, stop);
  EXPECT_EQ(st.code(), Code::kCancelled);
  EXPECT_EQ(events, 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& param_info) {
                           return param_info.param.name;
                         });

}  // namespace
}  // namespace baton::store
