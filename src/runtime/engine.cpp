#include "runtime/engine.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "base/duration.hpp"
#include "base/ids.hpp"
#include "core/decider.hpp"
#include "core/run_state.hpp"
#include "core/waits.hpp"
#include "runtime/inbox.hpp"
#include "runtime/step_runner.hpp"
#include "runtime/sub_workflow.hpp"
#include "store/store.hpp"

namespace baton::runtime {

namespace asio = boost::asio;
using Strand = asio::strand<asio::io_context::executor_type>;
using Limiter = asio::experimental::concurrent_channel<void(boost::system::error_code)>;

namespace {

std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

// Appends to the store and resumes the awaiting coroutine on `strand` once durable. Completes
// inline when the store calls back inline on the strand's thread (the memory store).
template <typename Token>
auto AsyncAppend(store::Store& store, Strand strand, std::string run_id,
                 std::vector<core::Event> events, std::optional<store::RunUpdate> update,
                 Token&& token) {
  return asio::async_initiate<Token, void(Status)>(
      [&store, strand](auto handler, std::string id, std::vector<core::Event> evs,
                       std::optional<store::RunUpdate> upd) {
        using Handler = std::decay_t<decltype(handler)>;
        auto h = std::make_shared<Handler>(std::move(handler));
        store.Append(std::move(id), std::move(evs), std::move(upd), [h, strand](Status st) {
          asio::dispatch(strand, [h, st = std::move(st)]() mutable { (*h)(std::move(st)); });
        });
      },
      token, std::move(run_id), std::move(events), std::move(update));
}

}  // namespace

struct RunCtx {
  RunCtx(asio::io_context& io, std::shared_ptr<const core::Workflow> wf, std::string run_id)
      : id(run_id),
        strand(asio::make_strand(io)),
        wake(strand),
        state_owner(std::make_shared<core::RunState>(std::move(wf), run_id)),
        state(*state_owner) {}

  std::string id;
  Strand strand;
  asio::steady_timer wake;
  // Shared so that a RunResult can keep the final state without keeping the strand and timer,
  // which must not outlive the engine's io_context.
  std::shared_ptr<core::RunState> state_owner;
  core::RunState& state;
  std::deque<core::StepOutcome> outcomes;
  std::map<std::pair<int, int32_t>, std::shared_ptr<asio::cancellation_signal>> inflight;
  bool user_cancel = false;
  int64_t deadline_ms = 0;
  int64_t next_poll_ms = 0;
  Status journal_error;
  BudgetLedger ledger;  // model calls in flight: reserved cost

  std::mutex done_mu;
  std::condition_variable done_cv;
  bool done = false;
  RunResult result;
  // Engine::OnFinished callbacks (under done_mu).
  std::vector<std::function<void()>> on_done;
  std::vector<int64_t> consumed;  // inbox signals applied, consumed by the next append
  bool suspended = false;         // released while waiting for signals (status `waiting`)
};

struct Engine::Impl {
  Impl(store::Store& s, const providers::ModelRegistry& m, tools::ToolRegistry& t, EngineOptions o)
      : store(s),
        options(o),
        clock(o.clock ? *o.clock : SystemClock::Get()),
        runner(s, m, t, clock, o.blob_threshold, o.global_daily_usd),
        limiter(io, static_cast<size_t>(std::max(1, o.max_concurrency))),
        work(asio::make_work_guard(io)) {
    int n = std::max(1, o.threads);
    for (int i = 0; i < n; ++i) threads.emplace_back([this] { io.run(); });
  }

