#include "providers/admission/admitted_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <optional>

namespace baton::providers::admission {

namespace asio = boost::asio;

struct AdmittedModel::Outcome {
  enum class Kind { kAnswered, kRejected, kHeld };
  Kind kind = Kind::kAnswered;
  std::optional<Result<ChatResponse>> result;  // kAnswered
  int64_t retry_at_ms = 0;                     // kRejected: reopen time (0: wait for a probe)
  uint64_t generation = 0;                     // kRejected
  int64_t hold_until_ms = 0;                   // kHeld
};

namespace {

// A breaker that turned the call away, and its generation then.
struct Rejection {
  std::shared_ptr<ModelGate> gate;
  uint64_t generation = 0;
};

using WakeChannel = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

// Reports a permitted call's outcome to the breaker exactly once; a call abandoned before it
// reported (cancelled, or its coroutine destroyed) frees its probe slot.
class PermitGuard {
 public:
  PermitGuard(std::shared_ptr<ModelGate> gate, bool probe, const Clock& clock)
      : gate_(std::move(gate)), probe_(probe), clock_(clock) {}
  PermitGuard(const PermitGuard&) = delete;
  PermitGuard& operator=(const PermitGuard&) = delete;
  ~PermitGuard() { Record(CallOutcome::kIgnored); }

  void Record(CallOutcome outcome) {
    if (done_) return;
    done_ = true;
    gate_->Record(outcome, probe_, clock_.NowMillis());
  }

 private:
  std::shared_ptr<ModelGate> gate_;
  bool probe_;
  const Clock& clock_;
  bool done_ = false;
};

bool IsCancelled(const Status& s) {
  return s.code() == Code::kCancelled || s.ErrorType() == "cancelled";
}

// A rough token count of what the request sends (4 bytes a token).
int64_t EstimatePromptTokens(const ChatRequest& r) {
  size_t bytes = 0;
  for (const auto& m : r.messages) {
    bytes += m.content.size() + m.role.size() + 4;
    for (const auto& c : m.tool_calls) bytes += c.name.size() + c.arguments.size();
  }
  for (const auto& t : r.tools) bytes += t.name.size() + t.description.size();
  return std::max<int64_t>(static_cast<int64_t>((bytes + 3) / 4), 1);
}

void AddNote(std::vector<std::string>& notes, std::string note) {
  if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(std::move(note));
}

void Replay(const ChatRequest& request, const ChatResponse& response) {
  if (!request.stream) return;
  if (!response.reasoning.empty()) {
    StreamDelta d;
    d.kind = StreamDelta::Kind::kReasoning;
    d.text = response.reasoning;
    request.stream(d);
  }
  if (!response.text.empty()) {
    StreamDelta d;
    d.kind = StreamDelta::Kind::kText;
    d.text = response.text;
    request.stream(d);
  }
  for (size_t i = 0; i < response.tool_calls.size(); ++i) {
    StreamDelta d;
    d.kind = StreamDelta::Kind::kToolCall;
    d.tool_index = static_cast<int>(i);
    d.tool_id = response.tool_calls[i].id;
    d.tool_name = response.tool_calls[i].name;
    d.arguments = response.tool_calls[i].arguments;
    request.stream(d);
  }
}

// Waits `ms` on a steady_timer of the current executor. False when cancelled.
asio::awaitable<bool> Sleep(int64_t ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, Millis(std::max<int64_t>(ms, 1)));
  auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  if (ec) co_return false;
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  co_return cs.cancelled() == asio::cancellation_type::none;
}

// Somewhere a waiter can ask to be woken.
struct WakeSource {
  std::function<uint64_t(std::function<void()>)> add;  // 0: satisfied already, no registration
  std::function<void(uint64_t)> remove;
};

// Waits until `deadline_ms` (0: no deadline) or until a source wakes it; returns at once when a
// source is satisfied already. The wake-ups go through a concurrent channel, so they may come
// from any thread. False when the awaiting coroutine was cancelled.
asio::awaitable<bool> WaitForWake(std::vector<WakeSource> sources, int64_t deadline_ms,
                                  const Clock* clock) {
  auto executor = co_await asio::this_coro::executor;
  auto channel = std::make_shared<WakeChannel>(executor, 1);
  std::vector<std::pair<const WakeSource*, uint64_t>> registered;
  bool satisfied = false;
  for (const WakeSource& source : sources) {
    uint64_t id = source.add([channel] { channel->try_send(boost::system::error_code()); });
    if (id == 0) {
      satisfied = true;
      break;
    }
    registered.emplace_back(&source, id);
  }
  bool woke = true;
  if (!satisfied) {
    asio::steady_timer timer(executor);
    if (deadline_ms > 0) {
      timer.expires_after(Millis(std::max<int64_t>(deadline_ms - clock->NowMillis(), 1)));
      timer.async_wait([channel](boost::system::error_code ec) {
        if (!ec) channel->try_send(boost::system::error_code());
      });
    }
    auto [ec] = co_await channel->async_receive(asio::as_tuple(asio::use_awaitable));
    timer.cancel();
    woke = !ec;
  }
  for (const auto& [source, id] : registered) source->remove(id);
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  co_return woke&& cs.cancelled() == asio::cancellation_type::none;
}

}  // namespace

