// `baton run` and `baton runs resume`: execute a workflow with live progress and print its result.

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>
#include <thread>

#include "app/app.hpp"
#include "app/bus.hpp"
#include "base/duration.hpp"
#include "cli/cli.hpp"
#include "cli/execute.hpp"
#include "cli/progress.hpp"
#include "cli/render.hpp"
#include "cli/signals.hpp"
#include "core/run_state.hpp"
#include "dsl/loader.hpp"
#include "runtime/engine.hpp"
#include "runtime/inbox.hpp"

namespace baton::cli {
namespace {

void PrintErr(const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }

// Types a `-i key=value` by the input's schema: strings stay strings; anything else is JSON.
Result<json::object> ParseInputs(const core::Workflow& wf, const std::vector<std::string>& args) {
  json::object inputs;
  for (const auto& arg : args) {
    if (!arg.empty() && arg[0] == '@') {
      BATON_ASSIGN_OR_RETURN(std::string text, app::ReadFile(arg.substr(1)));
      auto parsed = ParseJson(text);
      if (!parsed.ok() || !parsed->is_object()) {
        return InvalidArgument(fmt::format("{}: expected a JSON object of inputs", arg.substr(1)));
      }
      for (const auto& kv : parsed->get_object()) inputs[kv.key()] = kv.value();
      continue;
    }
    auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) {
      return InvalidArgument(fmt::format("-i {}: expected key=value or @file.json", arg));
    }
    std::string key = arg.substr(0, eq);
    std::string value = arg.substr(eq + 1);
    bool is_string = true;
    for (const auto& in : wf.inputs) {
      if (in.name != key) continue;
      const auto* type =
          in.schema.is_object() ? in.schema.get_object().if_contains("type") : nullptr;
      is_string = type && type->is_string() && type->get_string() == "string";
      if (!type) is_string = false;
    }
    if (is_string) {
      inputs[key] = value;
    } else {
      auto parsed = ParseJson(value);
      inputs[key] = parsed.ok() ? std::move(parsed).value() : json::value(value);
    }
  }
  return inputs;
}

int ExitFor(core::RunStatus status, bool interrupted) {
  switch (status) {
    case core::RunStatus::kSucceeded:
      return kExitOk;
    case core::RunStatus::kPaused:
    case core::RunStatus::kWaiting:
      return kExitPaused;
    case core::RunStatus::kCancelled:
      return interrupted ? kExitInterrupted : kExitRunFailed;
    default:
      return kExitRunFailed;
  }
}

// A run that stopped to wait: what for, and how to continue it.
void PrintWaiting(const CommonOptions& common, const std::string& id, const core::RunState* state) {
  std::string where = common.store == app::kDefaultStorePath ? "" : " --store " + common.store;
  std::string text =
      fmt::format("run {} is waiting; nothing runs until a decision or an event arrives:\n", id);
  std::string approve_step, event;
  if (state) {
    for (const auto& line : runtime::DescribeWaits(*state)) text += "  " + line + "\n";
    for (const auto& w : state->waits().pending()) {
      if (w.kind == core::PendingWait::Kind::kApproval && approve_step.empty()) {
        approve_step = w.step;
      }
      if (w.kind == core::PendingWait::Kind::kEvent && event.empty()) event = w.event;
    }
  }
  if (!approve_step.empty()) {
    text += fmt::format("decide with: baton approve {} {} [--reject] [--comment TEXT]{}\n", id,
                        approve_step, where);
  }
  if (!event.empty()) {
    text += fmt::format("send the event with: baton events send {} --data JSON{}\n", event, where);
  }
  text += fmt::format("(pending waits of every run: baton runs list --waiting{})", where);
  PrintErr(text);
}

}  // namespace