  ~Impl() {
    CancelAll();
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [this] { return active == 0; });
    }
    // The store's callbacks hold the runs' strands: let it drop them while the io_context lives.
    (void)store.Flush();
    work.reset();
    io.stop();
    for (auto& t : threads) t.join();
  }

  void CancelAll() {
    std::lock_guard lock(mu);
    for (auto& [id, ctx] : runs) {
      auto c = ctx;
      asio::post(c->strand, [c] {
        c->user_cancel = true;
        c->wake.cancel();
      });
    }
  }

  void Launch(std::shared_ptr<RunCtx> ctx, core::Decision first,
              std::optional<store::RunUpdate> first_update) {
    {
      std::lock_guard lock(mu);
      runs[ctx->id] = ctx;
      ++active;
    }
    asio::co_spawn(ctx->strand, RunLoop(ctx, std::move(first), std::move(first_update)),
                   asio::detached);
  }

  asio::awaitable<void> RunLoop(std::shared_ptr<RunCtx> ctx, core::Decision d,
                                std::optional<store::RunUpdate> update);
  asio::awaitable<core::StepOutcome> ExecuteInstance(std::shared_ptr<RunCtx> ctx, core::Dispatch d);
  // Releases a run that only waits for signals (status `waiting`, no owner), then looks at its
  // inbox once more: true when a signal raced in and this engine claimed the run back.
  asio::awaitable<bool> Release(std::shared_ptr<RunCtx> ctx);
  // Journals events of a running instance now (CallContext::journal): stamps them with the next
  // seqs, applies them to the state and appends them; completes once durable. On the strand.
  asio::awaitable<Status> JournalNow(std::shared_ptr<RunCtx> ctx, std::vector<core::Event> events);
  void Spawn(const std::shared_ptr<RunCtx>& ctx, core::Dispatch d);
  // A sink that turns a step instance's streamed deltas into model_delta events for the
  // listener; empty when there is no listener.
  providers::StreamSink DeltaSink(const std::shared_ptr<RunCtx>& ctx, const std::string& step,
                                  int32_t item);
  void Complete(const std::shared_ptr<RunCtx>& ctx);

  store::Store& store;
  EngineOptions options;
  Clock& clock;
  StepRunner runner;
  asio::io_context io;
  Limiter limiter;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::vector<std::thread> threads;

  std::mutex mu;  // guards runs, active, listener (not run state)
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<RunCtx>> runs;
  int active = 0;
  EventListener listener;
  std::string host = HostName();
  json::object env;  // the env.* context, captured when the engine starts
  // The owner: `workflow:` steps start their child runs through it.
  Engine* engine = nullptr;
};

providers::StreamSink Engine::Impl::DeltaSink(const std::shared_ptr<RunCtx>& ctx,
                                              const std::string& step, int32_t item) {
  if (!options.stream_deltas) return {};
  EventListener l;
  {
    std::lock_guard lock(mu);
    l = listener;
  }
  if (!l) return {};
  // Deltas arrive on a provider's I/O thread; the listener is called on the run's strand.
  std::weak_ptr<RunCtx> weak = ctx;
  return [weak, l = std::move(l), step, item](const providers::StreamDelta& delta) {
    auto c = weak.lock();
    if (!c) return;
    core::Event e;
    e.type = core::EventType::kModelDelta;
    e.step = step;
    e.item = item;
    switch (delta.kind) {
      case providers::StreamDelta::Kind::kText:
        e.data["text"] = delta.text;
        break;
      case providers::StreamDelta::Kind::kReasoning:
        e.data["reasoning"] = delta.text;
        break;
      case providers::StreamDelta::Kind::kToolCall: {
        json::object call{{"index", delta.tool_index}, {"arguments", delta.arguments}};
        if (!delta.tool_id.empty()) call["id"] = delta.tool_id;
        if (!delta.tool_name.empty()) call["name"] = delta.tool_name;
        e.data["tool_call"] = std::move(call);
        break;
      }
    }
    asio::post(c->strand, [c, l, e = std::move(e)] { l(c->id, e); });
  };
}

void Engine::Impl::Spawn(const std::shared_ptr<RunCtx>& ctx, core::Dispatch d) {
  auto sig = std::make_shared<asio::cancellation_signal>();
  auto key = std::make_pair(d.step, d.item);
  ctx->inflight[key] = sig;
  core::StepOutcome fallback;
  fallback.step = d.step;
  fallback.item = d.item;
  fallback.attempt = d.attempt;
  asio::co_spawn(
      ctx->strand, ExecuteInstance(ctx, std::move(d)),
      asio::bind_cancellation_slot(
          sig->slot(), [ctx, key, sig, fallback](std::exception_ptr ep, core::StepOutcome o) {
            // A cancelled instance may finish after its step was dispatched again
            // (next loop iteration): only its own entry goes.
            if (auto it = ctx->inflight.find(key); it != ctx->inflight.end() && it->second == sig) {
              ctx->inflight.erase(it);
            }
            if (ep) {
              o = fallback;
              try {
                std::rethrow_exception(ep);
              } catch (const std::exception& e) {
                o.status = Internal(fmt::format("step failed unexpectedly: {}", e.what()));
              } catch (...) {
                o.status = Internal("step failed unexpectedly");
              }
            }
            ctx->outcomes.push_back(std::move(o));
            ctx->wake.cancel();
          }));
}