AdmittedModel::AdmittedModel(std::string name, std::unique_ptr<ChatModel> inner,
                             AdmissionIdentity identity, AdmissionConfig config,
                             std::shared_ptr<AdmissionHub> hub)
    : name_(std::move(name)),
      inner_(std::move(inner)),
      identity_(std::move(identity)),
      config_(std::move(config)),
      hub_(std::move(hub)),
      gate_(hub_->Gate({identity_.provider, identity_.endpoint, identity_.model}, config_)),
      limiter_(hub_->Limiter(
          {{identity_.provider, identity_.endpoint, identity_.model}, identity_.key_fingerprint},
          config_.rate_limit)) {}

Status AdmittedModel::LinkFallbacks(
    const std::function<AdmittedModel*(std::string_view name)>& lookup) {
  std::vector<AdmittedModel*> chain;
  for (const auto& name : config_.fallback) {
    AdmittedModel* m = lookup(name);
    if (m == nullptr) {
      return NotFound(fmt::format("models.{}.fallback: unknown model '{}'", name_, name));
    }
    if (m == this) {
      return InvalidArgument(
          fmt::format("models.{}.fallback: a model cannot fall back to itself", name_));
    }
    chain.push_back(m);
  }
  fallbacks_ = std::move(chain);
  return Status::Ok();
}

std::string AdmittedModel::CircuitState() const {
  BreakerState state = gate_->State(hub_->clock().NowMillis());
  return state == BreakerState::kClosed ? std::string() : std::string(BreakerStateName(state));
}

bool AdmittedModel::FallsBackOn(std::string_view error_type) const {
  return std::find(config_.fallback_on.begin(), config_.fallback_on.end(), error_type) !=
         config_.fallback_on.end();
}

asio::awaitable<Result<ChatResponse>> AdmittedModel::Complete(ChatRequest request) {
  const Clock& clock = hub_->clock();
  std::vector<std::string> notes;
  std::vector<AdmittedModel*> chain;
  chain.push_back(this);
  chain.insert(chain.end(), fallbacks_.begin(), fallbacks_.end());
  std::string primary_model = request.model.empty() ? identity_.model : request.model;
  for (;;) {
    std::vector<Rejection> rejections;
    std::optional<Status> failed;  // a failure that moved the call on
    AdmittedModel* failed_at = nullptr;
    int64_t deadline_ms = 0;  // earliest reopen or hold end among the skipped; 0: none
    for (size_t i = 0; i < chain.size(); ++i) {
      AdmittedModel* candidate = chain[i];
      AdmittedModel* next = i + 1 < chain.size() ? chain[i + 1] : nullptr;
      request.model = i == 0 ? primary_model : candidate->identity_.model;
      bool skip_if_held = next != nullptr && FallsBackOn("rate_limited");
      Outcome outcome =
          co_await candidate->Attempt(&request, next == nullptr, skip_if_held, &notes);
      std::string reason;
      int64_t retry_at = 0;
      if (outcome.kind == Outcome::Kind::kAnswered) {
        Result<ChatResponse> result = std::move(*outcome.result);
        if (result.ok()) {
          for (auto& note : notes) result->notes.push_back(std::move(note));
          co_return result;
        }
        const Status& failure = result.error();
        std::string type = failure.ErrorType();
        if (next == nullptr || IsCancelled(failure) || !FallsBackOn(type)) {
          co_return Finish(failure, notes, candidate, chain.size() == 1);
        }
        failed = failure;
        failed_at = candidate;
        reason = fmt::format("{}: {}", type, failure.message());
      } else if (outcome.kind == Outcome::Kind::kRejected) {
        rejections.push_back({candidate->gate_, outcome.generation});
        retry_at = outcome.retry_at_ms;
        reason = "circuit open";
      } else {
        retry_at = outcome.hold_until_ms;
        reason = fmt::format("rate limited (held for {}ms)",
                             std::max<int64_t>(0, outcome.hold_until_ms - clock.NowMillis()));
      }
      if (retry_at > 0 && (deadline_ms == 0 || retry_at < deadline_ms)) deadline_ms = retry_at;
      if (next == nullptr) break;
      candidate->gate_->Count(Counter::kFallbacks);
      AddNote(notes,
              fmt::format("fallback from {} to {}: {}", candidate->name_, next->name_, reason));
    }
    // A model that failed before the rest turned the call away: that failure is the answer (no
    // second call to it here; the runtime decides about retrying).
    if (failed) co_return Finish(*failed, notes, failed_at, false);
    // Nobody was attempted: wait until a breaker may admit the call or a hold ends.
    int64_t started = clock.NowMillis();
    gate_->Count(Counter::kBreakerWaits);
    std::vector<WakeSource> sources;
    for (const Rejection& r : rejections) {
      std::shared_ptr<ModelGate> gate = r.gate;
      uint64_t generation = r.generation;
      WakeSource source;
      source.add = [gate, generation](std::function<void()> wake) {
        return gate->AddWaiter(generation, std::move(wake));
      };
      source.remove = [gate](uint64_t id) { gate->RemoveWaiter(id); };
      sources.push_back(std::move(source));
    }
    if (sources.empty() && deadline_ms == 0) deadline_ms = started + 100;  // defensive only
    bool woke = co_await WaitForWake(std::move(sources), deadline_ms, &clock);
    if (!woke) {
      co_return Cancelled(
          fmt::format("model '{}': call cancelled while waiting for the circuit breaker", name_));
    }
    AddNote(notes,
            fmt::format("circuit breaker wait on {}: {}ms", name_, clock.NowMillis() - started));
  }
}

