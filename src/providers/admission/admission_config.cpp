#include "providers/admission/admission_config.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "base/duration.hpp"

namespace baton::providers::admission {
namespace {

constexpr std::array<std::string_view, 10> kErrorTypes = {
    "rate_limited",   "overloaded",     "server_error",    "timeout", "network",
    "context_length", "content_filter", "invalid_request", "auth",    "quota_exhausted"};

// Builds messages that name the key: "models.smart.breaker.failures: ...".
class Where {
 public:
  explicit Where(std::string_view model_name)
      : prefix_(model_name.empty() ? std::string() : fmt::format("models.{}.", model_name)) {}

  Status Bad(std::string_view key, std::string_view what) const {
    return InvalidArgument(fmt::format("{}{}: {}", prefix_, key, what));
  }

 private:
  std::string prefix_;
};

std::optional<double> Number(const json::value& v) {
  if (!v.is_number()) return std::nullopt;
  return v.to_number<double>();
}

std::optional<int64_t> Integer(const json::value& v) {
  if (const int64_t* i = v.if_int64()) return *i;
  if (const uint64_t* u = v.if_uint64()) {
    if (*u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return static_cast<int64_t>(*u);
    }
    return std::nullopt;
  }
  if (const double* d = v.if_double()) {
    if (std::isfinite(*d) && std::floor(*d) == *d && std::fabs(*d) < 9e15) {
      return static_cast<int64_t>(*d);
    }
  }
  return std::nullopt;
}

Result<int> PositiveInt(const json::value& v, const Where& where, std::string_view key) {
  std::optional<int64_t> i = Integer(v);
  if (!i || *i <= 0 || *i > 1'000'000'000) return where.Bad(key, "expected a positive integer");
  return static_cast<int>(*i);
}

Result<double> PositiveNumber(const json::value& v, const Where& where, std::string_view key) {
  std::optional<double> d = Number(v);
  if (!d || !(*d > 0) || !std::isfinite(*d)) return where.Bad(key, "expected a positive number");
  return *d;
}

Result<double> NonNegativeNumber(const json::value& v, const Where& where, std::string_view key) {
  std::optional<double> d = Number(v);
  if (!d || !(*d >= 0) || !std::isfinite(*d)) {
    return where.Bad(key, "expected a number greater than or equal to 0");
  }
  return *d;
}

// A duration string ("30s", "1h30m") or a number of seconds; must be positive.
Result<Millis> PositiveDuration(const json::value& v, const Where& where, std::string_view key) {
  Millis d{0};
  if (v.is_string()) {
    auto parsed = ParseDuration(v.get_string());
    if (!parsed.ok()) return where.Bad(key, parsed.error().message());
    d = *parsed;
  } else if (std::optional<double> seconds = Number(v); seconds && std::isfinite(*seconds)) {
    d = Millis(static_cast<int64_t>(std::llround(*seconds * 1000)));
  } else {
    return where.Bad(key, "expected a duration such as \"30s\" or \"1m\"");
  }
  if (d.count() <= 0) return where.Bad(key, "expected a positive duration");
  return d;
}

const json::object* ObjectOrFlag(const json::value& v, bool& flag, const Where& where,
                                 std::string_view key, Status& error) {
  if (v.is_bool()) {
    flag = v.get_bool();
    return nullptr;
  }
  if (v.is_object()) {
    flag = true;
    return &v.get_object();
  }
  error = where.Bad(key, "expected true, false or a mapping");
  return nullptr;
}

Status UnknownKey(const Where& where, std::string_view section, std::string_view key,
                  std::string_view expected) {
  return where.Bad(section, fmt::format("unknown key '{}' (expected {})", key, expected));
}

Status ParseRateLimit(const json::value& v, const Where& where, RateLimitConfig& out) {
  if (v.is_null() || (v.is_bool() && !v.get_bool())) return Status::Ok();
  const json::object* obj = v.if_object();
  if (obj == nullptr) return where.Bad("rate_limit", "expected a mapping such as { rpm: 500 }");
  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    if (key == "rpm") {
      BATON_ASSIGN_OR_RETURN(out.rpm, PositiveNumber(kv.value(), where, "rate_limit.rpm"));
    } else if (key == "tpm") {
      BATON_ASSIGN_OR_RETURN(out.tpm, PositiveNumber(kv.value(), where, "rate_limit.tpm"));
    } else {
      return UnknownKey(where, "rate_limit", key, "rpm, tpm");
    }
  }
  return Status::Ok();
}

Status ParseBreaker(const json::value& v, const Where& where, BreakerConfig& out) {
  Status error;
  const json::object* obj = ObjectOrFlag(v, out.enabled, where, "breaker", error);
  if (!error.ok()) return error;
  if (obj == nullptr) return Status::Ok();
  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    const json::value& value = kv.value();
    if (key == "failures") {
      BATON_ASSIGN_OR_RETURN(out.failures, PositiveInt(value, where, "breaker.failures"));
    } else if (key == "failure_rate") {
      std::optional<double> d = Number(value);
      if (!d || !(*d >= 0 && *d <= 1)) {
        return where.Bad("breaker.failure_rate", "expected a number between 0 and 1 (0: off)");
      }
      out.failure_rate = *d;
    } else if (key == "min_calls") {
      BATON_ASSIGN_OR_RETURN(out.min_calls, PositiveInt(value, where, "breaker.min_calls"));
    } else if (key == "window") {
      BATON_ASSIGN_OR_RETURN(out.window, PositiveDuration(value, where, "breaker.window"));
    } else if (key == "open_for") {
      BATON_ASSIGN_OR_RETURN(out.open_for, PositiveDuration(value, where, "breaker.open_for"));
    } else if (key == "half_open_probes") {
      BATON_ASSIGN_OR_RETURN(out.half_open_probes,
                             PositiveInt(value, where, "breaker.half_open_probes"));
    } else {
      return UnknownKey(where, "breaker", key,
                        "failures, failure_rate, min_calls, window, open_for, half_open_probes");
    }
  }
  return Status::Ok();
}

Status ParseRetryBudget(const json::value& v, const Where& where, RetryBudgetConfig& out) {
  Status error;
  const json::object* obj = ObjectOrFlag(v, out.enabled, where, "retry_budget", error);
  if (!error.ok()) return error;
  if (obj == nullptr) return Status::Ok();
  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    if (key == "ratio") {
      BATON_ASSIGN_OR_RETURN(out.ratio, NonNegativeNumber(kv.value(), where, "retry_budget.ratio"));
    } else if (key == "min_per_second") {
      BATON_ASSIGN_OR_RETURN(out.min_per_second,
                             NonNegativeNumber(kv.value(), where, "retry_budget.min_per_second"));
    } else if (key == "window") {
      BATON_ASSIGN_OR_RETURN(out.window,
                             PositiveDuration(kv.value(), where, "retry_budget.window"));
    } else {
      return UnknownKey(where, "retry_budget", key, "ratio, min_per_second, window");
    }
  }
  return Status::Ok();
}

