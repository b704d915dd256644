#pragma once

// Two counters summed over a sliding time window, kept in a ring of equal slots (the window is
// approximated to one slot's width). Used by the circuit breaker (calls, failures) and the retry
// budget (first attempts, retries). Pure: time is passed in; not synchronized.

#include <cstdint>
#include <vector>

#include "base/clock.hpp"

namespace baton::providers::admission {

struct WindowSums {
  int64_t a = 0;
  int64_t b = 0;
};

class SlidingWindow {
 public:
  // `window` > 0 is split into `slots` slots (at least 1 ms each).
  explicit SlidingWindow(Millis window, int slots = 10);

  void Add(int64_t now_ms, int64_t a, int64_t b);
  // Sums of the slots that overlap (now - window, now].
  WindowSums Sum(int64_t now_ms) const;
  void Clear();

  Millis window() const { return Millis(slot_ms_ * static_cast<int64_t>(slots_.size())); }

 private:
  struct Slot {
    int64_t epoch = -1;  // now / slot_ms_ when the slot was last written
    int64_t a = 0;
    int64_t b = 0;
  };
  int64_t slot_ms_;
  std::vector<Slot> slots_;
};

}  // namespace baton::providers::admission