asio::awaitable<core::StepOutcome> Engine::Impl::ExecuteInstance(std::shared_ptr<RunCtx> ctx,
                                                                 core::Dispatch d) {
  using namespace asio::experimental::awaitable_operators;
  const core::Workflow& wf = ctx->state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];
  core::StepOutcome cancelled;
  cancelled.step = d.step;
  cancelled.item = d.item;
  cancelled.attempt = d.attempt;
  cancelled.status = Cancelled("cancelled before it started");

  if (std::holds_alternative<core::WorkflowStep>(step.kind)) {
    // Holds no permit while its child runs (the child's steps need them).
    co_return co_await RunSubWorkflow(*engine, store, ctx->state, std::move(d),
                                      step.timeout ? step.timeout : wf.default_timeout);
  }

  // Global concurrency: a channel of capacity max_concurrency used as a semaphore.
  auto [ec] =
      co_await limiter.async_send(boost::system::error_code{}, asio::as_tuple(asio::use_awaitable));
  if (ec) co_return cancelled;
  struct Permit {
    Limiter& l;
    ~Permit() {
      l.try_receive([](boost::system::error_code) {});
    }
  } permit{limiter};

  CallContext call{&ctx->ledger, DeltaSink(ctx, step.id, d.item)};
  call.journal = [this, ctx](std::vector<core::Event> events) {
    return JournalNow(ctx, std::move(events));
  };
  std::optional<Millis> timeout = step.timeout ? step.timeout : wf.default_timeout;
  if (!timeout) co_return co_await runner.Run(ctx->state, std::move(d), std::move(call));

  asio::steady_timer timer(ctx->strand, std::chrono::milliseconds(timeout->count()));
  core::Dispatch copy = d;
  auto r = co_await (runner.Run(ctx->state, std::move(d), std::move(call)) ||
                     timer.async_wait(asio::as_tuple(asio::use_awaitable)));
  if (r.index() == 0) co_return std::get<0>(std::move(r));
  core::StepOutcome o;
  o.step = copy.step;
  o.item = copy.item;
  o.attempt = copy.attempt;
  o.status = Status(Code::kDeadlineExceeded,
                    fmt::format("step '{}' timed out after {}", step.id, FormatDuration(*timeout)),
                    "timeout");
  co_return o;
}

asio::awaitable<Status> Engine::Impl::JournalNow(std::shared_ptr<RunCtx> ctx,
                                                 std::vector<core::Event> events) {
  // Stamped, applied and handed to the store without a suspension in between, so these
  // events keep their place among the run loop's appends.
  int64_t now = clock.NowMillis();
  for (auto& e : events) {
    e.seq = ctx->state.last_seq() + 1;
    e.time_ms = now;
    ctx->state.Apply(e);
  }
  EventListener l;
  {
    std::lock_guard lock(mu);
    l = listener;
  }
  std::vector<core::Event> copy;
  if (l) copy = events;
  Status st = co_await AsyncAppend(store, ctx->strand, ctx->id, std::move(events), std::nullopt,
                                   asio::use_awaitable);
  if (st.ok() && l) {
    for (const auto& e : copy) l(ctx->id, e);
  }
  co_return st;
}

void Engine::Impl::Complete(const std::shared_ptr<RunCtx>& ctx) {
  std::vector<std::function<void()>> on_done;
  {
    std::lock_guard lock(ctx->done_mu);
    ctx->result.run_id = ctx->id;
    ctx->result.status = ctx->suspended ? core::RunStatus::kWaiting : ctx->state.status();
    ctx->done = true;
    on_done.swap(ctx->on_done);
  }
  ctx->done_cv.notify_all();
  for (auto& f : on_done) f();
  std::lock_guard lock(mu);
  --active;
  cv.notify_all();
}

asio::awaitable<bool> Engine::Impl::Release(std::shared_ptr<RunCtx> ctx) {
  store::RunUpdate release;
  release.status = core::RunStatus::kWaiting;
  release.owner_pid = 0;
  release.owner_host = "";
  release.usage = ctx->state.usage().ToJson();
  Status st = co_await AsyncAppend(store, ctx->strand, ctx->id, {}, std::move(release),
                                   asio::use_awaitable);
  if (!st.ok()) {
    ctx->journal_error = st;
    co_return false;
  }
  // A signal posted while this process still owned the run is this process's to apply.
  auto signals = store.ReadSignals(ctx->id);
  if (!signals.ok() || signals->empty()) co_return false;
  auto claimed = store.ClaimRun(ctx->id, 0, "", getpid(), host);
  co_return claimed.ok() && *claimed;
}

