// The admission decorator around real sim models on a real io_context and the system clock.
// Timing assertions are lower bounds that follow from the semantics (a call never starts before a
// hold or an open breaker allows it) or generous upper bounds; everything else counts calls.

#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "providers/admission/admitted_model.hpp"
#include "providers/sim/sim_model.hpp"

namespace baton::providers::admission {
namespace {

namespace asio = boost::asio;
using CallResult = std::optional<Result<ChatResponse>>;

int64_t Now() { return SystemClock::Get().NowMillis(); }

// Test harness around a real model: records every call that reaches it, and gives rate_limited
// and overloaded failures a retry-after as a provider codec does from the Retry-After header.
class RecordingModel final : public ChatModel {
 public:
  struct Call {
    std::string step;
    int attempt;
    int64_t start_ms;
    int64_t end_ms;
    bool ok;
  };

  RecordingModel(std::unique_ptr<ChatModel> inner, int64_t retry_after_ms)
      : inner_(std::move(inner)), retry_after_ms_(retry_after_ms) {}

  asio::awaitable<Result<ChatResponse>> Complete(ChatRequest request) override {
    std::string step = request.step_id;
    int attempt = request.attempt;
    int64_t start = Now();
    Result<ChatResponse> result = co_await inner_->Complete(std::move(request));
    int64_t end = Now();
    {
      std::lock_guard lock(mu_);
      calls_.push_back({step, attempt, start, end, result.ok()});
    }
    if (!result.ok() && retry_after_ms_ >= 0) {
      std::string type = result.error().ErrorType();
      if (type == "rate_limited" || type == "overloaded") {
        RetryHints hints;
        hints.retry_after_ms = retry_after_ms_;
        co_return result.error().WithRetryHints(hints);
      }
    }
    co_return result;
  }
  std::string_view provider() const override { return inner_->provider(); }

  std::vector<Call> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<Call> calls_for(std::string_view step) const {
    std::vector<Call> out;
    for (const auto& c : calls()) {
      if (c.step == step) out.push_back(c);
    }
    return out;
  }

 private:
  std::unique_ptr<ChatModel> inner_;
  int64_t retry_after_ms_;
  mutable std::mutex mu_;
  std::vector<Call> calls_;
};

json::value Json(std::string_view text) { return ParseJson(text).value(); }

// A set of admitted sim models sharing one hub, as the composition root builds them.
class Models {
 public:
  Models() : hub_(std::make_shared<AdmissionHub>(SystemClock::Get())) {}

  // `options` are the `models:` entry's keys (admission keys and `sim:`).
  AdmittedModel& Add(const std::string& name, std::string_view options,
                     int64_t retry_after_ms = -1) {
    core::ModelConfig config;
    config.name = name;
    config.provider = "sim";
    config.model = "sim-" + name;
    config.options = Json(options).as_object();
    auto sim = sim::CreateSimModel(config);
    EXPECT_TRUE(sim.ok()) << sim.error().ToString();
    auto recorder = std::make_unique<RecordingModel>(std::move(sim).value(), retry_after_ms);
    recorders_[name] = recorder.get();
    auto admitted = AdmitModel(config, std::move(recorder), hub_, "sk-test-" + name);
    EXPECT_TRUE(admitted.ok()) << admitted.error().ToString();
    AdmittedModel& ref = *admitted.value();
    models_[name] = std::move(admitted).value();
    return ref;
  }

  // Another instance built from the same `models:` entry (as another run or process component
  // would build it); it shares the first one's gate and limits through the hub.
  AdmittedModel& AddTwin(const std::string& name, std::string_view options,
                         int64_t retry_after_ms = -1) {
    core::ModelConfig config;
    config.name = name;
    config.provider = "sim";
    config.model = "sim-" + name;
    config.options = Json(options).as_object();
    auto sim = sim::CreateSimModel(config);
    EXPECT_TRUE(sim.ok()) << sim.error().ToString();
    auto recorder = std::make_unique<RecordingModel>(std::move(sim).value(), retry_after_ms);
    recorders_[name + "#2"] = recorder.get();
    auto admitted = AdmitModel(config, std::move(recorder), hub_, "sk-test-" + name);
    EXPECT_TRUE(admitted.ok()) << admitted.error().ToString();
    AdmittedModel& ref = *admitted.value();
    models_[name + "#2"] = std::move(admitted).value();
    return ref;
  }