// Runs `start` (which starts or resumes a run on the engine and returns its id, or "" when it
// only acted on the bus), shows progress, waits and prints the result; then waits for the runs
// the bus started or continued here (triggers, delivered events) and prints a line for each.
int Execute(const CommonOptions& common, app::Registries& registries, const core::Workflow* wf,
            int threads, int max_concurrency, bool stream, store::Store& store,
            const std::function<Result<std::string>(runtime::Engine&, app::Bus&)>& start) {
  bool tty = isatty(STDERR_FILENO);
  std::vector<std::string> step_ids;
  if (wf) {
    for (const auto& step : wf->steps) {
      if (!step.is_compensation) step_ids.push_back(step.id);  // a row once it runs
    }
  }
  Progress progress(common.output, tty, std::move(step_ids));
  // The watcher thread may fire at any moment: it reaches the engine only under `engine_mu`, and
  // the pointer is cleared (by `detach`, declared after the engine) before the engine goes.
  std::mutex engine_mu;
  runtime::Engine* engine_ptr = nullptr;
  SignalWatcher signals([&] {
    std::lock_guard lock(engine_mu);
    if (engine_ptr) engine_ptr->CancelAll();
  });
  runtime::EngineOptions options;
  options.threads =
      threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  options.max_concurrency = max_concurrency;
  options.stream_deltas = stream;
  if (registries.config) options.global_daily_usd = registries.config->daily_usd;
  app::ScopedStoreCache cache(registries, store);  // `cache: true` replies live in the journal
  app::Bus bus(store, registries);  // triggered runs, runs continued by a delivered event
  options.on_published = [&bus](const json::object& event) { bus.OnPublished(event); };
  runtime::Engine engine(store, registries.models, registries.tools, options);
  bus.Attach(&engine);
  {
    std::lock_guard lock(engine_mu);
    engine_ptr = &engine;
  }
  struct Detach {
    std::mutex& mu;
    runtime::Engine*& ptr;
    ~Detach() {
      std::lock_guard lock(mu);
      ptr = nullptr;
    }
  } detach{engine_mu, engine_ptr};
  engine.SetListener([&](const std::string& id, const core::Event& e) { progress.OnEvent(id, e); });
  std::vector<std::string> offline;
  if (wf) offline = app::OfflineModels(*wf, registries);
  for (const auto& name : offline) {
    const auto& config = wf->models.at(name);
    const auto* env = config.options.if_contains("api_key_env");
    PrintErr(fmt::format(
        "note: model '{}' ({}) runs on the built-in sim provider: {} is not set "
        "(offline: sim). Set it to call the real model.",
        name, config.provider,
        env && env->is_string() ? std::string(env->get_string()) : std::string("its API key")));
  }
  if (wf && wf->UsesProvider("sim")) {
    PrintErr(
        "note: this workflow uses the built-in sim provider: replies, token counts and prices "
        "are simulated (deterministic; no model is called)");
  }
  auto id = start(engine, bus);
  if (!id.ok()) {
    PrintErr("error: " + id.error().message());
    if (id.error().code() == Code::kNotFound) return kExitNotFound;
    return id.error().code() == Code::kInvalidArgument ? kExitUsage : kExitError;
  }
  if (id->empty()) {
    progress.Finish();
    return WaitForAdopted(common, engine, bus, "", kExitOk, signals.fired());
  }
  if (common.output != OutputFormat::kJsonl) PrintErr(fmt::format("run {}", *id));
  auto result = engine.Wait(*id);
  progress.Finish();
  if (!result.ok()) {
    PrintErr("error: " + result.error().message());
    PrintErr(
        fmt::format("the journal keeps what was done; continue with: baton runs resume {}", *id));
    return kExitError;
  }
  if (result->status == core::RunStatus::kWaiting) {
    json::object summary = result->summary();
    summary["status"] = "waiting";
    result->set_summary(std::move(summary));
  }
  if (common.output == OutputFormat::kJson) {
    std::string out = PrettyJson(result->summary()) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  } else if (common.output == OutputFormat::kText) {
    std::string text = RenderSummary(result->summary(), false);
    std::fwrite(text.data(), 1, text.size(), stdout);
    std::string where = common.store == app::kDefaultStorePath ? "" : " --store " + common.store;
    PrintErr(
        fmt::format("\nprompts, replies and reasoning: baton runs show {} --trace{}", *id, where));
  }
  if (result->status == core::RunStatus::kPaused) {
    std::string where = common.store == app::kDefaultStorePath ? "" : " --store " + common.store;
    PrintErr(fmt::format(
        "run {} paused: a budget was reached (on_exceed: pause). Nothing is lost; raise the "
        "limit and continue with:\n  baton runs resume {} --max-cost-usd <usd> "
        "(or --max-tokens / --daily-usd){}",
        *id, *id, where));
  }
  if (result->status == core::RunStatus::kCancelled && signals.fired()) {
    PrintErr(fmt::format("run {} cancelled by signal; its journal is complete: baton runs show {}",
                         *id, *id));
  }
  if (result->status == core::RunStatus::kWaiting) {
    PrintWaiting(common, *id, result->final_state.get());
  }
  return WaitForAdopted(common, engine, bus, *id, ExitFor(result->status, signals.fired()),
                        signals.fired());
}

