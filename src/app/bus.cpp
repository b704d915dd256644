#include "app/bus.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include "base/hash.hpp"
#include "base/ids.hpp"
#include "expr/expr.hpp"

namespace baton::app {
std::string ThisHost() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "";
  return buf;
}

namespace {

// Whether a trigger's `match` accepts an event with `data` (no match: yes; an error: no).
bool Accepts(const core::Workflow::Trigger& t, const json::value& data) {
  if (!t.match) return true;
  json::object vars{{"event", data}};
  expr::ObjectEnv env(vars);
  auto v = t.match->Evaluate(env);
  return v.ok() && v->is_bool() && v->get_bool();
}

}  // namespace

void Bus::Attach(runtime::Engine* engine) {
  std::lock_guard lock(mu_);
  engine_ = engine;
}

std::string Bus::TriggeredRunId(std::string_view event_id, std::string_view workflow,
                                int64_t time_ms) {
  // The time part of an ordinary id (so ids still sort by time), then a digest of the pair.
  std::string id = NewRunId(time_ms).substr(0, 11);
  std::string digest = Sha256Hex(std::string(event_id) + "\n" + std::string(workflow));
  return id + digest.substr(0, 10);
}

Result<store::BusEvent> Bus::Send(std::string name, json::value data, int64_t now_ms,
                                  std::vector<std::string>* delivered) {
  store::BusEvent e;
  e.id = "ev" + NewRunId(now_ms).substr(1);
  e.name = std::move(name);
  e.data = std::move(data);
  e.time_ms = now_ms;
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> runs, store_.PublishEvent(e));
  if (delivered) *delivered = runs;
  StartTriggered(e);
  ContinueSubscribers(e.name);
  // Events whose triggered runs an earlier process did not get to create.
  store::EventFilter pending;
  pending.triggers_pending = true;
  pending.limit = 0;
  auto older = store_.ListEvents(pending);
  if (older.ok()) {
    for (auto it = older->rbegin(); it != older->rend(); ++it) StartTriggered(*it);
  }
  return e;
}

void Bus::OnPublished(const json::object& event) {
  store::BusEvent e;
  if (const auto* id = event.if_contains("id"); id && id->is_string()) e.id = id->get_string();
  if (const auto* n = event.if_contains("event"); n && n->is_string()) e.name = n->get_string();
  if (const auto* d = event.if_contains("data")) e.data = *d;
  if (const auto* r = event.if_contains("run_id"); r && r->is_string()) {
    e.source_run = r->get_string();
  }
  if (const auto* t = event.if_contains("time_ms"); t && t->is_int64()) e.time_ms = t->get_int64();
  if (e.id.empty() || e.name.empty()) return;
  e.triggers_done = true;  // as far as marking goes: the publish marked it when none were set
  StartTriggered(e);
  ContinueSubscribers(e.name);
}

void Bus::StartTriggered(const store::BusEvent& event) {
  auto triggers = store_.ListTriggers(event.name);
  if (!triggers.ok()) {
    Error(fmt::format("event {}: cannot list triggers: {}", event.id, triggers.error().message()));
    return;
  }
  if (triggers->empty()) {
    // Nothing to start; an event left pending whose triggers were removed since is done.
    if (!event.triggers_done) (void)store_.MarkTriggersDone(event.id);
    return;
  }
  runtime::Engine* engine;
  {
    std::lock_guard lock(mu_);
    engine = engine_;
  }
  for (const store::TriggerRecord& t : *triggers) {
    std::string run_id = TriggeredRunId(event.id, t.workflow, event.time_ms);
    if (store_.GetRun(run_id).ok()) continue;  // started already
    auto source = store_.GetBlob(t.workflow_blob);
    if (!source.ok()) {
      Error(fmt::format("trigger {}: {}", t.workflow, source.error().message()));
      continue;
    }
    dsl::LoadResult loaded =
        dsl::LoadWorkflowText(*source, t.workflow_file, registries_.LoadOptions());
    if (!loaded.workflow) {
      std::string msg =
          fmt::format("trigger {}: the registered workflow no longer loads", t.workflow);
      for (const auto& d : loaded.diagnostics) msg += "\n" + dsl::FormatDiagnostic(d);
      Error(std::move(msg));
      continue;
    }
    bool accepted = false;
    for (const auto& trigger : loaded.workflow->triggers) {
      if (trigger.event == event.name && Accepts(trigger, event.data)) accepted = true;
    }
    if (!accepted || engine == nullptr) continue;
    runtime::RunOptions options;
    if (event.data.is_object()) {
      for (const auto& in : loaded.workflow->inputs) {
        if (const auto* v = event.data.get_object().if_contains(in.name))
          options.inputs[in.name] = *v;
      }
    }
    options.workflow_source = *source;
    options.workflow_file = t.workflow_file;
    options.run_id = run_id;
    options.simulated = !OfflineModels(*loaded.workflow, registries_).empty();
    auto started = engine->Start(loaded.workflow, std::move(options));
    if (!started.ok()) {
      Error(fmt::format("trigger {}: cannot start a run for event {}: {}", t.workflow, event.id,
                        started.error().message()));
      continue;
    }
    Adopt(*started, fmt::format("triggered by event {} ({})", event.name, event.id));
  }
  if (engine != nullptr) {
    Status st = store_.MarkTriggersDone(event.id);
    if (!st.ok() && st.code() != Code::kNotFound) {
      Error(fmt::format("event {}: {}", event.id, st.message()));
    }
  }
}

void Bus::ContinueSubscribers(std::string_view event) {
  auto runs = store_.SubscribedRuns(event);
  if (!runs.ok()) return;
  for (const std::string& id : *runs) {
    auto rec = store_.GetRun(id);
    if (!rec.ok() || core::IsTerminal(rec->status) || OwnerAlive(*rec)) continue;
    auto signals = store_.ReadSignals(id);
    if (!signals.ok() || signals->empty()) continue;
    auto continued = Continue(*rec, fmt::format("continued: event {} arrived", event));
    if (!continued.ok()) Error(fmt::format("run {}: {}", id, continued.error().message()));
  }
}

Result<bool> Bus::Continue(const store::RunRecord& run, std::string why) {
  runtime::Engine* engine;
  {
    std::lock_guard lock(mu_);
    engine = engine_;
  }
  if (engine == nullptr) return FailedPrecondition("no engine to continue runs on");
  if (OwnerAlive(run)) return false;
  BATON_ASSIGN_OR_RETURN(
      bool claimed, store_.ClaimRun(run.id, run.owner_pid, run.owner_host, getpid(), ThisHost()));
  if (!claimed) return false;
  BATON_ASSIGN_OR_RETURN(auto workflow, LoadRunWorkflow(store_, run, registries_.LoadOptions()));
  BATON_RETURN_IF_ERROR(engine->Resume(workflow, run.id));
  Adopt(run.id, std::move(why));
  return true;
}

std::vector<Bus::Adopted> Bus::Take() {
  std::lock_guard lock(mu_);
  std::vector<Adopted> out;
  out.swap(adopted_);
  return out;
}

std::vector<std::string> Bus::Errors() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.swap(errors_);
  return out;
}

void Bus::Adopt(std::string run_id, std::string why) {
  std::lock_guard lock(mu_);
  adopted_.push_back({std::move(run_id), std::move(why)});
}

void Bus::Error(std::string message) {
  std::lock_guard lock(mu_);
  errors_.push_back(std::move(message));
}

}  // namespace baton::app