  void Link() {
    for (auto& [name, model] : models_) {
      Status s = model->LinkFallbacks([this](std::string_view n) -> AdmittedModel* {
        auto it = models_.find(std::string(n));
        return it == models_.end() ? nullptr : it->second.get();
      });
      EXPECT_TRUE(s.ok()) << s.ToString();
    }
  }

  AdmittedModel& operator[](const std::string& name) { return *models_.at(name); }
  RecordingModel& recorder(const std::string& name) { return *recorders_.at(name); }
  AdmissionHub& hub() { return *hub_; }
  const AdmissionSnapshot::Model& Gate(const std::string& name) {
    snapshot_ = hub_->Snapshot();
    for (const auto& m : snapshot_.models) {
      if (m.key.model == "sim-" + name) return m;
    }
    ADD_FAILURE() << "no gate for " << name;
    return snapshot_.models.front();
  }

 private:
  std::shared_ptr<AdmissionHub> hub_;
  std::map<std::string, std::unique_ptr<AdmittedModel>> models_;
  std::map<std::string, RecordingModel*> recorders_;
  AdmissionSnapshot snapshot_;
};

ChatRequest Request(std::string step, int attempt = 1, std::string prompt = "Say hello") {
  ChatRequest r;
  r.run_id = "run-1";
  r.step_id = std::move(step);
  r.attempt = attempt;
  r.messages = {{"user", std::move(prompt)}};
  return r;
}

asio::awaitable<void> CallInto(ChatModel* model, ChatRequest request, CallResult* out) {
  out->emplace(co_await model->Complete(std::move(request)));
}

struct Call {
  ChatModel* model;
  ChatRequest request;
};

// Runs the calls concurrently to completion.
std::vector<CallResult> RunAll(std::vector<Call> calls) {
  asio::io_context io;
  std::vector<CallResult> results(calls.size());
  for (size_t i = 0; i < calls.size(); ++i) {
    asio::co_spawn(io, CallInto(calls[i].model, std::move(calls[i].request), &results[i]),
                   asio::detached);
  }
  io.run();
  for (const auto& r : results) EXPECT_TRUE(r.has_value());
  return results;
}

std::vector<CallResult> RunAll(ChatModel& model, std::vector<ChatRequest> requests) {
  std::vector<Call> calls;
  for (auto& r : requests) calls.push_back({&model, std::move(r)});
  return RunAll(std::move(calls));
}

Result<ChatResponse> RunOne(ChatModel& model, ChatRequest request) {
  std::vector<ChatRequest> one;
  one.push_back(std::move(request));
  return std::move(*RunAll(model, std::move(one))[0]);
}

bool HasNote(const ChatResponse& r, std::string_view prefix) {
  return std::any_of(r.notes.begin(), r.notes.end(),
                     [&](const std::string& n) { return n.rfind(prefix, 0) == 0; });
}

// ---- rate limits ------------------------------------------------------------------------------

TEST(AdmittedModelTest, A429WithRetryAfterHoldsEveryCallToTheKey) {
  Models models;
  constexpr std::string_view kOptions = R"({"sim": {"replies": {
      "a": [{"error": "rate_limited"}, "ok"], "*": ["ok"]}}})";
  AdmittedModel& fast = models.Add("fast", kOptions, /*retry_after_ms=*/400);
  AdmittedModel& twin = models.AddTwin("fast", kOptions, /*retry_after_ms=*/400);
  Result<ChatResponse> first = RunOne(fast, Request("a"));
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.error().ErrorType(), "rate_limited");
  EXPECT_GE(first.error().retry_hints().retry_after_ms, 400) << "passed through";
  EXPECT_FALSE(first.error().retry_hints().no_retry);
  int64_t hold_start = models.recorder("fast").calls().at(0).end_ms;

  // The retry and six other calls (other steps, other runs, another instance of the same model
  // entry) all wait for the hold.
  std::vector<Call> batch;
  batch.push_back({&fast, Request("a", 2)});
  for (int i = 0; i < 6; ++i) {
    ChatRequest r = Request("other" + std::to_string(i));
    r.run_id = "run-" + std::to_string(i + 2);
    batch.push_back({i % 2 == 0 ? &fast : &twin, std::move(r)});
  }
  auto results = RunAll(std::move(batch));
  for (const auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->error().ToString();
    EXPECT_TRUE(HasNote(**r, "rate limit wait on fast: ")) << fmt::format("{}", (*r)->notes);
  }
  auto calls = models.recorder("fast").calls();
  auto twin_calls = models.recorder("fast#2").calls();
  ASSERT_EQ(calls.size(), 5u);
  ASSERT_EQ(twin_calls.size(), 3u);
  calls.insert(calls.end(), twin_calls.begin(), twin_calls.end());
  for (size_t i = 1; i < calls.size(); ++i) {
    EXPECT_GE(calls[i].start_ms, hold_start + 400) << calls[i].step << " started inside the hold";
  }
  auto snap = models.hub().Snapshot();
  ASSERT_EQ(snap.models.size(), 1u) << "both instances share one gate";
  ASSERT_EQ(snap.limits.size(), 1u) << "and one limiter";
  const auto& gate = snap.models[0];
  EXPECT_EQ(gate.counters.holds, 1);
  EXPECT_EQ(gate.counters.rate_limit_waits, 7);
  EXPECT_EQ(gate.counters.calls, 8);
  EXPECT_EQ(gate.gate.state, BreakerState::kClosed) << "a 429 is not provider trouble";
  EXPECT_NE(snap.limits[0].key.key_fingerprint, "");
  EXPECT_EQ(snap.limits[0].key.key_fingerprint.find("sk-"), std::string::npos);
}

