#include "runtime/sub_workflow.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/cancellation_state.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <exception>
#include <map>

#include "base/duration.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"

namespace baton::runtime {
namespace {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

// How often a child executed by another process is looked at in the store.
constexpr std::chrono::milliseconds kRemotePoll{200};

// Woken on the parent's strand when the child finishes (Engine::OnFinished).
struct Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;
  bool done = false;
};

std::string StringField(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

// Whether a live process other than this one executes the run (same host: the journal is a
// local SQLite file).
bool OwnedElsewhere(const store::RunRecord& rec) {
  if (rec.owner_pid <= 0 || rec.owner_pid == getpid()) return false;
  return kill(static_cast<pid_t>(rec.owner_pid), 0) == 0 || errno == EPERM;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The step's outcome for a child that ended with `status` after spending `usage`. The spending
// is recorded as a tool_called fact, so that it counts in the parent's usage and budget.
void SetChildResult(core::StepOutcome& o, const core::Step& step, const std::string& id,
                    const std::string& workflow, core::RunStatus status, const json::value& outputs,
                    std::string_view type, std::string_view message, const json::object& usage) {
  core::Event fact;
  fact.type = core::EventType::kToolCalled;
  fact.step = step.id;
  fact.item = o.item;
  fact.attempt = o.attempt;
  fact.data["tool"] = "workflow:" + workflow;
  fact.data["run_id"] = id;
  fact.data["status"] = core::RunStatusName(status);
  if (!usage.empty()) fact.data["usage"] = usage;
  o.facts.push_back(std::move(fact));
  if (status == core::RunStatus::kSucceeded) {
    o.status = Status::Ok();
    o.output = outputs.is_null() ? json::value(json::object()) : outputs;
    return;
  }
  o.status =
      Status(Code::kFailedPrecondition,
             fmt::format("child run {} ({}) {}: {}: {}", id, workflow, core::RunStatusName(status),
                         type.empty() ? "error" : type, Trim(message)),
             "child_failed");
}

// From a finished child's row: its error is stored as "type: message".
void SetFromRecord(core::StepOutcome& o, const core::Step& step, const store::RunRecord& rec,
                   const std::string& workflow) {
  std::string_view err = rec.error;
  std::string_view type, message = err;
  if (auto colon = err.find(": "); colon != std::string_view::npos) {
    type = err.substr(0, colon);
    message = err.substr(colon + 2);
  }
  SetChildResult(o, step, rec.id, workflow, rec.status, rec.outputs, type, message, rec.usage);
}

// From a child that finished in this engine.
void SetFromResult(core::StepOutcome& o, const core::Step& step, const RunResult& r,
                   const std::string& workflow) {
  json::object error, usage;
  if (r.final_state) {
    error = r.final_state->error();
    usage = r.final_state->usage().ToJson();
  }
  SetChildResult(o, step, r.run_id, workflow, r.status, r.outputs(), StringField(error, "type"),
                 StringField(error, "message"), usage);
}

asio::awaitable<core::StepOutcome> Execute(Engine& engine, store::Store& store,
                                           const core::RunState& parent, core::Dispatch d,
                                           std::optional<Millis> timeout) {
  core::StepOutcome o;
  o.step = d.step;
  o.item = d.item;
  o.attempt = d.attempt;
  const core::Step& step = parent.workflow().steps[static_cast<size_t>(d.step)];
  const auto& w = std::get<core::WorkflowStep>(step.kind);
  std::string id = StringField(d.input, "run_id");
  if (!w.workflow || id.empty()) {
    o.status = Internal(fmt::format("step '{}': workflow '{}' was not loaded", step.id, w.path));
    co_return o;
  }
  const std::string& name = w.workflow->name;

  // Cancellation is looked at between waits; once the child is asked to stop, later requests
  // are ignored while it does.
  co_await asio::this_coro::throw_if_cancelled(false);
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  auto notify = [waiter] {
    asio::post(waiter->timer.get_executor(), [waiter] {
      waiter->done = true;
      waiter->timer.cancel();
    });
  };

  // Local: the child executes in this engine and `notify` tells when it stops. Otherwise it is
  // followed in the store: executed by another live process, or parked (waiting for a person
  // or an event, or paused by its budget) until `baton approve`, `baton events send` or `baton
  // runs resume` continues it, here or elsewhere.
  bool local = false;
  auto rec = store.GetRun(id);
  if (!rec.ok() && rec.error().code() != Code::kNotFound) {
    o.status = rec.error().WithContext(fmt::format("step '{}': child run {}", step.id, id));
    co_return o;
  }
  if (!rec.ok()) {
    const json::value* with = d.input.if_contains("with");
    RunOptions ro;
    if (with && with->is_object()) {
      ro.inputs = with->get_object();
    } else if (with && !with->is_null()) {
      o.status = Status(Code::kInvalidArgument,
                        fmt::format("step '{}': 'with' must be a mapping of the inputs of "
                                    "workflow '{}', got {}",
                                    step.id, name, JsonTypeName(*with)),
                        "invalid_request");
      co_return o;
    }
    ro.run_id = id;
    ro.parent_run = parent.run_id();
    ro.workflow_source = w.source;
    ro.workflow_file = w.file;
    if (const auto* wd = parent.run_view().get_object().if_contains("workdir");
        wd && wd->is_string()) {
      ro.workdir = wd->get_string();
    }
    auto started = engine.Start(w.workflow, std::move(ro));
    if (!started.ok()) {
      o.status = started.error().WithContext(
          fmt::format("step '{}': cannot start workflow '{}'", step.id, name));
      co_return o;
    }
    local = engine.OnFinished(id, notify);
  } else if (core::IsTerminal(rec->status)) {
    SetFromRecord(o, step, *rec, name);  // it finished while the parent was down
    co_return o;
  }

  auto deadline = timeout ? Steady::now() + std::chrono::milliseconds(timeout->count())
                          : Steady::time_point::max();
  std::optional<Status> stop;  // why the child was asked to stop
  bool cancel_sent = false;
  for (;;) {
    if (local && waiter->done) {
      waiter->done = false;
      auto result = engine.Wait(id);  // it stopped: does not block
      if (!result.ok()) {
        o.status = result.error().WithContext(fmt::format("step '{}': child run {}", step.id, id));
        co_return o;
      }
      bool parked =
          result->status == core::RunStatus::kWaiting || result->status == core::RunStatus::kPaused;
      if (!parked) {
        SetFromResult(o, step, *result, name);
        break;
      }
      local = false;
      cancel_sent = false;
    }
    if (!stop) {
      asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
      if (cs.cancelled() != asio::cancellation_type::none) {
        stop = Cancelled(fmt::format("the parent run stopped; child run {} was cancelled", id));
      } else if (Steady::now() >= deadline) {
        stop = Status(Code::kDeadlineExceeded,
                      fmt::format("step '{}' timed out after {}; child run {} was cancelled",
                                  step.id, FormatDuration(*timeout), id),
                      "timeout");
      }
      if (stop) {
        co_await asio::this_coro::reset_cancellation_state(asio::disable_cancellation());
      }
    }
    if (stop && local && !cancel_sent) cancel_sent = engine.Cancel(id);
    auto until = stop ? Steady::time_point::max() : deadline;
    if (!local) {
      auto now_rec = store.GetRun(id);
      if (!now_rec.ok()) {
        o.status = now_rec.error().WithContext(fmt::format("step '{}': child run {}", step.id, id));
        co_return o;
      }
      if (core::IsTerminal(now_rec->status)) {
        SetFromRecord(o, step, *now_rec, name);
        break;
      }
      if (engine.OnFinished(id, notify)) {  // this engine executes it (again)
        local = true;
        continue;
      }
      bool parked = now_rec->status == core::RunStatus::kWaiting ||
                    now_rec->status == core::RunStatus::kPaused;
      if (OwnedElsewhere(*now_rec)) {
        if (stop && !cancel_sent) cancel_sent = store.RequestCancel(id).ok();
      } else if (!parked || stop) {
        // Its process died (the parent resumes after a crash), or it must stop while parked:
        // continue it here (cancelled at once when stopping).
        Status st = engine.Resume(w.workflow, id);
        if (!st.ok()) {
          o.status =
              st.WithContext(fmt::format("step '{}': cannot resume child run {}", step.id, id));
          co_return o;
        }
        local = engine.OnFinished(id, notify);
        cancel_sent = false;
        continue;
      }
      until = std::min(until, Steady::now() + kRemotePoll);
    }
    waiter->timer.expires_at(until);
    co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (stop && !o.status.ok()) o.status = *stop;
  co_return o;
}

void Collect(const core::Workflow& wf, std::map<std::string, const std::string*>& out) {
  for (const auto& step : wf.steps) {
    const auto* w = std::get_if<core::WorkflowStep>(&step.kind);
    if (w == nullptr || !w->workflow || w->file.empty()) continue;
    if (out.emplace(w->file, &w->source).second) Collect(*w->workflow, out);
  }
}

}  // namespace

asio::awaitable<core::StepOutcome> RunSubWorkflow(Engine& engine, store::Store& store,
                                                  const core::RunState& parent, core::Dispatch d,
                                                  std::optional<Millis> timeout) {
  core::StepOutcome failed;
  failed.step = d.step;
  failed.item = d.item;
  failed.attempt = d.attempt;
  try {
    co_return co_await Execute(engine, store, parent, std::move(d), timeout);
  } catch (const std::exception& e) {
    failed.status = Internal(fmt::format("sub-workflow: {}", e.what()));
  }
  co_return failed;
}

Result<json::object> StoreSubWorkflowSources(store::Store& store, const core::Workflow& workflow) {
  std::map<std::string, const std::string*> files;
  Collect(workflow, files);
  json::object out;
  for (const auto& [file, source] : files) {
    BATON_ASSIGN_OR_RETURN(std::string hash, store.PutBlob(*source));
    out[file] = std::move(hash);
  }
  return out;
}

}  // namespace baton::runtime