int WaitForAdopted(const CommonOptions& common, runtime::Engine& engine, app::Bus& bus,
                   const std::string& main_id, int code, bool interrupted) {
  // With a run of its own, the command's stdout holds that run's result: lines go to stderr.
  bool to_stdout = main_id.empty();
  json::array rows;
  bool any_failed = false;
  for (;;) {
    std::vector<app::Bus::Adopted> adopted = bus.Take();
    if (adopted.empty()) break;
    for (const auto& a : adopted) {
      auto r = engine.Wait(a.run_id);
      json::object row{{"run_id", a.run_id}, {"why", a.why}};
      std::string status = r.ok() ? std::string(core::RunStatusName(r->status)) : "error";
      row["status"] = status;
      if (r.ok() && r->status == core::RunStatus::kSucceeded) row["outputs"] = r->outputs();
      if (!r.ok()) row["error"] = r.error().message();
      if (!r.ok() || r->status == core::RunStatus::kFailed ||
          r->status == core::RunStatus::kCancelled) {
        any_failed = true;
      }
      if (a.run_id == main_id && r.ok()) code = ExitFor(r->status, interrupted);
      std::string line = fmt::format("run {} ({}): {}", a.run_id, a.why, status);
      if (!r.ok()) line += ": " + r.error().message();
      if (r.ok() && r->status == core::RunStatus::kWaiting) {
        for (const auto& w : runtime::DescribeWaits(*r->final_state)) line += "\n  " + w;
      }
      if (common.output == OutputFormat::kJson && to_stdout) {
        rows.push_back(std::move(row));
      } else if (common.output != OutputFormat::kJsonl) {
        if (to_stdout) {
          std::printf("%s\n", line.c_str());
        } else {
          PrintErr(line);
        }
      }
    }
  }
  for (const auto& e : bus.Errors()) PrintErr("warning: " + e);
  if (to_stdout && common.output == OutputFormat::kJson) {
    std::string out = PrettyJson(rows) + "\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
  }
  if (main_id.empty() && any_failed) return kExitRunFailed;
  return code;
}

namespace {

void PrintDiagnostics(const std::vector<dsl::Diagnostic>& ds) {
  for (const auto& d : ds) PrintErr(dsl::FormatDiagnostic(d));
}

}  // namespace

