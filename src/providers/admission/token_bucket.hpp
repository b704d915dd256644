#pragma once

// A token bucket whose capacity is a per-minute limit and which refills continuously at that
// limit per minute. Calls reserve tokens: a reservation may drive the level below zero (a queue),
// and each reservation gets a ticket that is covered once refills and returned tokens have paid
// for everything reserved up to and including it, so waiters go in reservation order and a
// refund (a call that used fewer tokens than it reserved) lets queued ones go sooner. Pure: time
// is passed in; not synchronized (the owner locks).

#include <cstdint>
#include <optional>

namespace baton::providers::admission {

class TokenBucket {
 public:
  // Unlimited until a limit is configured or learned from the provider's headers.
  TokenBucket() = default;

  // Applies a configured limit (per minute, > 0; other values are ignored). When a configured
  // limit is already set the lower one wins; a learned limit is replaced. Starts full.
  void Configure(double per_minute, int64_t now_ms);

  bool limited() const { return capacity_ > 0; }
  // True when the capacity came from a provider's header rather than the configuration.
  bool learned() const { return learned_; }
  double capacity() const { return capacity_; }
  // The level after refilling to `now_ms`; negative while reservations are queued.
  double Level(int64_t now_ms);

  struct Reservation {
    double ticket = 0;    // for WaitFor()
    int64_t wait_ms = 0;  // until it is covered as things stand: 0 when there was room
  };
  // Reserves `n` tokens (clamped to the capacity, so an oversized request waits for a full
  // bucket rather than forever). An unlimited bucket reserves nothing and never waits.
  Reservation Reserve(double n, int64_t now_ms);
  // Milliseconds until the reservation with `ticket` is covered (0: it is).
  int64_t WaitFor(double ticket, int64_t now_ms);
  // Returns `n` tokens (a negative `n` takes more, e.g. when a call used more tokens than it
  // reserved). The level never exceeds the capacity.
  void Give(double n, int64_t now_ms);

  // Feeds what the provider reported. `limit` (when the bucket has no configured limit) sets the
  // capacity, assumed per minute; `remaining` lowers the level when the provider says less is
  // left than the bucket thinks. Never raises the level.
  void Observe(std::optional<int64_t> limit, std::optional<int64_t> remaining, int64_t now_ms);

 private:
  void Refill(int64_t now_ms);

  double capacity_ = 0;  // 0: unlimited
  double rate_per_ms_ = 0;
  double level_ = 0;
  double reserved_ = 0;  // total ever reserved; level_ + reserved_ is what has been paid for
  int64_t last_ms_ = 0;
  bool learned_ = false;
};

}  // namespace baton::providers::admission
