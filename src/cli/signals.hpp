#pragma once

// Ctrl-C and SIGTERM for long-running commands. Call BlockInterruptSignals() before any other
// thread exists (they inherit the blocked mask); the first signal calls `on_signal` from the
// watcher thread, a second one exits the process at once with status 130 (the journal is
// consistent at every point, so nothing is lost).

#include <atomic>
#include <functional>
#include <thread>

namespace baton::cli {

// Blocks SIGINT and SIGTERM in the calling thread, so every thread created afterwards (the
// store's writer, the engine's workers) inherits the mask and only the watcher receives them.
// Call first thing in main() for commands that install a SignalWatcher.
void BlockInterruptSignals();

class SignalWatcher {
 public:
  explicit SignalWatcher(std::function<void()> on_signal);
  ~SignalWatcher();
  bool fired() const { return fired_.load(); }

 private:
  std::function<void()> on_signal_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fired_{false};
  std::thread thread_;
};

}  // namespace baton::cli
