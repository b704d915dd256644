#pragma once

// Ctrl-C and SIGTERM for long-running commands. Construct before any other thread exists (the
// engine's threads inherit the blocked mask); the first signal calls `on_signal` from the
// watcher thread, a second one exits the process at once with status 130 (the journal is
// consistent at every point, so nothing is lost).

#include <atomic>
#include <functional>
#include <thread>

namespace baton::cli {

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
