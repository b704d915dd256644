#pragma once

// A retry budget for one (provider, endpoint, model), Finagle/Envoy style: over a sliding
// window, retries may be at most `ratio` of first attempts plus `min_per_second` per second of
// the window. First attempts are never limited; only the permission to retry is. Pure: time is
// passed in; not synchronized (the hub locks).

#include <cstdint>

#include "base/clock.hpp"
#include "providers/admission/sliding_window.hpp"

namespace baton::providers::admission {

struct RetryBudgetConfig {
  bool enabled = true;
  double ratio = 0.2;         // retries allowed per first attempt
  double min_per_second = 1;  // retries allowed regardless of traffic, per second of window
  Millis window{10'000};
};

struct RetryCounts {
  int64_t first_attempts = 0;
  int64_t retries = 0;
  double allowed = 0;  // retries the budget allows over the current window
};

class RetryBudget {
 public:
  explicit RetryBudget(RetryBudgetConfig config);

  // Counts a call sent to the provider: a retry when `retry` (ChatRequest::attempt > 1).
  void RecordAttempt(bool retry, int64_t now_ms);
  // Whether one more retry fits the budget now. Always true when disabled.
  bool CanRetry(int64_t now_ms) const;
  RetryCounts Counts(int64_t now_ms) const;
  const RetryBudgetConfig& config() const { return config_; }

 private:
  RetryBudgetConfig config_;
  SlidingWindow window_;  // a: first attempts, b: retries
};

}  // namespace baton::providers::admission