asio::awaitable<AdmittedModel::Outcome> AdmittedModel::Attempt(ChatRequest* request_ptr, bool last,
                                                               bool skip_if_held,
                                                               std::vector<std::string>* notes) {
  const ChatRequest& request = *request_ptr;
  const Clock& clock = hub_->clock();
  Outcome outcome;

  // 1. The response cache answers without touching the provider (even when its breaker is open).
  std::shared_ptr<ResponseCache> cache = config_.cache.enabled ? hub_->cache() : nullptr;
  std::string cache_key;
  if (cache) {
    cache_key = ResponseCacheKey(request, identity_.provider, identity_.endpoint);
    if (std::optional<std::string> stored = cache->Get(cache_key)) {
      Result<ChatResponse> decoded = DecodeCachedResponse(*stored);
      if (decoded.ok()) {
        gate_->Count(Counter::kCacheHits);
        decoded->cache_hit = true;
        decoded->usage.cost_usd = 0;
        Replay(request, *decoded);
        outcome.result.emplace(std::move(decoded));
        co_return outcome;
      }
    }
    gate_->Count(Counter::kCacheMisses);
  }

  // 2. The circuit breaker.
  BreakerPermit permit = gate_->Acquire(clock.NowMillis());
  if (!permit.allowed) {
    gate_->Count(Counter::kBreakerRejections);
    outcome.kind = Outcome::Kind::kRejected;
    outcome.retry_at_ms = permit.retry_at_ms;
    outcome.generation = permit.generation;
    co_return outcome;
  }
  PermitGuard guard(gate_, permit.probe, clock);

  // 3. Rate limits: a 429 hold (skipped to a fallback when allowed), then the buckets.
  if (skip_if_held) {
    int64_t hold = limiter_->hold_until();
    if (hold > clock.NowMillis()) {
      outcome.kind = Outcome::Kind::kHeld;
      outcome.hold_until_ms = hold;
      co_return outcome;
    }
  }
  // The token bucket is charged the prompt plus max_tokens up front (as providers count) and
  // corrected by the usage afterwards; a failed call keeps only the prompt's share.
  int64_t prompt_tokens = EstimatePromptTokens(request);
  int64_t tokens = prompt_tokens + std::max<int64_t>(request.max_tokens.value_or(0), 0);
  int64_t started = clock.NowMillis();
  RateLimiter::Ticket ticket = limiter_->Reserve(tokens, started);
  bool waited = false;
  for (;;) {
    int64_t now = clock.NowMillis();
    int64_t hold = limiter_->hold_until();
    int64_t ready = limiter_->ReadyAt(ticket, now);
    if (now >= hold && now >= ready) break;
    waited = true;
    bool ok = false;
    if (hold >= ready) {
      ok = co_await Sleep(hold - now);  // holds only ever extend: nothing can end them sooner
    } else {
      // Tokens returned by finishing calls may cover the reservation before the refill does.
      std::shared_ptr<KeyLimiter> limiter = limiter_;
      WakeSource source;
      source.add = [limiter, ticket, &clock](std::function<void()> wake) {
        return limiter->AddWaiter(ticket, clock.NowMillis(), std::move(wake));
      };
      source.remove = [limiter](uint64_t id) { limiter->RemoveWaiter(id); };
      std::vector<WakeSource> sources;
      sources.push_back(std::move(source));
      ok = co_await WaitForWake(std::move(sources), ready, &clock);
    }
    if (!ok) {
      limiter_->Cancel(tokens, clock.NowMillis());
      outcome.result.emplace(Cancelled(
          fmt::format("model '{}': call cancelled while waiting for rate limits", name_)));
      co_return outcome;
    }
  }
  if (waited) {
    int64_t ms = clock.NowMillis() - started;
    gate_->Count(Counter::kRateLimitWaits);
    gate_->Count(Counter::kRateLimitWaitMs, ms);
    AddNote(*notes, fmt::format("rate limit wait on {}: {}ms", name_, ms));
  }

  // 4. The call.
  gate_->RecordAttempt(request.attempt > 1, clock.NowMillis());
  gate_->Count(Counter::kCalls);
  // The last candidate's call is the last use of the request: move it.
  ChatRequest sent = last ? std::move(*request_ptr) : *request_ptr;
  Result<ChatResponse> result = co_await inner_->Complete(std::move(sent));
  int64_t now = clock.NowMillis();
  if (result.ok()) {
    limiter_->Observe(result->limits, now);
    int64_t used = result->usage.input_tokens + result->usage.output_tokens;
    if (used > 0) limiter_->Settle(tokens, used, now);
    guard.Record(CallOutcome::kSuccess);
    if (cache) cache->Put(cache_key, EncodeCachedResponse(*result), config_.cache.ttl);
  } else {
    const Status& failure = result.error();
    std::string type = failure.ErrorType();
    RetryHints hints = failure.retry_hints();
    gate_->Count(Counter::kFailures);
    limiter_->Settle(tokens, prompt_tokens, now);
    std::optional<int64_t> retry_after;
    if (hints.retry_after_ms > 0) retry_after = hints.retry_after_ms;
    if (type == "rate_limited") {
      limiter_->OnRateLimited(retry_after, now);
      if (retry_after) gate_->Count(Counter::kHolds);
    } else if (type == "overloaded" && retry_after) {
      limiter_->HoldUntil(now + *retry_after);
      gate_->Count(Counter::kHolds);
    }
    CallOutcome verdict = CallOutcome::kSuccess;  // the provider answered
    if (IsCancelled(failure)) {
      verdict = CallOutcome::kIgnored;
    } else if (IsBreakerFailure(type)) {
      verdict = CallOutcome::kFailure;
    }
    guard.Record(verdict);
  }
  outcome.result.emplace(std::move(result));
  co_return outcome;
}

