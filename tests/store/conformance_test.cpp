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

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformanceTest, ::testing::ValuesIn(kBackends),
                         [](const ::testing::TestParamInfo<Backend>& param_info) {
                           return param_info.param.name;
                         });

}  // namespace
}  // namespace baton::store
