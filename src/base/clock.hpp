#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace baton {

using Millis = std::chrono::milliseconds;

// Source of wall-clock time. Every module reads time only through an injected Clock so tests
// are deterministic. Implementations are safe to call from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch.
  virtual int64_t NowMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t NowMillis() const override;
  // The process-wide instance.
  static SystemClock& Get();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_millis = 1'700'000'000'000) : now_(start_millis) {}
  int64_t NowMillis() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(Millis d) { now_.fetch_add(d.count(), std::memory_order_relaxed); }
  void Set(int64_t millis) { now_.store(millis, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision.
std::string FormatTimestamp(int64_t epoch_millis);

}  // namespace baton