Status AdmittedModel::Finish(const Status& failure, const std::vector<std::string>& notes,
                             const AdmittedModel* answered, bool alone) {
  int64_t now = hub_->clock().NowMillis();
  std::string type = failure.ErrorType();
  RetryHints hints = failure.retry_hints();
  std::string message = failure.message();
  if (!notes.empty()) message = fmt::format("{} (after {})", message, fmt::join(notes, "; "));
  bool changed = !notes.empty();
  if (IsTransientFailure(type) && !hints.no_retry) {
    if (!gate_->CanRetry(now)) {
      RetryCounts c = gate_->RetryCountsAt(now);
      gate_->Count(Counter::kBudgetExhausted);
      message = fmt::format(
          "retry budget exhausted for model '{}' ({} retries for {} first attempts in the last "
          "{}s; allowed {:.1f}), not retrying: {}",
          name_, c.retries, c.first_attempts, config_.retry_budget.window.count() / 1000, c.allowed,
          message);
      hints.no_retry = true;
      changed = true;
    } else {
      // The retry should not come before a hold or an open breaker would let it through.
      int64_t floor = 0;
      if (type == "rate_limited" || type == "overloaded") {
        floor = answered->limiter_->hold_until() - now;
      }
      if (alone && gate_->State(now) == BreakerState::kOpen) {
        floor = std::max(floor, gate_->open_until() - now);
      }
      if (floor > hints.retry_after_ms) {
        hints.retry_after_ms = floor;
        changed = true;
      }
    }
  }
  if (!changed) return failure;
  return Status(failure.code(), std::move(message), type).WithRetryHints(hints);
}

Result<std::unique_ptr<AdmittedModel>> AdmitModel(const core::ModelConfig& config,
                                                  std::unique_ptr<ChatModel> inner,
                                                  std::shared_ptr<AdmissionHub> hub,
                                                  std::string_view api_key) {
  BATON_ASSIGN_OR_RETURN(AdmissionConfig admission,
                         ParseAdmissionConfig(config.options, config.name));
  AdmissionIdentity identity;
  identity.provider = config.provider;
  identity.model = config.model;
  if (const json::value* url = config.options.if_contains("base_url"); url && url->is_string()) {
    identity.endpoint = std::string(url->get_string());
  }
  identity.key_fingerprint = KeyFingerprint(api_key);
  return std::make_unique<AdmittedModel>(config.name, std::move(inner), std::move(identity),
                                         std::move(admission), std::move(hub));
}

}  // namespace baton::providers::admission