int RunCommand(const CommonOptions& common, const RunCommandOptions& options) {
  auto source = app::ReadFile(options.file);
  if (!source.ok()) {
    PrintErr("error: " + source.error().message());
    return kExitNotFound;
  }
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  dsl::LoadResult loaded = dsl::LoadWorkflowText(*source, options.file, registries.LoadOptions());
  if (loaded.workflow) {
    auto model_errors = app::CheckModels(*loaded.workflow, registries);
    if (!model_errors.empty()) {
      loaded.diagnostics.insert(loaded.diagnostics.end(), model_errors.begin(), model_errors.end());
      loaded.workflow.reset();
    }
  }
  PrintDiagnostics(loaded.diagnostics);
  if (!loaded.workflow) return kExitValidation;
  auto inputs = ParseInputs(*loaded.workflow, options.inputs);
  if (!inputs.ok()) {
    PrintErr("error: " + inputs.error().message());
    return kExitUsage;
  }
  runtime::RunOptions run;
  run.inputs = std::move(inputs).value();
  run.workflow_source = std::move(source).value();
  run.workflow_file = options.file;
  run.simulated = !app::OfflineModels(*loaded.workflow, registries).empty();
  if (!options.timeout.empty()) {
    auto t = ParseDuration(options.timeout);
    if (!t.ok()) {
      PrintErr("error: --timeout: " + t.error().message());
      return kExitUsage;
    }
    run.timeout = *t;
  }
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) {
    PrintErr("error: " + store.error().message());
    return kExitError;
  }
  auto wf = loaded.workflow;
  int code = Execute(common, registries, wf.get(), options.threads, options.max_concurrency,
                     options.stream, **store,
                     [&](runtime::Engine& engine, app::Bus&) { return engine.Start(wf, run); });
  return code;
}

bool ReportConfig(app::Registries& registries) {
  auto diagnostics = app::LoadConfig(registries);
  PrintDiagnostics(diagnostics);
  return registries.config != nullptr;
}

int ResumeCommand(const CommonOptions& common, const std::string& run_id, int threads,
                  const BudgetRaise& raise) {
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) {
    PrintErr("error: " + store.error().message());
    return kExitError;
  }
  auto rec = (*store)->GetRun(run_id);
  if (!rec.ok()) {
    PrintErr("error: " + rec.error().message());
    return rec.error().code() == Code::kNotFound ? kExitNotFound : kExitError;
  }
  if (core::IsTerminal(rec->status)) {
    PrintErr(fmt::format("error: run {} already finished ({}); nothing to resume", rec->id,
                         core::RunStatusName(rec->status)));
    return kExitError;
  }
  if (app::OwnerAlive(*rec)) {
    PrintErr(fmt::format("error: run {} is still being executed by process {}", rec->id,
                         rec->owner_pid));
    return kExitError;
  }
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  auto wf = app::LoadRunWorkflow(**store, *rec, registries.LoadOptions());
  if (!wf.ok()) {
    PrintErr("error: " + wf.error().message());
    return kExitError;
  }
  std::string id = rec->id;
  auto workflow = std::move(wf).value();
  json::object budget;
  if (raise.max_cost_usd >= 0) budget["max_cost_usd"] = raise.max_cost_usd;
  if (raise.max_tokens >= 0) budget["max_tokens"] = static_cast<int64_t>(raise.max_tokens);
  if (raise.daily_usd >= 0) budget["daily_usd"] = raise.daily_usd;
  if (!budget.empty() && rec->status != core::RunStatus::kPaused) {
    PrintErr(fmt::format("error: run {} is not paused ({}); budget options apply to paused runs",
                         rec->id, core::RunStatusName(app::EffectiveStatus(*rec))));
    return kExitUsage;
  }
  // Exactly one process continues a run: take it over only if nobody took it since we looked.
  auto claimed =
      (*store)->ClaimRun(rec->id, rec->owner_pid, rec->owner_host, getpid(), app::ThisHost());
  if (!claimed.ok() || !*claimed) {
    PrintErr(fmt::format("error: run {} was taken over by another process", rec->id));
    return kExitError;
  }
  return Execute(common, registries, workflow.get(), threads, 64, false, **store,
                 [&](runtime::Engine& engine, app::Bus&) -> Result<std::string> {
                   BATON_RETURN_IF_ERROR(engine.Resume(workflow, id, budget));
                   return id;
                 });
}

}  // namespace baton::cli
