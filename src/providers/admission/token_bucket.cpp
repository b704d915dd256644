#include "providers/admission/token_bucket.hpp"

#include <algorithm>
#include <cmath>

namespace baton::providers::admission {

void TokenBucket::Configure(double per_minute, int64_t now_ms) {
  if (!(per_minute > 0)) return;
  if (limited() && !learned_) {
    if (per_minute >= capacity_) return;
    Refill(now_ms);
    capacity_ = per_minute;
    level_ = std::min(level_, capacity_);
  } else {
    bool was_limited = limited();
    Refill(now_ms);
    capacity_ = per_minute;
    level_ = was_limited ? std::min(level_, capacity_) : capacity_;
    last_ms_ = now_ms;
  }
  rate_per_ms_ = capacity_ / 60'000.0;
  learned_ = false;
}

void TokenBucket::Refill(int64_t now_ms) {
  if (!limited()) return;
  if (now_ms > last_ms_) {
    level_ = std::min(capacity_, level_ + static_cast<double>(now_ms - last_ms_) * rate_per_ms_);
  }
  last_ms_ = now_ms;  // a clock that went back restarts the refill from here
}

double TokenBucket::Level(int64_t now_ms) {
  Refill(now_ms);
  return level_;
}

TokenBucket::Reservation TokenBucket::Reserve(double n, int64_t now_ms) {
  if (!limited()) return {};
  Refill(now_ms);
  double take = std::clamp(n, 0.0, capacity_);
  level_ -= take;
  reserved_ += take;
  Reservation r;
  r.ticket = reserved_;
  if (level_ < 0) r.wait_ms = static_cast<int64_t>(std::ceil(-level_ / rate_per_ms_));
  return r;
}

int64_t TokenBucket::WaitFor(double ticket, int64_t now_ms) {
  if (!limited()) return 0;
  Refill(now_ms);
  double missing = ticket - (level_ + reserved_);
  if (missing <= 1e-9) return 0;
  return static_cast<int64_t>(std::ceil(missing / rate_per_ms_));
}

void TokenBucket::Give(double n, int64_t now_ms) {
  if (!limited()) return;
  Refill(now_ms);
  level_ = std::min(capacity_, level_ + n);
}

void TokenBucket::Observe(std::optional<int64_t> limit, std::optional<int64_t> remaining,
                          int64_t now_ms) {
  if (limit && *limit > 0 && (!limited() || learned_)) {
    bool was_limited = limited();
    Refill(now_ms);
    capacity_ = static_cast<double>(*limit);
    rate_per_ms_ = capacity_ / 60'000.0;
    level_ = was_limited ? std::min(level_, capacity_) : capacity_;
    last_ms_ = now_ms;
    learned_ = true;
  }
  if (limited() && remaining && *remaining >= 0) {
    Refill(now_ms);
    level_ = std::min(level_, static_cast<double>(*remaining));
  }
}

}  // namespace baton::providers::admission
