#pragma once

// A SQLite VFS for tests that forwards to the platform default and, while armed, fails every
// write and sync of WAL files with SQLITE_IOERR: a disk that stops accepting the journal.

namespace baton::store::testing {

// Registers the VFS (once, not as the default) and returns its name.
const char* FaultVfsName();

// While armed, WAL writes and syncs fail. Thread-safe.
void ArmFaultVfs(bool armed);

}  // namespace baton::store::testing
