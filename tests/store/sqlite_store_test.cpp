// SQLite-specific behaviour of the journal: the file it leaves behind, WAL concurrency with
// other connections, schema versioning, and poisoning after an I/O error.

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "fault_vfs.hpp"
#include "store/store.hpp"

namespace baton::store {
namespace {

using core::Event;
using core::EventType;

RunRecord MakeRun(std::string id) {
  RunRecord run;
  run.id = std::move(id);
  run.workflow_name = "wf";
  return run;
}

std::vector<Event> MakeEvents(uint64_t first_seq, size_t count) {
  std::vector<Event> events(count);
  for (size_t i = 0; i < count; ++i) {
    events[i].seq = first_seq + i;
    events[i].type = EventType::kStepStarted;
    events[i].step = "s";
    events[i].data = {{"i", first_seq + i}};
  }
  return events;
}

// A plain SQLite connection to the journal file, as another tool would open it.
class RawConnection {
 public:
  explicit RawConnection(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  }
  ~RawConnection() { sqlite3_close(db_); }

  // The first column of the first row of `sql`, as text ("" when there is no row).
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(stmt, 0);
      out = text != nullptr ? reinterpret_cast<const char*>(text) : "";
    }
    sqlite3_finalize(stmt);
    return out;
  }

  void Exec(const std::string& sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql;
  }

 private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name) {
      if (c == '/') c = '_';
    }
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("baton_sqlite_" + std::to_string(getpid())) / name;
    std::filesystem::remove_all(dir_);
    path_ = (dir_ / "nested" / "dirs" / "journal.db").string();
    options_.synchronous_full = GetParam();
  }

  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> Open() {
    Result<std::unique_ptr<Store>> store = OpenSqliteStore(path_, options_);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  std::filesystem::path dir_;
  std::string path_;
  SqliteOptions options_;
};

TEST_P(SqliteStoreTest, FileIsIntactAfterABurst) {
  constexpr int kThreads = 4;
  constexpr uint64_t kBatches = 250;
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_TRUE(store->CreateRun(MakeRun("run" + std::to_string(t))).ok());
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      std::string run = "run" + std::to_string(t);
      threads.emplace_back([&store, run] {
        for (uint64_t b = 0; b < kBatches; ++b) {
          store->Append(run, MakeEvents(2 * b + 1, 2), std::nullopt, [](Status) {});
          if (b % 50 == 0) {
            EXPECT_TRUE(store->PutBlob(run + std::to_string(b)).ok());
          }
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_TRUE(store->Flush().ok());
  }
  RawConnection raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA integrity_check"), "ok");
  EXPECT_EQ(raw.Query("PRAGMA foreign_key_check"), "");
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.Query("PRAGMA user_version"), "3");
  EXPECT_EQ(raw.Query("SELECT count(*) FROM events"), std::to_string(kThreads * kBatches * 2));
  EXPECT_EQ(raw.Query("SELECT count(*) FROM blobs"), std::to_string(kThreads * 5));
  EXPECT_EQ(raw.Query("SELECT min(last_seq) FROM runs"), std::to_string(kBatches * 2));
}

TEST_P(SqliteStoreTest, VersionOneJournalGainsTheSpendLedger) {
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CreateRun(MakeRun("old")).ok());
  }
  {
    RawConnection raw(path_);
    raw.Query("DROP TABLE spend");
    raw.Query("DROP TABLE response_cache");
    for (const char* table : {"signals", "bus_events", "subscriptions", "triggers"}) {
      raw.Exec(std::string("DROP TABLE ") + table);
    }
    raw.Query("PRAGMA user_version = 1");
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->GetRun("old").ok());
  RunUpdate u;
  u.spend = {{"2026-11-21", "*", 0.5, 1}};
  ASSERT_TRUE(store->AppendSync("old", MakeEvents(1, 1), u).ok());
  EXPECT_DOUBLE_EQ(*store->DailySpend("2026-11-21", "*"), 0.5);
  store.reset();
  RawConnection raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA user_version"), "3");
}

