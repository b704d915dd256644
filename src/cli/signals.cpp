#include "cli/signals.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace baton::cli {

namespace {

sigset_t InterruptSet() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockInterruptSignals() {
  sigset_t set = InterruptSet();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Sent to the watcher thread alone to end its wait at once (its default action is to ignore it,
// so a stray one elsewhere does nothing).
constexpr int kWakeSignal = SIGURG;

SignalWatcher::SignalWatcher(std::function<void()> on_signal) : on_signal_(std::move(on_signal)) {
  BlockInterruptSignals();
  sigset_t set = InterruptSet();
  sigaddset(&set, kWakeSignal);
  thread_ = std::thread([this, set] {
    sigset_t wake;
    sigemptyset(&wake);
    sigaddset(&wake, kWakeSignal);
    pthread_sigmask(SIG_BLOCK, &wake, nullptr);
    timespec wait{0, 100'000'000};  // a wake signal sent before the mask took effect is lost
    while (!stop_.load()) {
      int sig = sigtimedwait(&set, nullptr, &wait);
      if (sig <= 0 || sig == kWakeSignal) continue;
      if (fired_.exchange(true)) {
        std::fputs("\nbaton: interrupted again; exiting now (the run can be resumed)\n", stderr);
        _exit(130);
      }
      std::fputs("\nbaton: cancelling the run (press Ctrl-C again to exit at once)\n", stderr);
      on_signal_();
    }
  });
}

SignalWatcher::~SignalWatcher() {
  stop_.store(true);
  pthread_kill(thread_.native_handle(), kWakeSignal);
  thread_.join();
}

}  // namespace baton::cli
