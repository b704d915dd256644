// baton: the command line. Parses arguments with CLI11 and hands off to the command functions.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>

#include "cli/cli.hpp"
#include "cli/signals.hpp"

namespace {

constexpr const char* kVersion = "0.1.0";

baton::cli::OutputFormat ParseFormat(const std::string& s) {
  if (s == "json") return baton::cli::OutputFormat::kJson;
  if (s == "jsonl") return baton::cli::OutputFormat::kJsonl;
  return baton::cli::OutputFormat::kText;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace baton::cli;
  CLI::App app{"baton: a fast, durable engine for multi-agent LLM workflows"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("baton ") + kVersion);

  CommonOptions common;
  std::string output = "text";
  auto add_store = [&](CLI::App* cmd) {
    cmd->add_option("--store", common.store, "journal: SQLite file, or :memory:")
        ->capture_default_str();
    cmd->add_option("--sync", common.sync, "SQLite synchronous mode: full (default) or normal")
        ->check(CLI::IsMember({"full", "normal"}));
  };
  auto add_output = [&](CLI::App* cmd, std::vector<std::string> allowed) {
    cmd->add_option("-o,--output", output, "output format")->check(CLI::IsMember(allowed));
  };

  // run
  RunCommandOptions run;
  auto* run_cmd = app.add_subcommand("run", "run a workflow file");
  run_cmd->add_option("file", run.file, "workflow file (YAML or JSON)")->required();
  run_cmd->add_option("-i,--input", run.inputs, "input: key=value, or @file.json (repeatable)");
  run_cmd->add_option("--timeout", run.timeout, "run timeout, e.g. 10m (overrides the workflow)");
  run_cmd
      ->add_option("--max-concurrency", run.max_concurrency,
                   "bound on step instances executing at once")
      ->capture_default_str();
  run_cmd->add_option("--threads", run.threads, "executor threads (default: one per core)");
  run_cmd->add_flag("--stream", run.stream,
                    "stream model replies: text as it arrives (plain output), model_delta "
                    "events (jsonl)");
  add_store(run_cmd);
  add_output(run_cmd, {"text", "json", "jsonl"});

  // validate
  std::vector<std::string> validate_files;
  auto* validate_cmd = app.add_subcommand("validate", "check workflow files without running them");
  validate_cmd->add_option("files", validate_files, "workflow files")->required();
  add_output(validate_cmd, {"text", "json"});

  // graph
  std::string graph_file, graph_format = "mermaid";
  auto* graph_cmd = app.add_subcommand("graph", "draw a workflow's steps and dependencies");
  graph_cmd->add_option("file", graph_file, "workflow file")->required();
  graph_cmd->add_option("--format", graph_format, "mermaid or dot")
      ->check(CLI::IsMember({"mermaid", "dot"}));

  // runs
  auto* runs_cmd = app.add_subcommand("runs", "inspect, resume and cancel runs");
  runs_cmd->require_subcommand(1);
  std::string list_status, list_workflow;
  int list_limit = 20;
  auto* list_cmd = runs_cmd->add_subcommand("list", "list runs, newest first");
  list_cmd->add_option("--status", list_status, "only runs with this status");
  list_cmd->add_option("--workflow", list_workflow, "only runs of this workflow");
  list_cmd->add_option("--limit", list_limit, "how many")->capture_default_str();
  bool list_waiting = false;
  list_cmd->add_flag("--waiting", list_waiting,
                     "the pending approvals, event waits and timers of unfinished runs");
  add_store(list_cmd);
  add_output(list_cmd, {"text", "json"});

  std::string run_id;
  bool trace = false;
  auto* show_cmd = runs_cmd->add_subcommand("show", "a run's steps, outputs, usage and trace");
  show_cmd->add_option("id", run_id, "run id (or a unique prefix)")->required();
  show_cmd->add_flag("--trace", trace, "include each model call's prompt, reply and reasoning");
  add_store(show_cmd);
  add_output(show_cmd, {"text", "json"});

  bool follow = false;
  auto* events_cmd = runs_cmd->add_subcommand("events", "a run's journal of events");
  events_cmd->add_option("id", run_id, "run id (or a unique prefix)")->required();
  events_cmd->add_flag("-f,--follow", follow, "keep printing until the run finishes");
  add_store(events_cmd);
  add_output(events_cmd, {"text", "jsonl"});

  int resume_threads = 0;
  auto* resume_cmd = runs_cmd->add_subcommand("resume", "continue an interrupted or paused run");
  resume_cmd->add_option("id", run_id, "run id (or a unique prefix)")->required();
  resume_cmd->add_option("--threads", resume_threads, "executor threads");
  BudgetRaise raise;
  resume_cmd->add_option("--max-cost-usd", raise.max_cost_usd,
                         "paused run: the run's new cost limit in USD");
  resume_cmd->add_option("--max-tokens", raise.max_tokens, "paused run: the run's new token limit");
  resume_cmd->add_option("--daily-usd", raise.daily_usd,
                         "paused run: the workflow's new daily limit in USD");
  add_store(resume_cmd);
  add_output(resume_cmd, {"text", "json", "jsonl"});

  bool cancel_wait = false;
  auto* cancel_cmd = runs_cmd->add_subcommand("cancel", "stop a run");
  cancel_cmd->add_option("id", run_id, "run id (or a unique prefix)")->required();
  cancel_cmd->add_flag("--wait", cancel_wait, "wait until the run has stopped");
  add_store(cancel_cmd);

  auto* providers_cmd = app.add_subcommand("providers", "list providers and check models");
  providers_cmd->require_subcommand(1);
  auto* providers_list_cmd =
      providers_cmd->add_subcommand("list", "known providers, default URLs and key variables");
  std::string check_file;
  auto* providers_check_cmd = providers_cmd->add_subcommand(
      "check", "send a tiny request to every configured model and report");
  providers_check_cmd->add_option("file", check_file, "also check this workflow's models");
  add_output(providers_check_cmd, {"text", "json"});

  std::string stats_since, stats_workflow;
  auto* stats_cmd = app.add_subcommand(
      "stats", "success rates, durations, retries, tokens, cost and breakers from the journal");
  stats_cmd->add_option("--since", stats_since,
                        "only runs started since: a duration back (24h, 7d) or a UTC date or "
                        "time (2025-01-31, 2025-01-31T12:00:00Z)");
  stats_cmd->add_option("--workflow", stats_workflow, "only runs of this workflow");
  add_store(stats_cmd);
  add_output(stats_cmd, {"table", "text", "json"});

  // approve, events, triggers (cmd_waits.cpp)
  ApproveOptions approve;
  auto* approve_cmd =
      app.add_subcommand("approve", "decide a pending approval and continue the run");
  approve_cmd->add_option("run", approve.run_id, "run id (or a unique prefix)")->required();
  approve_cmd->add_option("step", approve.step, "the approval step")->required();
  approve_cmd->add_flag("--reject", approve.reject, "reject instead of approve");
  approve_cmd->add_option("--comment", approve.comment, "a comment, given to the workflow");
  approve_cmd->add_option("--data", approve.data, "JSON (or @file.json) given to the workflow");
  approve_cmd->add_option("--by", approve.by, "who decides (default: $USER)");
  approve_cmd->add_option("--item", approve.item, "the for_each item of the step");
  approve_cmd->add_option("--threads", approve.threads, "executor threads");
  add_store(approve_cmd);
  add_output(approve_cmd, {"text", "json", "jsonl"});

  auto* bus_cmd = app.add_subcommand("events", "the event bus: send and list events");
  bus_cmd->require_subcommand(1);
  std::string bus_name, bus_data;
  int bus_limit = 20, bus_threads = 0;
  auto* send_cmd = bus_cmd->add_subcommand(
      "send", "publish an event: waiting runs receive it, triggered workflows start");
  send_cmd->add_option("name", bus_name, "event name")->required();
  send_cmd->add_option("--data", bus_data, "the event's data: JSON, or @file.json");
  send_cmd->add_option("--threads", bus_threads, "executor threads");
  add_store(send_cmd);
  add_output(send_cmd, {"text", "json"});
  auto* bus_list_cmd = bus_cmd->add_subcommand("list", "published events, newest first");
  bus_list_cmd->add_option("--name", bus_name, "only events with this name");
  bus_list_cmd->add_option("--limit", bus_limit, "how many")->capture_default_str();
  add_store(bus_list_cmd);
  add_output(bus_list_cmd, {"text", "json"});

  auto* triggers_cmd = app.add_subcommand("triggers", "workflows started by events (their 'on:')");
  triggers_cmd->require_subcommand(1);
  std::string trigger_arg;
  auto* trig_add_cmd = triggers_cmd->add_subcommand("add", "register a workflow file's 'on:'");
  trig_add_cmd->add_option("file", trigger_arg, "workflow file")->required();
  add_store(trig_add_cmd);
  auto* trig_list_cmd = triggers_cmd->add_subcommand("list", "registered triggers");
  add_store(trig_list_cmd);
  add_output(trig_list_cmd, {"text", "json"});
  auto* trig_remove_cmd =
      triggers_cmd->add_subcommand("remove", "unregister a workflow's triggers");
  trig_remove_cmd->add_option("workflow", trigger_arg, "workflow name")->required();
  add_store(trig_remove_cmd);

  auto* version_cmd = app.add_subcommand("version", "print the version");

  AddSimServerCommand(app);  // sim-server: runs and exits from its parse callback

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  common.output = ParseFormat(output);

  if (version_cmd->parsed()) {
    std::printf("baton %s\n", kVersion);
    return kExitOk;
  }
  // Before the store or the engine start their threads: they must not receive Ctrl-C.
  if (run_cmd->parsed() || resume_cmd->parsed() || approve_cmd->parsed() || send_cmd->parsed()) {
    BlockInterruptSignals();
  }
  if (run_cmd->parsed()) return RunCommand(common, run);
  if (validate_cmd->parsed()) return ValidateCommand(common, validate_files);
  if (graph_cmd->parsed()) return GraphCommand(graph_file, graph_format);
  if (providers_list_cmd->parsed()) return ProvidersListCommand();
  if (providers_check_cmd->parsed()) return ProvidersCheckCommand(common, check_file);
  if (list_cmd->parsed() && list_waiting) return RunsWaitingCommand(common, list_limit);
  if (list_cmd->parsed()) return RunsListCommand(common, list_status, list_workflow, list_limit);
  if (approve_cmd->parsed()) return ApproveCommand(common, approve);
  if (send_cmd->parsed()) return EventsSendCommand(common, bus_name, bus_data, bus_threads);
  if (bus_list_cmd->parsed()) return EventsListCommand(common, bus_name, bus_limit);
  if (trig_add_cmd->parsed()) return TriggersAddCommand(common, trigger_arg);
  if (trig_list_cmd->parsed()) return TriggersListCommand(common);
  if (trig_remove_cmd->parsed()) return TriggersRemoveCommand(common, trigger_arg);
  if (show_cmd->parsed()) return RunsShowCommand(common, run_id, trace);
  if (events_cmd->parsed()) return RunsEventsCommand(common, run_id, follow);
  if (resume_cmd->parsed()) return ResumeCommand(common, run_id, resume_threads, raise);
  if (cancel_cmd->parsed()) return RunsCancelCommand(common, run_id, cancel_wait);
  if (stats_cmd->parsed()) return StatsCommand(common, stats_since, stats_workflow);
  return kExitUsage;
}
