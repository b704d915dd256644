#include "store/sqlite/checkpointer.hpp"

#include <sqlite3.h>

#include <utility>

#include "store/sqlite/schema.hpp"

namespace baton::store::sqlite {

Result<std::unique_ptr<Checkpointer>> Checkpointer::Start(const std::string& path,
                                                          const SqliteOptions& options,
                                                          std::function<void(Status)> on_io_error) {
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                         Database::Open(path, SQLITE_OPEN_READWRITE, options.vfs));
  BATON_RETURN_IF_ERROR(ConfigureConnection(*db, options));
  return std::unique_ptr<Checkpointer>(new Checkpointer(std::move(db), std::move(on_io_error)));
}

Checkpointer::Checkpointer(std::unique_ptr<Database> db, std::function<void(Status)> on_io_error)
    : db_(std::move(db)), on_io_error_(std::move(on_io_error)) {
  thread_ = std::thread([this] { Loop(); });
}

Checkpointer::~Checkpointer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Checkpointer::Attach(Database& writer) { sqlite3_wal_hook(writer.raw(), &WalHook, this); }

int Checkpointer::WalHook(void* self, sqlite3* db, const char* name, int wal_pages) {
  if (wal_pages >= kWalLimitPages) {
    int rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    // Another process checkpointing (BUSY) is fine; an I/O error fails the commit's statement.
    return (rc & 0xff) == SQLITE_BUSY ? SQLITE_OK : rc;
  }
  if (wal_pages >= kCheckpointPages) static_cast<Checkpointer*>(self)->Request();
  return SQLITE_OK;
}

void Checkpointer::Request() {
  {
    std::lock_guard lock(mu_);
    if (requested_) return;
    requested_ = true;
  }
  cv_.notify_one();
}

void Checkpointer::Loop() {
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return requested_ || stopping_; });
      if (stopping_) return;
    }
    int rc =
        sqlite3_wal_checkpoint_v2(db_->raw(), "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (rc != SQLITE_OK) {
      Status status = SqliteError(rc, db_->raw(), "checkpoint");
      if (IsIoError(status)) on_io_error_(std::move(status));
    }
    std::lock_guard lock(mu_);
    requested_ = false;
  }
}

}  // namespace baton::store::sqlite
