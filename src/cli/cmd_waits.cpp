// `baton approve`, `baton events send|list`, `baton triggers add|list|remove` and
// `baton runs list --waiting`: human decisions, the event bus and what runs wait for.

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "app/app.hpp"
#include "app/bus.hpp"
#include "base/clock.hpp"
#include "cli/cli.hpp"
#include "cli/execute.hpp"
#include "cli/render.hpp"
#include "core/wait_table.hpp"
#include "dsl/loader.hpp"

namespace baton::cli {
namespace {

void PrintErr(const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }
void PrintOut(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int ErrorExit(const Status& st) {
  PrintErr("error: " + st.message());
  return st.code() == Code::kNotFound ? kExitNotFound : kExitError;
}

// `--data @file` or `--data JSON` (text that is not JSON is a string).
Result<json::value> ParseData(const std::string& arg) {
  if (arg.empty()) return json::value();
  if (arg[0] == '@') {
    BATON_ASSIGN_OR_RETURN(std::string text, app::ReadFile(arg.substr(1)));
    auto parsed = ParseJson(text);
    if (!parsed.ok()) {
      return InvalidArgument(
          fmt::format("{}: not JSON: {}", arg.substr(1), parsed.error().message()));
    }
    return std::move(parsed).value();
  }
  auto parsed = ParseJson(arg);
  return parsed.ok() ? std::move(parsed).value() : json::value(arg);
}

bool ValidEventName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-' || c == '.' || c == ':' || c == '/';
  });
}

Result<std::unique_ptr<store::Store>> Open(const CommonOptions& common) {
  return app::OpenStore({common.store, common.sync == "full"});
}

// The waits pending in a run's journal.
Result<core::WaitTable> FoldWaits(store::Store& store, const std::string& run_id) {
  BATON_ASSIGN_OR_RETURN(std::vector<core::Event> events, store.ReadEvents(run_id));
  core::WaitTable waits;
  for (const auto& e : events) waits.Fold(e);
  return waits;
}

std::string Shorten(std::string s, size_t n) {
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  if (s.size() > n) s = s.substr(0, n - 3) + "...";
  return s;
}

std::string WhatFor(const core::PendingWait& w) {
  switch (w.kind) {
    case core::PendingWait::Kind::kApproval:
      return "approval: " +
             (w.prompt.is_string() ? std::string(w.prompt.get_string()) : ToJson(w.prompt));
    case core::PendingWait::Kind::kEvent:
      return "event " + w.event;
    case core::PendingWait::Kind::kTimer:
      return "timer until " + FormatTimestamp(w.until_ms);
  }
  return "";
}

}  // namespace

int ApproveCommand(const CommonOptions& common, const ApproveOptions& o) {
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  auto rec = (*store)->GetRun(o.run_id);
  if (!rec.ok()) return ErrorExit(rec.error());
  if (core::IsTerminal(rec->status)) {
    PrintErr(fmt::format("error: run {} already finished ({})", rec->id,
                         core::RunStatusName(rec->status)));
    return kExitError;
  }
  auto waits = FoldWaits(**store, rec->id);
  if (!waits.ok()) return ErrorExit(waits.error());
  const core::PendingWait* w = waits->Find(o.step, o.item);
  if (!w || w->kind != core::PendingWait::Kind::kApproval || (o.item >= 0 && w->item != o.item)) {
    std::string pending;
    for (const auto& p : waits->pending()) {
      if (p.kind != core::PendingWait::Kind::kApproval) continue;
      pending += pending.empty() ? "" : ", ";
      pending += p.item >= 0 ? fmt::format("{} --item {}", p.step, p.item) : p.step;
    }
    PrintErr(fmt::format("error: step '{}' of run {} is not waiting for an approval ({})", o.step,
                         rec->id,
                         pending.empty() ? "no approval is pending" : "pending: " + pending));
    return kExitError;
  }
  std::string by = o.by;
  if (by.empty()) {
    if (const char* user = std::getenv("USER"); user && *user) by = user;
  }
  if (!w->approvers.empty() &&
      std::find(w->approvers.begin(), w->approvers.end(), by) == w->approvers.end()) {
    PrintErr(fmt::format("error: step '{}' may be decided only by {} (give --by NAME)", o.step,
                         fmt::join(w->approvers, ", ")));
    return kExitUsage;
  }
  auto data = ParseData(o.data);
  if (!data.ok()) {
    PrintErr("error: --data: " + data.error().message());
    return kExitUsage;
  }
  json::object signal{{"kind", "approval"}, {"step", w->step}, {"approved", !o.reject}};
  if (w->item >= 0) signal["item"] = w->item;
  if (!o.comment.empty()) signal["comment"] = o.comment;
  if (!data->is_null()) signal["data"] = *data;
  if (!by.empty()) signal["by"] = by;
  int64_t now = SystemClock::Get().NowMillis();
  auto posted = (*store)->PostSignal(rec->id, std::move(signal), now);
  if (!posted.ok()) return ErrorExit(posted.error());
  std::string verdict = o.reject ? "rejection" : "approval";
  // A live owner applies it at its next look at the inbox; otherwise this process continues
  // the run, if no other process claimed it first.
  if (app::OwnerAlive(*rec)) {
    PrintErr(fmt::format("{} of step '{}' recorded; process {} continues run {}", verdict, o.step,
                         rec->owner_pid, rec->id));
    return kExitOk;
  }
  auto claimed =
      (*store)->ClaimRun(rec->id, rec->owner_pid, rec->owner_host, getpid(), app::ThisHost());
  if (!claimed.ok()) return ErrorExit(claimed.error());
  if (!*claimed) {
    PrintErr(fmt::format("{} of step '{}' recorded; another process continues run {}", verdict,
                         o.step, rec->id));
    return kExitOk;
  }
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  auto wf = app::LoadRunWorkflow(**store, *rec, registries.LoadOptions());
  if (!wf.ok()) return ErrorExit(wf.error());
  std::shared_ptr<const core::Workflow> workflow = std::move(wf).value();
  PrintErr(
      fmt::format("{} of step '{}' recorded; continuing run {} here", verdict, o.step, rec->id));
  std::string id = rec->id;
  return Execute(common, registries, workflow.get(), o.threads, 64, false, **store,
                 [&](runtime::Engine& engine, app::Bus&) -> Result<std::string> {
                   BATON_RETURN_IF_ERROR(engine.Resume(workflow, id));
                   return id;
                 });
}