asio::awaitable<void> Engine::Impl::RunLoop(std::shared_ptr<RunCtx> ctx, core::Decision d,
                                            std::optional<store::RunUpdate> update) {
  core::RunState& state = ctx->state;
  for (;;) {
    // 1. Journal what was decided; nothing starts before it is durable.
    if (d.paused && !update) update.emplace();
    // Settled model costs go to the daily ledger in the same transaction as their events.
    double spent = 0;
    int64_t tokens = 0;
    for (const auto& e : d.events) {
      if (e.type != core::EventType::kModelCalled) continue;
      const auto* u = e.data.if_contains("usage");
      if (!u || !u->is_object()) continue;
      if (const auto* c = u->get_object().if_contains("cost_usd"); c && c->is_number()) {
        spent += c->to_number<double>();
      }
      for (const char* k : {"input_tokens", "output_tokens"}) {
        if (const auto* t = u->get_object().if_contains(k); t && t->is_int64()) {
          tokens += t->get_int64();
        }
      }
    }
    if (spent > 0 || tokens > 0) {
      if (!update) update.emplace();
      std::string day = UtcDay(d.events.back().time_ms);
      update->spend.push_back({day, "*", spent, tokens});
      update->spend.push_back({day, "workflow:" + state.workflow().name, spent, tokens});
    }
    // Emits, subscriptions and consumed signals commit with the events (inbox.cpp).
    std::vector<json::object> published = AddWaitUpdates(state, d.events, ctx->consumed, update);
    if (!d.events.empty() || update) {
      if (d.paused) {
        update->status = core::RunStatus::kPaused;
        update->usage = state.usage().ToJson();
        update->owner_pid = 0;
      }
      if (d.finished) {
        if (!update) update.emplace();
        update->status = state.status();
        update->outputs = state.outputs();
        if (!state.error().empty()) {
          const auto* type = state.error().if_contains("type");
          const auto* msg = state.error().if_contains("message");
          update->error = fmt::format(
              "{}: {}", type && type->is_string() ? type->get_string().c_str() : "error",
              msg && msg->is_string() ? msg->get_string().c_str() : "");
        }
        update->usage = state.usage().ToJson();
        update->owner_pid = 0;
      }
      EventListener l;
      {
        std::lock_guard lock(mu);
        l = listener;
      }
      // The listener sees the events after they are durable: keep a copy only when there is one.
      std::vector<core::Event> events;
      if (l) {
        events = d.events;
      } else {
        events = std::move(d.events);
      }
      Status st = co_await AsyncAppend(store, ctx->strand, ctx->id, std::move(events),
                                       std::move(update), asio::use_awaitable);
      update.reset();
      if (!st.ok()) {
        // The journal refuses writes: stop everything; the run stays resumable from what is
        // durable.
        ctx->journal_error = st;
        for (auto& [key, sig] : ctx->inflight) sig->emit(asio::cancellation_type::terminal);
        while (!ctx->inflight.empty()) {
          ctx->wake.expires_at(asio::steady_timer::time_point::max());
          co_await ctx->wake.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        break;
      }
      if (l) {
        for (const auto& e : d.events) l(ctx->id, e);
      }
      if (!published.empty()) {
        ctx->next_poll_ms = 0;  // the run itself may wait for what it emitted
        // Before the run goes on, so it cannot finish before the triggered runs exist.
        if (options.on_published) {
          for (const auto& e : published) options.on_published(e);
        }
      }
    }
    if (d.finished || d.paused) break;
    if (d.cancel_in_flight) {
      for (auto& [key, sig] : ctx->inflight) sig->emit(asio::cancellation_type::terminal);
    }
    for (const auto& key : d.cancel) {
      // Take the signal out first: emitting may complete the instance inline.
      if (auto it = ctx->inflight.find(key); it != ctx->inflight.end()) {
        auto sig = it->second;
        sig->emit(asio::cancellation_type::terminal);
      }
    }
    for (auto& disp : d.dispatch) Spawn(ctx, std::move(disp));
    int64_t wake_at = d.wake_at_ms;
    d = core::Decision{};

    // 2. Wait for an outcome, a due retry, a cancel request or the run deadline.
    while (ctx->outcomes.empty()) {
      int64_t now = clock.NowMillis();
      if (ctx->user_cancel && !state.cancel_requested()) {
        core::Decider::RequestCancel(state, "user", {}, now, d);
        break;
      }
      if (ctx->deadline_ms && now >= ctx->deadline_ms && !state.cancel_requested()) {
        core::Decider::RequestCancel(
            state, "timeout",
            json::object{{"type", "timeout"}, {"message", "the run exceeded its timeout"}}, now, d);
        break;
      }
      if (options.cancel_poll.count() > 0 && now >= ctx->next_poll_ms) {
        ctx->next_poll_ms = now + options.cancel_poll.count();
        auto requested = store.IsCancelRequested(ctx->id);
        if (requested.ok() && *requested && !state.cancel_requested()) {
          core::Decider::RequestCancel(state, "user", {}, now, d);
          break;
        }
        // Approvals and delivered events (inbox.cpp).
        auto read = ApplyInbox(store, state, now, d, ctx->consumed);
        if (read.ok() && *read > 0) {
          if (d.events.empty()) core::Decider::Advance(state, now, d);  // keeps wake_at
          break;
        }
      }
      if (wake_at && now >= wake_at) {
        core::Decider::Advance(state, now, d);
        wake_at = d.wake_at_ms;
        if (!d.events.empty() || d.finished || d.paused) break;
      }
      if (options.suspend_waiting && ctx->inflight.empty() && core::CanSuspend(state)) {
        // Only approvals and event waits are left: nothing needs this process until a signal.
        bool reclaimed = co_await Release(ctx);
        if (!reclaimed) {
          ctx->suspended = true;
          break;
        }
        (void)ApplyInbox(store, state, now, d, ctx->consumed);  // it raced in: go on with it
        if (d.events.empty()) core::Decider::Advance(state, now, d);
        break;
      }
      int64_t next = INT64_MAX;
      if (wake_at) next = std::min(next, wake_at);
      if (ctx->deadline_ms) next = std::min(next, ctx->deadline_ms);
      if (options.cancel_poll.count() > 0) next = std::min(next, ctx->next_poll_ms);
      if (next == INT64_MAX) {
        ctx->wake.expires_at(asio::steady_timer::time_point::max());
      } else {
        ctx->wake.expires_after(std::chrono::milliseconds(std::max<int64_t>(0, next - now)));
      }
      co_await ctx->wake.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    if (ctx->suspended) break;
    int64_t now = clock.NowMillis();
    while (!ctx->outcomes.empty()) {
      core::StepOutcome o = std::move(ctx->outcomes.front());
      ctx->outcomes.pop_front();
      core::Decider::OnOutcome(state, std::move(o), now, d);
    }
  }
  Complete(ctx);
}

Engine::~Engine() = default;

void Engine::SetListener(EventListener listener) {
  std::lock_guard lock(impl_->mu);
  impl_->listener = std::move(listener);
}

namespace {

// Environment variables visible to expressions as env.*: BATON_* names, except those that look
// like credentials. Captured once into run_started so a resumed run sees the same values.
json::object CaptureEnv() {
  json::object env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (kv.substr(0, 6) != "BATON_") continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string name(kv.substr(0, eq));
    std::string upper = name;  // BATON_api_token is as secret as BATON_API_TOKEN
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    bool secret = false;
    for (const char* w : {"KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL"}) {
      if (upper.find(w) != std::string::npos) secret = true;
    }
    if (!secret) env[name] = kv.substr(eq + 1);
  }
  return env;
}

}  // namespace

Engine::Engine(store::Store& store, const providers::ModelRegistry& models,
               tools::ToolRegistry& tools, EngineOptions options)
    : impl_(std::make_unique<Impl>(store, models, tools, options)) {
  impl_->env = CaptureEnv();
  impl_->engine = this;
}

Result<std::string> Engine::Start(std::shared_ptr<const core::Workflow> workflow,
                                  RunOptions options) {
  BATON_ASSIGN_OR_RETURN(json::object inputs, PrepareInputs(*workflow, std::move(options.inputs)));
  Impl& impl = *impl_;
  int64_t now = impl.clock.NowMillis();
  store::RunRecord rec;
  rec.id = options.run_id.empty() ? NewRunId(now) : options.run_id;
  rec.workflow_name = workflow->name;
  rec.workflow_file = options.workflow_file;
  if (!options.workflow_source.empty()) {
    BATON_ASSIGN_OR_RETURN(rec.workflow_blob, impl.store.PutBlob(options.workflow_source));
  }
  BATON_ASSIGN_OR_RETURN(json::object sources, StoreSubWorkflowSources(impl.store, *workflow));
  rec.parent_run = options.parent_run;
  rec.inputs = inputs;
  rec.status = core::RunStatus::kRunning;
  rec.created_ms = now;
  rec.updated_ms = now;
  rec.owner_pid = getpid();
  rec.owner_host = impl.host;
  // Queued ahead of the run's first append (same group commit); a failure to create it surfaces
  // as that append's error, which Wait reports.
  std::string id = rec.id;
  impl.store.CreateRunAsync(std::move(rec), [](Status) {});

  auto ctx = std::make_shared<RunCtx>(impl.io, workflow, id);
  std::optional<Millis> timeout = options.timeout ? options.timeout : workflow->run_timeout;
  if (timeout) ctx->deadline_ms = now + timeout->count();
  std::string workdir = options.workdir;
  if (workdir.empty()) {
    char buf[4096];
    if (getcwd(buf, sizeof(buf))) workdir = buf;
  }
  core::Decision first;
  core::Event started = core::RunStartedEvent(
      inputs, impl.env, workdir, workflow->UsesProvider("sim") || options.simulated, now);
  if (!sources.empty()) started.data["sources"] = std::move(sources);  // sub-workflows' texts
  // Deciding touches only the new RunState, which no other thread can see yet.
  ctx->state.Apply(started);
  first.events.push_back(std::move(started));
  core::Decider::Advance(ctx->state, now, first);
  impl.Launch(ctx, std::move(first), std::nullopt);
  return id;
}

Status Engine::Resume(std::shared_ptr<const core::Workflow> workflow, const std::string& run_id,
                      json::object raise_budget) {
  Impl& impl = *impl_;
  BATON_ASSIGN_OR_RETURN(store::RunRecord rec, impl.store.GetRun(run_id));
  if (core::IsTerminal(rec.status)) {
    return FailedPrecondition(
        fmt::format("run {} already finished ({})", rec.id, core::RunStatusName(rec.status)));
  }
  BATON_ASSIGN_OR_RETURN(std::vector<core::Event> events, impl.store.ReadEvents(rec.id));
  auto ctx = std::make_shared<RunCtx>(impl.io, workflow, rec.id);
  for (const auto& e : events) ctx->state.Apply(e);
  int64_t now = impl.clock.NowMillis();
  core::Decision first;
  if (events.empty()) {
    core::Event started =
        core::RunStartedEvent(rec.inputs, impl.env, "", workflow->UsesProvider("sim"), now);
    ctx->state.Apply(started);
    first.events.push_back(std::move(started));
    core::Decider::Advance(ctx->state, now, first);
  } else {
    core::Decider::Recover(ctx->state, now, first);
    if (ctx->state.paused()) core::Decider::Resume(ctx->state, std::move(raise_budget), now, first);
  }
  store::RunUpdate update;
  update.status = core::RunStatus::kRunning;
  update.owner_pid = getpid();
  update.owner_host = impl.host;
  impl.Launch(ctx, std::move(first), std::move(update));
  return Status::Ok();
}

bool Engine::Cancel(const std::string& run_id) {
  std::shared_ptr<RunCtx> ctx;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->runs.find(run_id);
    if (it == impl_->runs.end()) return false;
    ctx = it->second;
  }
  asio::post(ctx->strand, [ctx] {
    ctx->user_cancel = true;
    ctx->wake.cancel();
  });
  return true;
}

