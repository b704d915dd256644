#pragma once

// A circuit breaker for one (provider, endpoint, model): CLOSED -> OPEN after `failures`
// consecutive failures or a failure rate over a sliding window; OPEN rejects calls for
// `open_for`; then HALF_OPEN admits `half_open_probes` probe calls: when all of them succeed it
// closes, when one fails it opens again. Only outcomes the caller classifies as provider trouble
// are failures (see CallOutcome). Pure: time is passed in; not synchronized (the hub locks).

#include <cstdint>
#include <string_view>

#include "base/clock.hpp"
#include "providers/admission/sliding_window.hpp"

namespace baton::providers::admission {

struct BreakerConfig {
  bool enabled = true;
  int failures = 5;           // consecutive failures that open it; 0: off
  double failure_rate = 0.5;  // failures / calls over `window` that opens it; 0: off
  int min_calls = 20;         // calls in `window` before `failure_rate` applies
  Millis window{30'000};
  Millis open_for{30'000};
  int half_open_probes = 1;
};

enum class BreakerState { kClosed, kOpen, kHalfOpen };
std::string_view BreakerStateName(BreakerState state);

enum class CallOutcome {
  kSuccess,  // the provider answered (including an answer that is an error of the caller's)
  kFailure,  // provider trouble: server_error, overloaded, timeout, network
  kIgnored,  // no verdict about the provider (the call was cancelled)
};

struct BreakerPermit {
  bool allowed = false;
  bool probe = false;       // allowed as a half-open probe: Record() it with probe = true
  int64_t retry_at_ms = 0;  // rejected while OPEN: when it half-opens; 0 while HALF_OPEN with
                            // every probe slot taken (wait for generation() to change)
  uint64_t generation = 0;  // generation() at the decision
};

class CircuitBreaker {
 public:
  explicit CircuitBreaker(BreakerConfig config);

  // Admits or rejects a call now. An OPEN breaker whose time is up turns HALF_OPEN here.
  BreakerPermit Acquire(int64_t now_ms);
  // Reports the outcome of a call Acquire() allowed. Outcomes of calls admitted before the
  // breaker opened change nothing while it is OPEN or HALF_OPEN.
  void Record(CallOutcome outcome, bool probe, int64_t now_ms);

  // The state as of `now_ms` (an OPEN breaker past its time reads HALF_OPEN).
  BreakerState State(int64_t now_ms) const;
  int64_t open_until() const { return open_until_ms_; }
  int consecutive_failures() const { return consecutive_failures_; }
  int probes_in_flight() const { return probes_in_flight_; }
  int64_t times_opened() const { return times_opened_; }
  // Changes whenever a rejected caller might now be admitted or must wait differently (a state
  // change, a probe slot freed). Waiters for a probe slot wait for it to change.
  uint64_t generation() const { return generation_; }
  const BreakerConfig& config() const { return config_; }

 private:
  void Open(int64_t now_ms);
  void Close();

  BreakerConfig config_;
  BreakerState state_ = BreakerState::kClosed;
  SlidingWindow window_;  // a: calls, b: failures
  int consecutive_failures_ = 0;
  int64_t open_until_ms_ = 0;
  int probes_in_flight_ = 0;
  int probe_successes_ = 0;
  int64_t times_opened_ = 0;
  uint64_t generation_ = 0;
};

}  // namespace baton::providers::admission