int EventsSendCommand(const CommonOptions& common, const std::string& name,
                      const std::string& data_arg, int threads) {
  if (!ValidEventName(name)) {
    PrintErr(
        fmt::format("error: invalid event name '{}': use letters, digits and . _ - : /", name));
    return kExitUsage;
  }
  auto data = ParseData(data_arg);
  if (!data.ok()) {
    PrintErr("error: --data: " + data.error().message());
    return kExitUsage;
  }
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  return Execute(common, registries, nullptr, threads, 64, false, **store,
                 [&](runtime::Engine&, app::Bus& bus) -> Result<std::string> {
                   std::vector<std::string> delivered;
                   BATON_ASSIGN_OR_RETURN(
                       store::BusEvent e,
                       bus.Send(name, *data, SystemClock::Get().NowMillis(), &delivered));
                   PrintErr(fmt::format("event {} {} sent; delivered to {} waiting run{}", e.name,
                                        e.id, delivered.size(), delivered.size() == 1 ? "" : "s"));
                   return std::string();
                 });
}

int EventsListCommand(const CommonOptions& common, const std::string& name, int limit) {
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  store::EventFilter filter;
  filter.name = name;
  filter.limit = static_cast<size_t>(std::max(1, limit));
  auto events = (*store)->ListEvents(filter);
  if (!events.ok()) return ErrorExit(events.error());
  json::array rows;
  std::string text =
      fmt::format("{:<24} {:<20} {:<24} {:<22} {}\n", "EVENT", "NAME", "TIME", "FROM", "DATA");
  for (const auto& e : *events) {
    json::object row{{"id", e.id},
                     {"event", e.name},
                     {"data", e.data},
                     {"time", FormatTimestamp(e.time_ms)},
                     {"source_run", e.source_run},
                     {"triggers_done", e.triggers_done}};
    rows.push_back(std::move(row));
    text +=
        fmt::format("{:<24} {:<20} {:<24} {:<22} {}\n", e.id, e.name, FormatTimestamp(e.time_ms),
                    e.source_run.empty() ? "-" : e.source_run, Shorten(ToJson(e.data), 60));
  }
  PrintOut(common.output == OutputFormat::kJson ? PrettyJson(rows) + "\n" : text);
  return kExitOk;
}

int TriggersAddCommand(const CommonOptions& common, const std::string& file) {
  auto source = app::ReadFile(file);
  if (!source.ok()) {
    PrintErr("error: " + source.error().message());
    return kExitNotFound;
  }
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  dsl::LoadResult loaded = dsl::LoadWorkflowText(*source, file, registries.LoadOptions());
  for (const auto& d : loaded.diagnostics) PrintErr(dsl::FormatDiagnostic(d));
  if (!loaded.workflow) return kExitValidation;
  const core::Workflow& wf = *loaded.workflow;
  if (wf.triggers.empty()) {
    PrintErr(fmt::format("error: {}: the workflow has no 'on:' (the events that start it)", file));
    return kExitValidation;
  }
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  auto blob = (*store)->PutBlob(*source);
  if (!blob.ok()) return ErrorExit(blob.error());
  std::error_code ec;
  std::string path = std::filesystem::absolute(file, ec).string();
  if (ec) path = file;
  // The file's current `on:` replaces whatever the workflow was registered with before.
  auto removed = (*store)->RemoveTriggers(wf.name);
  if (!removed.ok()) return ErrorExit(removed.error());
  std::set<std::string> events;
  for (const auto& t : wf.triggers) events.insert(t.event);
  int64_t now = SystemClock::Get().NowMillis();
  for (const auto& event : events) {
    Status st = (*store)->PutTrigger({wf.name, event, path, *blob, now});
    if (!st.ok()) return ErrorExit(st);
    PrintOut(fmt::format("workflow {} starts on event {}\n", wf.name, event));
  }
  return kExitOk;
}

