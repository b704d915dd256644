#pragma once

// Runs WAL checkpoints on a thread of its own, so their fsyncs stay off the commit path.
// The writer connection's automatic checkpoints are replaced by a WAL hook that asks this thread
// to checkpoint once the WAL passes kCheckpointPages; if the WAL still grows past
// kWalLimitPages (a writer that never pauses lets no PASSIVE checkpoint catch up) the writer
// checkpoints inline, which bounds the WAL.

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "base/status.hpp"
#include "store/sqlite/database.hpp"
#include "store/store.hpp"

namespace baton::store::sqlite {

inline constexpr int kCheckpointPages = 1000;
inline constexpr int kWalLimitPages = 16000;

class Checkpointer {
 public:
  // Opens a connection of its own to `path` and starts the thread. `on_io_error` runs on that
  // thread when a checkpoint fails with an I/O error.
  static Result<std::unique_ptr<Checkpointer>> Start(const std::string& path,
                                                     const SqliteOptions& options,
                                                     std::function<void(Status)> on_io_error);
  // Waits for a running checkpoint, then stops the thread.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Installs the WAL hook on `writer`, which must outlive this object's use by it. The hook
  // runs on the writer's thread after each commit.
  void Attach(Database& writer);

 private:
  Checkpointer(std::unique_ptr<Database> db, std::function<void(Status)> on_io_error);
  static int WalHook(void* self, struct sqlite3* db, const char* name, int wal_pages);
  void Request();
  void Loop();

  std::unique_ptr<Database> db_;  // used only by thread_
  std::function<void(Status)> on_io_error_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace baton::store::sqlite