TEST(AdmittedModelTest, TokenBucketQueuesConcurrentCallsAndRefundsShortenTheQueue) {
  Models models;
  // 6000 tokens/minute = 100/s. Each call reserves 2000 (its prompt plus max_tokens) and uses
  // about 25, so three fit at once and two queue. Without refunds the queue would take 20-40 s;
  // the unused tokens come back when the first three finish.
  AdmittedModel& m =
      models.Add("tpm", R"({"rate_limit": {"tpm": 6000}, "sim": {"latency": "100ms"}})");
  std::vector<ChatRequest> batch;
  for (int i = 0; i < 5; ++i) {
    ChatRequest r = Request("s" + std::to_string(i));
    r.max_tokens = 1995;
    batch.push_back(std::move(r));
  }
  int64_t start = Now();
  auto results = RunAll(m, std::move(batch));
  int waited = 0;
  for (const auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->error().ToString();
    waited += HasNote(**r, "rate limit wait on tpm: ") ? 1 : 0;
  }
  EXPECT_EQ(waited, 2);
  EXPECT_LT(Now() - start, 10'000);
  auto calls = models.recorder("tpm").calls();
  std::sort(calls.begin(), calls.end(), [](auto& x, auto& y) { return x.start_ms < y.start_ms; });
  ASSERT_EQ(calls.size(), 5u);
  EXPECT_GE(calls[3].start_ms, calls[0].end_ms) << "a queued call went before tokens came back";
  auto snap = models.hub().Snapshot();
  ASSERT_EQ(snap.limits.size(), 1u);
  EXPECT_DOUBLE_EQ(snap.limits[0].limits.tokens_capacity, 6000);
  EXPECT_EQ(snap.models.at(0).counters.rate_limit_waits, 2);
}

// ---- circuit breaker --------------------------------------------------------------------------

TEST(AdmittedModelTest, BreakerOpensUnderAnOutageAndWaitingCallsSucceedAfterRecovery) {
  Models models;
  AdmittedModel& flaky = models.Add("flaky", R"({
      "breaker": {"failures": 3, "open_for": "300ms"}, "retry_budget": false,
      "sim": {"latency": "20ms", "replies": {"down": [{"error": "server_error"}], "*": ["up"]}}})");
  std::vector<ChatRequest> outage;
  for (int i = 0; i < 3; ++i) outage.push_back(Request("down", 1, "outage " + std::to_string(i)));
  auto failures = RunAll(flaky, std::move(outage));
  int64_t max_retry_after = -1;
  for (const auto& r : failures) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().ErrorType(), "server_error");
    max_retry_after = std::max(max_retry_after, r->error().retry_hints().retry_after_ms);
  }
  EXPECT_GT(max_retry_after, 0) << "a failure that opened the breaker says when to come back";
  EXPECT_LE(max_retry_after, 300);
  EXPECT_EQ(models.Gate("flaky").gate.state, BreakerState::kOpen);
  int64_t opened = 0;
  for (const auto& c : models.recorder("flaky").calls()) opened = std::max(opened, c.end_ms);

  // Five calls arrive during the outage: rejected, not failed; they wait for the probe.
  std::vector<ChatRequest> waiting;
  for (int i = 0; i < 5; ++i) waiting.push_back(Request("up" + std::to_string(i)));
  auto results = RunAll(flaky, std::move(waiting));
  for (const auto& r : results) {
    ASSERT_TRUE(r->ok()) << r->error().ToString();
    EXPECT_EQ((*r)->text, "up");
    EXPECT_TRUE(HasNote(**r, "circuit breaker wait on flaky: ")) << fmt::format("{}", (*r)->notes);
  }
  std::vector<RecordingModel::Call> ups;
  for (const auto& c : models.recorder("flaky").calls()) {
    if (c.step != "down") ups.push_back(c);
  }
  ASSERT_EQ(ups.size(), 5u) << "each waiting call reached the model exactly once";
  std::sort(ups.begin(), ups.end(), [](auto& x, auto& y) { return x.start_ms < y.start_ms; });
  for (const auto& c : ups) EXPECT_GE(c.start_ms, opened + 300) << "started while open";
  for (size_t i = 1; i < ups.size(); ++i) {
    EXPECT_GE(ups[i].start_ms, ups[0].end_ms) << "started before the single probe finished";
  }
  const auto& gate = models.Gate("flaky");
  EXPECT_EQ(gate.gate.state, BreakerState::kClosed);
  EXPECT_EQ(gate.gate.times_opened, 1);
  EXPECT_EQ(gate.gate.waiters, 0u);
  EXPECT_GE(gate.counters.breaker_rejections, 5);
  EXPECT_GE(gate.counters.breaker_waits, 5);
}

