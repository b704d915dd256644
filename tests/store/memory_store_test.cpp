// Memory-store specifics: appends complete inline on the caller's thread.

#include <gtest/gtest.h>

#include <thread>

#include "store/store.hpp"

namespace baton::store {
namespace {

TEST(MemoryStoreTest, AppendCompletesBeforeReturningOnTheCallersThread) {
  std::unique_ptr<Store> store = NewMemoryStore();
  RunRecord run;
  run.id = "r1";
  ASSERT_TRUE(store->CreateRun(run).ok());
  core::Event event;
  event.seq = 1;
  bool called = false;
  std::thread::id callback_thread;
  store->Append("r1", {event}, std::nullopt, [&](Status s) {
    EXPECT_TRUE(s.ok());
    called = true;
    callback_thread = std::this_thread::get_id();
  });
  EXPECT_TRUE(called);
  EXPECT_EQ(callback_thread, std::this_thread::get_id());
  EXPECT_EQ(store->ReadEvents("r1")->size(), 1u);
}

}  // namespace
}  // namespace baton::store
