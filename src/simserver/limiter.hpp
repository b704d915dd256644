#pragma once

// Per-key admission for sim-server: requests per minute and tokens per minute, each a token
// bucket that refills continuously (capacity = the per-minute limit). Time comes from the
// injected Clock. Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.hpp"

namespace baton::simserver {

// What the rate-limit headers report. A limit of 0 means that dimension is not limited.
struct LimitSnapshot {
  int64_t limit_requests = 0;
  int64_t remaining_requests = 0;
  int64_t reset_requests_ms = 0;  // until the bucket is full again
  int64_t limit_tokens = 0;
  int64_t remaining_tokens = 0;
  int64_t reset_tokens_ms = 0;
  int64_t now_ms = 0;
};

class KeyLimiter {
 public:
  // 0 disables a dimension; both 0 disables the limiter.
  KeyLimiter(int64_t rpm, int64_t tpm, const Clock& clock);

  bool enabled() const { return rpm_ > 0 || tpm_ > 0; }

  struct Decision {
    bool allowed = true;
    std::string limited_by;      // "requests" | "tokens" when refused
    int64_t retry_after_ms = 0;  // when refused: until the refused request would fit
    LimitSnapshot snapshot;      // after this decision
  };

  // Admits one request costing `tokens` for `key` (a fingerprint; "" for no key), or refuses it
  // without consuming anything. A request costing more than the whole token budget is admitted
  // when the bucket is full (the budget cannot ever fit it otherwise).
  Decision Admit(std::string_view key, int64_t tokens);

 private:
  struct Bucket {
    double requests = 0;
    double tokens = 0;
    int64_t last_ms = 0;
  };
  void Refill(Bucket& b, int64_t now) const;
  LimitSnapshot Snapshot(const Bucket& b, int64_t now) const;

  int64_t rpm_;
  int64_t tpm_;
  const Clock& clock_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace baton::simserver