TEST(AdmittedModelTest, AFailedProbeReopensTheBreaker) {
  Models models;
  AdmittedModel& flaky = models.Add("flaky", R"({
      "breaker": {"failures": 1, "open_for": "100ms"}, "retry_budget": false,
      "sim": {"replies": [{"error": "timeout"}]}})");
  ASSERT_FALSE(RunOne(flaky, Request("s0")).ok());
  std::vector<ChatRequest> waiting;
  for (int i = 0; i < 2; ++i) waiting.push_back(Request("s" + std::to_string(i + 1)));
  auto results = RunAll(flaky, std::move(waiting));
  for (const auto& r : results) {
    ASSERT_FALSE(r->ok());
    EXPECT_EQ(r->error().ErrorType(), "timeout");
  }
  const auto& gate = models.Gate("flaky");
  EXPECT_EQ(gate.gate.state, BreakerState::kOpen);
  EXPECT_EQ(gate.gate.times_opened, 3) << "the first failure, then each failed probe";
  EXPECT_EQ(models.recorder("flaky").calls().size(), 3u);
}

// What the runtime journals with each call (`breaker` in model_called).
TEST(AdmittedModelTest, CircuitStateSaysWhenTheBreakerIsNotClosed) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"breaker": {"failures": 2, "open_for": "1h"},
      "retry_budget": false, "sim": {"replies": [{"error": "server_error"}]}})");
  AdmittedModel& quick = models.Add("quick", R"({"breaker": {"failures": 1, "open_for": "1ms"},
      "retry_budget": false, "sim": {"replies": [{"error": "server_error"}]}})");
  EXPECT_EQ(m.CircuitState(), "");
  ASSERT_FALSE(RunOne(m, Request("s0")).ok());
  EXPECT_EQ(m.CircuitState(), "") << "one failure of two";
  ASSERT_FALSE(RunOne(m, Request("s1")).ok());
  EXPECT_EQ(m.CircuitState(), "open");
  ASSERT_FALSE(RunOne(quick, Request("q0")).ok());
  // Open for 1 ms, then half-open until a probe decides.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (quick.CircuitState() != "half_open" && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(quick.CircuitState(), "half_open");
}

