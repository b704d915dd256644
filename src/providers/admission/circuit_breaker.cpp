#include "providers/admission/circuit_breaker.hpp"

#include <algorithm>

namespace baton::providers::admission {

std::string_view BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

CircuitBreaker::CircuitBreaker(BreakerConfig config)
    : config_(config), window_(config.window.count() > 0 ? config.window : Millis(30'000)) {
  config_.half_open_probes = std::max(config_.half_open_probes, 1);
}

BreakerPermit CircuitBreaker::Acquire(int64_t now_ms) {
  BreakerPermit permit;
  if (!config_.enabled || state_ == BreakerState::kClosed) {
    permit.allowed = true;
    permit.generation = generation_;
    return permit;
  }
  if (state_ == BreakerState::kOpen) {
    if (now_ms < open_until_ms_) {
      permit.retry_at_ms = open_until_ms_;
      permit.generation = generation_;
      return permit;
    }
    state_ = BreakerState::kHalfOpen;
    probes_in_flight_ = 0;
    probe_successes_ = 0;
    ++generation_;
  }
  if (probes_in_flight_ + probe_successes_ < config_.half_open_probes) {
    ++probes_in_flight_;
    permit.allowed = true;
    permit.probe = true;
  }
  permit.generation = generation_;
  return permit;
}

void CircuitBreaker::Record(CallOutcome outcome, bool probe, int64_t now_ms) {
  if (!config_.enabled) return;
  if (probe) {
    if (state_ != BreakerState::kHalfOpen) return;  // another probe already decided
    probes_in_flight_ = std::max(probes_in_flight_ - 1, 0);
    switch (outcome) {
      case CallOutcome::kSuccess:
        if (++probe_successes_ >= config_.half_open_probes) {
          Close();
        } else {
          ++generation_;
        }
        break;
      case CallOutcome::kFailure:
        Open(now_ms);
        break;
      case CallOutcome::kIgnored:
        ++generation_;  // the slot is free for another probe
        break;
    }
    return;
  }
  if (state_ != BreakerState::kClosed || outcome == CallOutcome::kIgnored) return;
  if (outcome == CallOutcome::kSuccess) {
    consecutive_failures_ = 0;
    window_.Add(now_ms, 1, 0);
    return;
  }
  ++consecutive_failures_;
  window_.Add(now_ms, 1, 1);
  bool trip = config_.failures > 0 && consecutive_failures_ >= config_.failures;
  if (!trip && config_.failure_rate > 0) {
    WindowSums sums = window_.Sum(now_ms);
    trip = sums.a >= std::max(config_.min_calls, 1) &&
           static_cast<double>(sums.b) >= config_.failure_rate * static_cast<double>(sums.a);
  }
  if (trip) Open(now_ms);
}

BreakerState CircuitBreaker::State(int64_t now_ms) const {
  if (state_ == BreakerState::kOpen && now_ms >= open_until_ms_) return BreakerState::kHalfOpen;
  return state_;
}

void CircuitBreaker::Open(int64_t now_ms) {
  state_ = BreakerState::kOpen;
  open_until_ms_ = now_ms + config_.open_for.count();
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  ++times_opened_;
  ++generation_;
}

void CircuitBreaker::Close() {
  state_ = BreakerState::kClosed;
  consecutive_failures_ = 0;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  window_.Clear();
  ++generation_;
}

}  // namespace baton::providers::admission
