#include "providers/admission/sliding_window.hpp"

#include <algorithm>

namespace baton::providers::admission {

SlidingWindow::SlidingWindow(Millis window, int slots) {
  int n = std::max(slots, 1);
  slot_ms_ = std::max<int64_t>(1, window.count() / n);
  slots_.resize(static_cast<size_t>(n));
}

void SlidingWindow::Add(int64_t now_ms, int64_t a, int64_t b) {
  int64_t epoch = now_ms / slot_ms_;
  Slot& s = slots_[static_cast<size_t>(epoch % static_cast<int64_t>(slots_.size()))];
  if (s.epoch != epoch) s = Slot{epoch, 0, 0};
  s.a += a;
  s.b += b;
}

WindowSums SlidingWindow::Sum(int64_t now_ms) const {
  int64_t epoch = now_ms / slot_ms_;
  int64_t oldest = epoch - static_cast<int64_t>(slots_.size()) + 1;
  WindowSums sums;
  for (const Slot& s : slots_) {
    if (s.epoch >= oldest && s.epoch <= epoch) {
      sums.a += s.a;
      sums.b += s.b;
    }
  }
  return sums;
}

void SlidingWindow::Clear() { std::fill(slots_.begin(), slots_.end(), Slot{}); }

}  // namespace baton::providers::admission