TEST(AdmittedModelTest, CallerErrorsDoNotOpenTheBreaker) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"breaker": {"failures": 1},
      "sim": {"replies": [{"error": "invalid_request"}]}})");
  for (int i = 0; i < 3; ++i) {
    auto r = RunOne(m, Request("s" + std::to_string(i)));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().ErrorType(), "invalid_request");
  }
  EXPECT_EQ(models.Gate("m").gate.state, BreakerState::kClosed);
  EXPECT_EQ(models.recorder("m").calls().size(), 3u);
}

// ---- fallback ---------------------------------------------------------------------------------

TEST(AdmittedModelTest, FallbackAnswersAndTheNotesSayWhy) {
  Models models;
  models.Add("smart", R"({"fallback": ["cheap"], "breaker": {"failures": 2, "open_for": "1h"},
      "sim": {"replies": {"bad": [{"error": "overloaded", "message": "529 from upstream"}],
                          "typo": [{"error": "invalid_request"}], "*": ["smart answer"]}}})");
  models.Add("cheap", R"({"sim": {"replies": ["cheap answer"]}})");
  models.Link();
  AdmittedModel& smart = models["smart"];

  auto ok = RunOne(smart, Request("fine"));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->text, "smart answer");
  EXPECT_EQ(ok->model, "sim-smart");
  EXPECT_TRUE(ok->notes.empty());

  // A failure type outside fallback_on is the caller's problem: no fallback.
  auto typo = RunOne(smart, Request("typo"));
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.error().ErrorType(), "invalid_request");

  auto fell = RunOne(smart, Request("bad"));
  ASSERT_TRUE(fell.ok()) << fell.error().ToString();
  EXPECT_EQ(fell->text, "cheap answer");
  EXPECT_EQ(fell->model, "sim-cheap");
  EXPECT_EQ(fell->provider, "sim");
  ASSERT_EQ(fell->notes.size(), 1u);
  EXPECT_EQ(fell->notes[0], "fallback from smart to cheap: overloaded: 529 from upstream");

  // The second overload in a row opens smart's breaker; then calls go to cheap without touching
  // smart.
  ASSERT_TRUE(RunOne(smart, Request("bad", 1, "again")).ok());
  EXPECT_EQ(models.Gate("smart").gate.state, BreakerState::kOpen);
  size_t smart_calls = models.recorder("smart").calls().size();
  auto open = RunOne(smart, Request("fine", 1, "during the outage"));
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->model, "sim-cheap");
  ASSERT_EQ(open->notes.size(), 1u);
  EXPECT_EQ(open->notes[0], "fallback from smart to cheap: circuit open");
  EXPECT_EQ(models.recorder("smart").calls().size(), smart_calls);
  EXPECT_EQ(models.Gate("smart").counters.fallbacks, 3);
  // The fallback ran under its own identity (its model id), gate and limits.
  EXPECT_EQ(models.Gate("cheap").counters.calls, 3);
}

