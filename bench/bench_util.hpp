#pragma once

// Small helpers for the engine benchmarks: timing, temporary directories, process memory and a
// plain-text results table. Single-threaded use only (the benchmark's main thread).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace baton::bench {

using BenchClock = std::chrono::steady_clock;

// The journals the benchmarks compare.
enum class StoreKind { kMemory, kSqliteNormal, kSqliteFull };
const char* StoreName(StoreKind k);

// Seconds elapsed since `start`.
double SecondsSince(BenchClock::time_point start);

// Runs `fn` `reps` times; returns every duration in seconds, in run order.
std::vector<double> Repeat(int reps, const std::function<void()>& fn);
double Median(std::vector<double> v);
double Min(const std::vector<double>& v);

// A fresh directory under /tmp, removed (recursively) by the destructor.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Resident set size now, from /proc/self/statm, in bytes.
int64_t RssBytes();
// Peak resident set size of the process so far (getrusage), in bytes.
int64_t PeakRssBytes();
// Bytes of heap the program holds now (glibc mallinfo2: allocated, not yet freed). Unlike RSS
// it does not hide growth behind memory an earlier phase freed.
int64_t HeapInUseBytes();

// Writes `n` records of `bytes` bytes to a new file in `dir`, each followed by fdatasync, and
// returns the seconds per write+flush: the floor of any durable commit on this disk. With
// `overwrite` the file is preallocated first and the records overwrite it in place (what a
// reused WAL does); otherwise each record appends and grows the file.
double FlushFloorSeconds(const std::string& dir, int n, size_t bytes, bool overwrite);

// Aborts the benchmark with `what` on stderr.
[[noreturn]] void Die(const std::string& what);

// A results table printed as Markdown. Rows are added in order; Print() writes to stdout.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}
  void Add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  void Print(const std::string& title) const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Formats a duration in seconds with a unit chosen for readability (ns, µs, ms, s).
std::string FormatSeconds(double s);
std::string FormatMiB(int64_t bytes);

}  // namespace baton::bench