Status ParseCache(const json::value& v, const Where& where, CacheConfig& out) {
  Status error;
  const json::object* obj = ObjectOrFlag(v, out.enabled, where, "cache", error);
  if (!error.ok()) return error;
  if (obj == nullptr) return Status::Ok();
  for (const auto& kv : *obj) {
    if (kv.key() == "ttl") {
      BATON_ASSIGN_OR_RETURN(out.ttl, PositiveDuration(kv.value(), where, "cache.ttl"));
    } else {
      return UnknownKey(where, "cache", kv.key(), "ttl");
    }
  }
  return Status::Ok();
}

// A string or a list of non-empty strings.
Result<std::vector<std::string>> NameList(const json::value& v, const Where& where,
                                          std::string_view key) {
  std::vector<std::string> out;
  if (v.is_string()) {
    out.emplace_back(v.get_string());
  } else if (const json::array* arr = v.if_array()) {
    for (const auto& e : *arr) {
      if (!e.is_string()) return where.Bad(key, "expected a list of names");
      out.emplace_back(e.get_string());
    }
  } else {
    return where.Bad(key, "expected a name or a list of names");
  }
  for (const auto& name : out) {
    if (name.empty()) return where.Bad(key, "names must not be empty");
  }
  return out;
}

}  // namespace

std::vector<std::string> DefaultFallbackOn() {
  return {"rate_limited", "overloaded", "server_error", "timeout", "network", "quota_exhausted"};
}

bool IsBreakerFailure(std::string_view t) {
  return t == "server_error" || t == "overloaded" || t == "timeout" || t == "network";
}

bool IsTransientFailure(std::string_view t) { return t == "rate_limited" || IsBreakerFailure(t); }

Result<AdmissionConfig> ParseAdmissionConfig(const json::object& options,
                                             std::string_view model_name) {
  Where where(model_name);
  AdmissionConfig config;
  config.fallback_on = DefaultFallbackOn();
  for (const auto& kv : options) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "rate_limit") {
      BATON_RETURN_IF_ERROR(ParseRateLimit(v, where, config.rate_limit));
    } else if (key == "breaker") {
      BATON_RETURN_IF_ERROR(ParseBreaker(v, where, config.breaker));
    } else if (key == "retry_budget") {
      BATON_RETURN_IF_ERROR(ParseRetryBudget(v, where, config.retry_budget));
    } else if (key == "cache") {
      BATON_RETURN_IF_ERROR(ParseCache(v, where, config.cache));
    } else if (key == "fallback") {
      BATON_ASSIGN_OR_RETURN(config.fallback, NameList(v, where, "fallback"));
      for (size_t i = 0; i < config.fallback.size(); ++i) {
        const std::string& name = config.fallback[i];
        if (!model_name.empty() && name == model_name) {
          return where.Bad("fallback", "a model cannot fall back to itself");
        }
        if (std::find(config.fallback.begin(), config.fallback.begin() + static_cast<long>(i),
                      name) != config.fallback.begin() + static_cast<long>(i)) {
          return where.Bad("fallback", fmt::format("'{}' is listed twice", name));
        }
      }
    } else if (key == "fallback_on") {
      BATON_ASSIGN_OR_RETURN(config.fallback_on, NameList(v, where, "fallback_on"));
      for (const auto& type : config.fallback_on) {
        if (std::find(kErrorTypes.begin(), kErrorTypes.end(), type) == kErrorTypes.end()) {
          return where.Bad("fallback_on",
                           fmt::format("unknown error type '{}' (expected one of {})", type,
                                       fmt::join(kErrorTypes, ", ")));
        }
      }
    } else {
      continue;
    }
    config.configured = true;
  }
  return config;
}

}  // namespace baton::providers::admission