TEST(AdmittedModelTest, FallbackChainFailureReportsTheLastFailureWithTheChain) {
  Models models;
  models.Add("a", R"({"fallback": ["b"], "retry_budget": false,
      "sim": {"replies": [{"error": "server_error", "message": "a down"}]}})");
  models.Add("b", R"({"retry_budget": false,
      "sim": {"replies": [{"error": "network", "message": "b unreachable"}]}})");
  models.Link();
  auto r = RunOne(models["a"], Request("s"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().ErrorType(), "network");
  EXPECT_EQ(r.error().message(),
            "b unreachable (after fallback from a to b: server_error: a down)");
  EXPECT_FALSE(r.error().retry_hints().no_retry);
}

TEST(AdmittedModelTest, LinkFallbacksRejectsUnknownModels) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"fallback": ["nope"], "sim": {}})");
  Status s = m.LinkFallbacks([](std::string_view) -> AdmittedModel* { return nullptr; });
  EXPECT_EQ(s.code(), Code::kNotFound);
  EXPECT_EQ(s.message(), "models.m.fallback: unknown model 'nope'");
}

// ---- retry budget -----------------------------------------------------------------------------

TEST(AdmittedModelTest, SpentRetryBudgetMeansNoRetry) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({
      "retry_budget": {"ratio": 0.2, "min_per_second": 0, "window": "1m"}, "breaker": false,
      "sim": {"replies": {"bad": [{"error": "server_error"}], "*": ["fine"]}}})");
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(RunOne(m, Request("ok" + std::to_string(i))).ok());
  // 5 first attempts buy one retry.
  auto first = RunOne(m, Request("bad", 1));
  ASSERT_FALSE(first.ok());
  EXPECT_FALSE(first.error().retry_hints().no_retry) << first.error().ToString();
  auto retry = RunOne(m, Request("bad", 2));
  ASSERT_FALSE(retry.ok());
  EXPECT_EQ(retry.error().ErrorType(), "server_error") << "the type stays for catch clauses";
  EXPECT_TRUE(retry.error().retry_hints().no_retry);
  EXPECT_NE(retry.error().message().find("retry budget exhausted for model 'm'"), std::string::npos)
      << retry.error().message();
  EXPECT_EQ(models.Gate("m").counters.budget_exhausted, 1);
  EXPECT_EQ(models.Gate("m").gate.retries.retries, 1);
  EXPECT_EQ(models.Gate("m").gate.retries.first_attempts, 5);
}

// ---- cache ------------------------------------------------------------------------------------

TEST(AdmittedModelTest, CacheServesTheSameLogicalRequestAcrossRunsAtNoCost) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"cache": {"ttl": "1h"}, "price": {"input": 1, "output": 2},
      "sim": {"replies": {"bad": [{"error": "server_error"}]}}})");
  ChatRequest first = Request("s1", 1, "Summarize the news");
  first.temperature = 0.5;
  auto a = RunOne(m, first);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->cache_hit);
  EXPECT_GT(a->usage.cost_usd, 0);

  ChatRequest again = first;
  again.run_id = "run-2";
  again.step_id = "elsewhere";
  again.attempt = 3;
  std::vector<StreamDelta> deltas;
  again.stream = [&deltas](const StreamDelta& d) { deltas.push_back(d); };
  auto b = RunOne(m, again);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->cache_hit);
  EXPECT_EQ(b->text, a->text);
  EXPECT_EQ(b->usage.cost_usd, 0);
  EXPECT_EQ(b->usage.input_tokens, a->usage.input_tokens) << "tokens kept for information";
  ASSERT_EQ(deltas.size(), 1u);
  EXPECT_EQ(deltas[0].kind, StreamDelta::Kind::kText);
  EXPECT_EQ(deltas[0].text, a->text);
  EXPECT_EQ(models.recorder("m").calls().size(), 1u);

  ChatRequest warmer = first;
  warmer.temperature = 0.9;
  auto c = RunOne(m, warmer);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->cache_hit);
  EXPECT_EQ(models.recorder("m").calls().size(), 2u);

  // Errors are never cached.
  ASSERT_FALSE(RunOne(m, Request("bad", 1, "break")).ok());
  ASSERT_FALSE(RunOne(m, Request("bad", 1, "break")).ok());
  EXPECT_EQ(models.recorder("m").calls_for("bad").size(), 2u);
  const auto& gate = models.Gate("m");
  EXPECT_EQ(gate.counters.cache_hits, 1);
  EXPECT_EQ(gate.counters.cache_misses, 4);
}

