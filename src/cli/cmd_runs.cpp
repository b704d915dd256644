// `baton runs list|show|events|cancel`: read the journal.

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "app/app.hpp"
#include "base/clock.hpp"
#include "cli/cli.hpp"
#include "cli/render.hpp"
#include "runtime/engine.hpp"

namespace baton::cli {
namespace {

void PrintErr(const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }
void PrintOut(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int ErrorExit(const Status& st) {
  PrintErr("error: " + st.message());
  return st.code() == Code::kNotFound ? kExitNotFound : kExitError;
}

// Replaces {blob, bytes, preview} references with the blob's text, in place.
void ResolveBlobs(store::Store& store, json::value& v) {
  if (auto* o = v.if_object()) {
    if (const auto* b = o->if_contains("blob"); b && b->is_string() && o->contains("bytes")) {
      auto text = store.GetBlob(b->get_string());
      if (text.ok()) v = json::string(*text);
      return;
    }
    for (auto& kv : *o) ResolveBlobs(store, kv.value());
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) ResolveBlobs(store, e);
  }
}

// Cancels the unfinished child runs (`workflow:` steps) of an orphaned run that was just
// cancelled, and theirs: no process is left to do it.
void CancelOrphanedChildren(store::Store& store, const std::string& parent) {
  store::RunFilter all;
  all.limit = 0;
  auto runs = store.ListRuns(all);
  if (!runs.ok()) return;
  for (const auto& r : *runs) {
    if (r.parent_run != parent || core::IsTerminal(r.status) || app::OwnerAlive(r)) continue;
    if (app::CancelOrphanedRun(store, r, SystemClock::Get().NowMillis()).ok()) {
      PrintOut(fmt::format("run {} (child of {}) cancelled\n", r.id, parent));
      CancelOrphanedChildren(store, r.id);
    }
  }
}

}  // namespace

int RunsListCommand(const CommonOptions& common, const std::string& status,
                    const std::string& workflow, int limit) {
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) return ErrorExit(store.error());
  store::RunFilter filter;
  filter.workflow_name = workflow;
  filter.limit = static_cast<size_t>(std::max(1, limit));
  bool want_interrupted = status == "interrupted";
  if (!status.empty() && !want_interrupted) {
    auto s = core::RunStatusFromName(status);
    if (!s) {
      PrintErr(
          fmt::format("error: unknown status '{}' (pending, running, succeeded, failed, "
                      "cancelled, interrupted, paused, waiting)",
                      status));
      return kExitUsage;
    }
    filter.status = *s;
  }
  if (want_interrupted) filter.status = core::RunStatus::kRunning;
  auto runs = (*store)->ListRuns(filter);
  if (!runs.ok()) return ErrorExit(runs.error());
  json::array rows;
  std::string text = fmt::format("{:<22} {:<24} {:<12} {:<24} {:>9} {:>10}  {}\n", "RUN",
                                 "WORKFLOW", "STATUS", "STARTED", "DURATION", "COST", "PARENT");
  for (const auto& r : *runs) {
    core::RunStatus eff = app::EffectiveStatus(r);
    if (want_interrupted && eff != core::RunStatus::kInterrupted) continue;
    if (!want_interrupted && filter.status == core::RunStatus::kRunning &&
        eff != core::RunStatus::kRunning) {
      continue;
    }
    double cost = 0;
    if (const auto* c = r.usage.if_contains("cost_usd"); c && c->is_number()) {
      cost = c->to_number<double>();
    }
    json::object row;
    row["run_id"] = r.id;
    row["workflow"] = r.workflow_name;
    row["status"] = core::RunStatusName(eff);
    row["created_at"] = FormatTimestamp(r.created_ms);
    row["updated_at"] = FormatTimestamp(r.updated_ms);
    row["usage"] = r.usage;
    if (!r.error.empty()) row["error"] = r.error;
    if (!r.parent_run.empty()) row["parent_run"] = r.parent_run;  // a sub-workflow's run
    rows.push_back(std::move(row));
    bool done = core::IsTerminal(eff);
    text += fmt::format("{:<22} {:<24} {:<12} {:<24} {:>9} {:>10}{}\n", r.id, r.workflow_name,
                        core::RunStatusName(eff), FormatTimestamp(r.created_ms),
                        done ? Elapsed(r.updated_ms - r.created_ms) : "-", Money(cost),
                        r.parent_run.empty() ? "" : "  " + r.parent_run);
  }
  if (common.output == OutputFormat::kJson) {
    PrintOut(PrettyJson(rows) + "\n");
  } else {
    PrintOut(text);
  }
  return kExitOk;
}