void Engine::CancelAll() { impl_->CancelAll(); }

bool Engine::OnFinished(const std::string& run_id, std::function<void()> done) {
  std::shared_ptr<RunCtx> ctx;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->runs.find(run_id);
    if (it == impl_->runs.end()) return false;
    ctx = it->second;
  }
  {
    std::lock_guard lock(ctx->done_mu);
    if (!ctx->done) {
      ctx->on_done.push_back(std::move(done));
      return true;
    }
  }
  done();
  return true;
}

Result<RunResult> Engine::Wait(const std::string& run_id) {
  std::shared_ptr<RunCtx> ctx;
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->runs.find(run_id);
    if (it == impl_->runs.end())
      return NotFound(fmt::format("run {} is not executing here", run_id));
    ctx = it->second;
  }
  {
    std::unique_lock lock(ctx->done_mu);
    ctx->done_cv.wait(lock, [&] { return ctx->done; });
  }
  if (!ctx->journal_error.ok()) return ctx->journal_error.WithContext("journal");
  RunResult r = ctx->result;
  // The run is finished: its state is no longer touched by the strand.
  r.final_state = ctx->state_owner;
  {
    std::lock_guard lock(impl_->mu);
    impl_->runs.erase(run_id);
  }
  return r;
}

}  // namespace baton::runtime
