#include "fault_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <mutex>

namespace baton::store::testing {
namespace {

constexpr const char* kName = "baton_fault";

std::atomic<bool> g_armed{false};
sqlite3_vfs g_vfs;
std::once_flag g_methods_once;
const sqlite3_io_methods* g_base_methods = nullptr;
sqlite3_io_methods g_methods;

int FaultWrite(sqlite3_file* file, const void* data, int amount, sqlite3_int64 offset) {
  if (g_armed.load()) return SQLITE_IOERR_WRITE;
  return g_base_methods->xWrite(file, data, amount, offset);
}

int FaultSync(sqlite3_file* file, int flags) {
  if (g_armed.load()) return SQLITE_IOERR_FSYNC;
  return g_base_methods->xSync(file, flags);
}

int FaultOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* base = static_cast<sqlite3_vfs*>(vfs->pAppData);
  int rc = base->xOpen(base, name, file, flags, out_flags);
  if (rc != SQLITE_OK || file->pMethods == nullptr || (flags & SQLITE_OPEN_WAL) == 0) return rc;
  std::call_once(g_methods_once, [file] {
    g_base_methods = file->pMethods;
    g_methods = *file->pMethods;
    g_methods.xWrite = FaultWrite;
    g_methods.xSync = FaultSync;
  });
  if (file->pMethods == g_base_methods) file->pMethods = &g_methods;
  return rc;
}

}  // namespace

const char* FaultVfsName() {
  static std::once_flag once;
  std::call_once(once, [] {
    sqlite3_vfs* base = sqlite3_vfs_find(nullptr);
    g_vfs = *base;
    g_vfs.pNext = nullptr;
    g_vfs.zName = kName;
    g_vfs.pAppData = base;
    g_vfs.xOpen = FaultOpen;
    sqlite3_vfs_register(&g_vfs, 0);
  });
  return kName;
}

void ArmFaultVfs(bool armed) { g_armed.store(armed); }

}  // namespace baton::store::testing