int RunsShowCommand(const CommonOptions& common, const std::string& run_id, bool trace) {
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) return ErrorExit(store.error());
  auto rec = (*store)->GetRun(run_id);
  if (!rec.ok()) return ErrorExit(rec.error());
  app::Registries registries;
  (void)app::LoadConfig(registries);  // best effort: config models the workflow may name
  auto wf = app::LoadRunWorkflow(**store, *rec, registries.LoadOptions());
  if (!wf.ok()) return ErrorExit(wf.error());
  auto events = (*store)->ReadEvents(rec->id);
  if (!events.ok()) return ErrorExit(events.error());
  json::object summary = runtime::SummarizeRun(**wf, rec->id, *events, true);
  json::array children;  // sub-workflow runs, with their status now
  for (const auto& [step, st] : summary["steps"].as_object()) {
    const auto* runs = st.as_object().if_contains("child_runs");
    for (size_t k = 0; runs && k < runs->as_array().size(); ++k) {
      std::string child_id(runs->as_array()[k].as_string());
      json::object c{{"step", step}, {"run_id", child_id}};
      if (auto child = (*store)->GetRun(child_id); child.ok()) {
        c["workflow"] = child->workflow_name;
        c["status"] = core::RunStatusName(app::EffectiveStatus(*child));
      }
      children.push_back(std::move(c));
    }
  }
  if (!children.empty()) summary["children"] = std::move(children);
  core::RunStatus eff = app::EffectiveStatus(*rec);
  if (!core::IsTerminal(eff)) summary["status"] = core::RunStatusName(eff);
  json::value v = summary;
  ResolveBlobs(**store, v);
  if (common.output == OutputFormat::kJson) {
    PrintOut(PrettyJson(v) + "\n");
  } else {
    PrintOut(RenderSummary(v.get_object(), trace));
    if (eff == core::RunStatus::kInterrupted) {
      PrintOut(fmt::format("\nthis run was interrupted; continue it with: baton runs resume {}\n",
                           rec->id));
    }
  }
  return kExitOk;
}

int RunsEventsCommand(const CommonOptions& common, const std::string& run_id, bool follow) {
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) return ErrorExit(store.error());
  auto rec = (*store)->GetRun(run_id);
  if (!rec.ok()) return ErrorExit(rec.error());
  uint64_t after = 0;
  for (;;) {
    auto events = (*store)->ReadEvents(rec->id, after);
    if (!events.ok()) return ErrorExit(events.error());
    bool finished = false;
    for (const auto& e : *events) {
      after = e.seq;
      if (common.output == OutputFormat::kJsonl) {
        json::object o = core::EventToJson(e);
        o["run_id"] = rec->id;
        PrintOut(ToJson(o) + "\n");
      } else {
        PrintOut(fmt::format("{:>5} {}\n", e.seq, FormatEventLine(e)));
      }
      if (e.type == core::EventType::kRunFinished) finished = true;
    }
    std::fflush(stdout);
    if (!follow || finished) break;
    auto again = (*store)->GetRun(rec->id);
    if (again.ok() && app::EffectiveStatus(*again) == core::RunStatus::kInterrupted) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return kExitOk;
}

int RunsCancelCommand(const CommonOptions& common, const std::string& run_id, bool wait) {
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) return ErrorExit(store.error());
  auto rec = (*store)->GetRun(run_id);
  if (!rec.ok()) return ErrorExit(rec.error());
  if (core::IsTerminal(rec->status)) {
    PrintErr(
        fmt::format("run {} already finished ({})", rec->id, core::RunStatusName(rec->status)));
    return kExitError;
  }
  if (!app::OwnerAlive(*rec)) {
    Status st = app::CancelOrphanedRun(**store, *rec, SystemClock::Get().NowMillis());
    if (!st.ok()) return ErrorExit(st);
    PrintOut(fmt::format("run {} cancelled\n", rec->id));
    CancelOrphanedChildren(**store, rec->id);
    return kExitOk;
  }
  Status st = (*store)->RequestCancel(rec->id);
  if (!st.ok()) return ErrorExit(st);
  if (!wait) {
    PrintOut(
        fmt::format("cancellation of run {} requested (process {})\n", rec->id, rec->owner_pid));
    return kExitOk;
  }
  for (;;) {
    auto again = (*store)->GetRun(rec->id);
    if (!again.ok()) return ErrorExit(again.error());
    core::RunStatus eff = app::EffectiveStatus(*again);
    if (core::IsTerminal(eff) || eff == core::RunStatus::kInterrupted) {
      PrintOut(fmt::format("run {} {}\n", rec->id, core::RunStatusName(eff)));
      return kExitOk;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace baton::cli