int TriggersListCommand(const CommonOptions& common) {
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  auto triggers = (*store)->ListTriggers("");
  if (!triggers.ok()) return ErrorExit(triggers.error());
  json::array rows;
  std::string text = fmt::format("{:<24} {:<24} {:<24} {}\n", "WORKFLOW", "EVENT", "ADDED", "FILE");
  for (const auto& t : *triggers) {
    rows.push_back(json::object{{"workflow", t.workflow},
                                {"event", t.event},
                                {"file", t.workflow_file},
                                {"added", FormatTimestamp(t.created_ms)}});
    text += fmt::format("{:<24} {:<24} {:<24} {}\n", t.workflow, t.event,
                        FormatTimestamp(t.created_ms), t.workflow_file);
  }
  PrintOut(common.output == OutputFormat::kJson ? PrettyJson(rows) + "\n" : text);
  return kExitOk;
}

int TriggersRemoveCommand(const CommonOptions& common, const std::string& workflow) {
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  auto removed = (*store)->RemoveTriggers(workflow);
  if (!removed.ok()) return ErrorExit(removed.error());
  if (*removed == 0) {
    PrintErr(fmt::format("error: no trigger is registered for workflow '{}'", workflow));
    return kExitNotFound;
  }
  PrintOut(fmt::format("removed {} trigger{} of workflow {}\n", *removed, *removed == 1 ? "" : "s",
                       workflow));
  return kExitOk;
}

int RunsWaitingCommand(const CommonOptions& common, int limit) {
  auto store = Open(common);
  if (!store.ok()) return ErrorExit(store.error());
  store::RunFilter filter;
  filter.limit = 0;
  auto runs = (*store)->ListRuns(filter);
  if (!runs.ok()) return ErrorExit(runs.error());
  json::array rows;
  std::string text = fmt::format("{:<22} {:<12} {:<16} {:<24} {:<24} {}\n", "RUN", "STATUS", "STEP",
                                 "SINCE", "TIMES OUT", "WAITS FOR");
  int shown = 0;
  for (const auto& r : *runs) {
    if (core::IsTerminal(r.status) || shown >= std::max(1, limit)) continue;
    auto waits = FoldWaits(**store, r.id);
    if (!waits.ok() || waits->empty()) continue;
    ++shown;
    core::RunStatus eff = app::EffectiveStatus(r);
    for (const auto& w : waits->pending()) {
      std::string step = w.item >= 0 ? fmt::format("{}[{}]", w.step, w.item) : w.step;
      json::object row{{"run_id", r.id},
                       {"workflow", r.workflow_name},
                       {"status", core::RunStatusName(eff)},
                       {"step", w.step},
                       {"since", FormatTimestamp(w.since_ms)}};
      if (w.item >= 0) row["item"] = w.item;
      switch (w.kind) {
        case core::PendingWait::Kind::kApproval:
          row["kind"] = "approval";
          row["prompt"] = w.prompt;
          if (!w.approvers.empty()) {
            json::array a;
            for (const auto& n : w.approvers) a.emplace_back(n);
            row["approvers"] = std::move(a);
          }
          break;
        case core::PendingWait::Kind::kEvent:
          row["kind"] = "event";
          row["event"] = w.event;
          break;
        case core::PendingWait::Kind::kTimer:
          row["kind"] = "timer";
          row["until"] = FormatTimestamp(w.until_ms);
          break;
      }
      if (w.timeout_at_ms > 0) row["timeout_at"] = FormatTimestamp(w.timeout_at_ms);
      rows.push_back(std::move(row));
      text += fmt::format("{:<22} {:<12} {:<16} {:<24} {:<24} {}\n", r.id, core::RunStatusName(eff),
                          step, FormatTimestamp(w.since_ms),
                          w.timeout_at_ms > 0 ? FormatTimestamp(w.timeout_at_ms) : "-",
                          Shorten(WhatFor(w), 60));
    }
  }
  PrintOut(common.output == OutputFormat::kJson ? PrettyJson(rows) + "\n" : text);
  return kExitOk;
}

}  // namespace baton::cli