TEST_P(SqliteStoreTest, VersionTwoJournalGainsTheEventBus) {
  {
    std::unique_ptr<Store> store = Open();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->CreateRun(MakeRun("old")).ok());
  }
  {
    RawConnection raw(path_);
    for (const char* table : {"signals", "bus_events", "subscriptions", "triggers"}) {
      raw.Exec(std::string("DROP TABLE ") + table);
    }
    raw.Exec("PRAGMA user_version = 2");
  }
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->GetRun("old").ok());
  EXPECT_TRUE(store->PostSignal("old", {{"kind", "approval"}}, 1).ok());
  EXPECT_EQ(store->ReadSignals("old")->size(), 1u);
  EXPECT_TRUE(store->PutTrigger({"wf", "ev", "wf.yaml", "h", 1}).ok());
  store.reset();
  RawConnection raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA user_version"), "3");
}

TEST_P(SqliteStoreTest, OpenReadTransactionDoesNotBlockAppends) {
  options_.busy_timeout_ms = 0;  // any wait for a lock would fail the append at once
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateRun(MakeRun("r1")).ok());
  ASSERT_TRUE(store->AppendSync("r1", MakeEvents(1, 1)).ok());

  RawConnection reader(path_);
  reader.Exec("BEGIN");
  EXPECT_EQ(reader.Query("SELECT count(*) FROM events"), "1");
  ASSERT_TRUE(store->AppendSync("r1", MakeEvents(2, 2)).ok());
  EXPECT_EQ(reader.Query("SELECT count(*) FROM events"), "1");  // its snapshot
  reader.Exec("COMMIT");
  EXPECT_EQ(reader.Query("SELECT count(*) FROM events"), "3");
  EXPECT_EQ(store->ReadEvents("r1")->size(), 3u);
}

TEST_P(SqliteStoreTest, RefusesANewerSchema) {
  { ASSERT_NE(Open(), nullptr); }
  {
    RawConnection raw(path_);
    raw.Exec("PRAGMA user_version = 99");
  }
  Result<std::unique_ptr<Store>> store = OpenSqliteStore(path_, options_);
  EXPECT_EQ(store.status().code(), Code::kFailedPrecondition);
}

TEST_P(SqliteStoreTest, RequiresAFilePath) {
  EXPECT_EQ(OpenSqliteStore("", options_).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(OpenSqliteStore(":memory:", options_).status().code(), Code::kInvalidArgument);
}

TEST_P(SqliteStoreTest, IoErrorPoisonsTheStore) {
  options_.vfs = testing::FaultVfsName();
  std::unique_ptr<Store> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->CreateRun(MakeRun("r1")).ok());
  ASSERT_TRUE(store->AppendSync("r1", MakeEvents(1, 1)).ok());

  testing::ArmFaultVfs(true);
  Status failed = store->AppendSync("r1", MakeEvents(2, 1));
  testing::ArmFaultVfs(false);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.ErrorType(), "io_error") << failed.ToString();

  // The disk works again, but the store keeps refusing writes with the same error.
  Status later = store->AppendSync("r1", MakeEvents(2, 1));
  EXPECT_EQ(later.code(), failed.code());
  EXPECT_EQ(later.message(), failed.message());
  EXPECT_EQ(store->CreateRun(MakeRun("r2")).message(), failed.message());
  EXPECT_EQ(store->Flush().message(), failed.message());
  // Reads still work and show only what was committed.
  EXPECT_EQ(store->ReadEvents("r1")->size(), 1u);
  EXPECT_EQ(store->GetRun("r1")->last_seq, 1u);
}

INSTANTIATE_TEST_SUITE_P(Synchronous, SqliteStoreTest, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? std::string("Full") : std::string("Normal");
                         });

}  // namespace
}  // namespace baton::store
