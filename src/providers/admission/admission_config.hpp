#pragma once

// The admission keys of a `models:` entry (rate_limit, breaker, retry_budget, cache, fallback,
// fallback_on) parsed from the model's options. Every key and default is described in
// docs/admission.md.

#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "base/status.hpp"
#include "providers/admission/circuit_breaker.hpp"
#include "providers/admission/rate_limiter.hpp"
#include "providers/admission/retry_budget.hpp"

namespace baton::providers::admission {

struct CacheConfig {
  bool enabled = false;
  Millis ttl{3'600'000};
};

struct AdmissionConfig {
  RateLimitConfig rate_limit;
  BreakerConfig breaker;
  RetryBudgetConfig retry_budget;
  CacheConfig cache;
  std::vector<std::string> fallback;     // model names, tried in order
  std::vector<std::string> fallback_on;  // error types that move a call to the next fallback
  // True when the options named any admission key (all defaults otherwise).
  bool configured = false;
};

// rate_limited, overloaded, server_error, timeout, network, quota_exhausted.
std::vector<std::string> DefaultFallbackOn();

// Error types that count as provider trouble for the circuit breaker: server_error, overloaded,
// timeout, network.
bool IsBreakerFailure(std::string_view error_type);
// Error types the runtime retries by default, for which the retry budget is checked:
// rate_limited, overloaded, server_error, timeout, network.
bool IsTransientFailure(std::string_view error_type);

// Parses the admission keys of `options` and ignores every other key. `model_name` (may be
// empty) names the entry in messages: "models.smart.breaker.failures: expected a positive
// integer". Fails with kInvalidArgument.
Result<AdmissionConfig> ParseAdmissionConfig(const json::object& options,
                                             std::string_view model_name = {});

}  // namespace baton::providers::admission