// ---- cancellation -----------------------------------------------------------------------------

asio::awaitable<void> CancelAfter(asio::cancellation_signal* signal, int64_t ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, Millis(ms));
  co_await timer.async_wait(asio::use_awaitable);
  signal->emit(asio::cancellation_type::terminal);
}

Result<ChatResponse> RunCancelled(ChatModel& model, ChatRequest request, int64_t cancel_after_ms) {
  asio::io_context io;
  asio::cancellation_signal signal;
  CallResult out;
  asio::co_spawn(io, CallInto(&model, std::move(request), &out),
                 asio::bind_cancellation_slot(signal.slot(), asio::detached));
  asio::co_spawn(io, CancelAfter(&signal, cancel_after_ms), asio::detached);
  io.run();
  EXPECT_TRUE(out.has_value());
  return std::move(*out);
}

TEST(AdmittedModelTest, CancellationDuringAHoldEndsPromptly) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"sim": {"replies": {"a": [{"error": "rate_limited"}]}}})",
                                /*retry_after_ms=*/60'000);
  ASSERT_FALSE(RunOne(m, Request("a")).ok());
  int64_t start = Now();
  auto r = RunCancelled(m, Request("b"), 50);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kCancelled) << r.error().ToString();
  EXPECT_LT(Now() - start, 10'000);
  EXPECT_EQ(models.recorder("m").calls().size(), 1u);
  EXPECT_GT(models.hub().Snapshot().limits.at(0).limits.hold_remaining_ms, 0);
}

TEST(AdmittedModelTest, CancellationDuringABreakerWaitEndsPromptlyAndLeavesNoWaiter) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"breaker": {"failures": 1, "open_for": "1m"},
      "sim": {"replies": {"a": [{"error": "overloaded"}]}}})");
  ASSERT_FALSE(RunOne(m, Request("a")).ok());
  int64_t start = Now();
  auto r = RunCancelled(m, Request("b"), 50);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kCancelled) << r.error().ToString();
  EXPECT_LT(Now() - start, 10'000);
  const auto& gate = models.Gate("m");
  EXPECT_EQ(gate.gate.state, BreakerState::kOpen);
  EXPECT_EQ(gate.gate.waiters, 0u);
  EXPECT_EQ(models.recorder("m").calls().size(), 1u);
}

TEST(AdmittedModelTest, CancelledProbeFreesItsSlot) {
  Models models;
  AdmittedModel& m = models.Add("m", R"({"breaker": {"failures": 1, "open_for": "50ms"},
      "sim": {"latency": "10s"}})");
  auto gate = models.hub().Gate({"sim", "", "sim-m"}, m.config());
  gate->Record(CallOutcome::kFailure, false, Now());
  ASSERT_EQ(gate->State(Now()), BreakerState::kOpen);
  int64_t start = Now();
  // Waits ~50 ms for the breaker, becomes the probe, and is cancelled during its 10 s call.
  auto probe = RunCancelled(m, Request("slow"), 200);
  ASSERT_FALSE(probe.ok());
  EXPECT_EQ(probe.error().code(), Code::kCancelled);
  EXPECT_LT(Now() - start, 5'000);
  EXPECT_EQ(models.recorder("m").calls().size(), 1u);
  EXPECT_EQ(gate->Inspect(Now()).probes_in_flight, 0);
  BreakerPermit next = gate->Acquire(Now());
  EXPECT_TRUE(next.allowed && next.probe) << "the cancelled probe's slot is free";
}

// ---- many threads -----------------------------------------------------------------------------

asio::awaitable<void> CallAfter(ChatModel* model, ChatRequest request, CallResult* out,
                                int64_t delay_ms) {
  asio::steady_timer timer(co_await asio::this_coro::executor, Millis(delay_ms));
  co_await timer.async_wait(asio::use_awaitable);
  out->emplace(co_await model->Complete(std::move(request)));
}

