#include "providers/admission/retry_budget.hpp"

namespace baton::providers::admission {

RetryBudget::RetryBudget(RetryBudgetConfig config)
    : config_(config), window_(config.window.count() > 0 ? config.window : Millis(10'000)) {}

void RetryBudget::RecordAttempt(bool retry, int64_t now_ms) {
  window_.Add(now_ms, retry ? 0 : 1, retry ? 1 : 0);
}

RetryCounts RetryBudget::Counts(int64_t now_ms) const {
  WindowSums sums = window_.Sum(now_ms);
  RetryCounts c;
  c.first_attempts = sums.a;
  c.retries = sums.b;
  double seconds = static_cast<double>(window_.window().count()) / 1000.0;
  c.allowed = config_.ratio * static_cast<double>(sums.a) + config_.min_per_second * seconds;
  return c;
}

bool RetryBudget::CanRetry(int64_t now_ms) const {
  if (!config_.enabled) return true;
  RetryCounts c = Counts(now_ms);
  return static_cast<double>(c.retries + 1) <= c.allowed;
}

}  // namespace baton::providers::admission