TEST(AdmittedModelTest, ManyStrandsOnManyThreadsShareTheChainConsistently) {
  Models models;
  models.Add("primary", R"({"fallback": ["backup"], "rate_limit": {"tpm": 60000},
      "breaker": {"failures": 3, "open_for": "20ms"}, "cache": true,
      "sim": {"seed": 3, "fail": {"rate": 0.3, "type": "server_error"},
              "latency": {"distribution": "uniform", "min": "1ms", "max": "4ms"}}})");
  models.Add("backup", R"({"sim": {"latency": "1ms"}})");
  // No fallback: calls wait for the breaker.
  models.Add("lonely", R"({"breaker": {"failures": 2, "open_for": "10ms"}, "retry_budget": false,
      "sim": {"seed": 5, "fail": {"rate": 0.4, "type": "overloaded"}, "latency": "2ms"}})");
  models.Link();
  constexpr int kCalls = 300;
  constexpr int kLonely = 100;
  asio::io_context io;
  std::vector<CallResult> results(kCalls + kLonely);
  for (int i = 0; i < kCalls + kLonely; ++i) {
    bool lonely = i >= kCalls;
    ChatRequest r = Request("s" + std::to_string(i % 150), 1, "prompt " + std::to_string(i % 150));
    r.run_id = "run-" + std::to_string(i);
    r.max_tokens = 2000;
    // The first half arrives at once (the token bucket queues it); the rest trickles in (the
    // cache and the open breaker answer some of it).
    int64_t delay = i < 150 ? 0 : (i * 7) % 60;
    asio::co_spawn(
        asio::make_strand(io),
        CallAfter(&models[lonely ? "lonely" : "primary"], std::move(r), &results[i], delay),
        asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&io] { io.run(); });
  for (auto& t : threads) t.join();
  int by_primary = 0, by_backup = 0, hits = 0, lonely_ok = 0;
  for (int i = 0; i < kCalls + kLonely; ++i) {
    const CallResult& r = results[i];
    ASSERT_TRUE(r.has_value());
    if (i >= kCalls) {
      if (r->ok()) {
        ++lonely_ok;
      } else {
        EXPECT_EQ(r->error().ErrorType(), "overloaded") << r->error().ToString();
      }
      continue;
    }
    ASSERT_TRUE(r->ok()) << r->error().ToString();
    ((*r)->model == "sim-primary" ? by_primary : by_backup) += 1;
    hits += (*r)->cache_hit ? 1 : 0;
  }
  EXPECT_EQ(by_primary + by_backup, kCalls);
  EXPECT_GT(by_backup, 0);
  const auto primary = models.Gate("primary");
  const auto backup = models.Gate("backup");
  const auto lonely = models.Gate("lonely");
  EXPECT_EQ(primary.counters.cache_hits, hits);
  EXPECT_EQ(primary.counters.calls,
            static_cast<int64_t>(models.recorder("primary").calls().size()));
  EXPECT_EQ(backup.counters.calls, by_backup);
  EXPECT_EQ(primary.counters.calls - primary.counters.failures + hits, by_primary);
  EXPECT_EQ(primary.counters.fallbacks, by_backup);
  EXPECT_GT(primary.counters.rate_limit_waits, 0);
  EXPECT_EQ(primary.gate.waiters, 0u);
  EXPECT_EQ(primary.gate.probes_in_flight, 0);
  EXPECT_EQ(lonely.counters.calls, static_cast<int64_t>(models.recorder("lonely").calls().size()));
  EXPECT_EQ(lonely.counters.calls - lonely.counters.failures, lonely_ok);
  EXPECT_EQ(lonely.gate.waiters, 0u);
  EXPECT_EQ(lonely.gate.probes_in_flight, 0);
  for (const auto& l : models.hub().Snapshot().limits) EXPECT_EQ(l.limits.waiters, 0u);
}

}  // namespace
}  // namespace baton::providers::admission
