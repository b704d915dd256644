#pragma once

// Shared pieces of the baton command line: exit codes, options common to the commands, and the
// command entry points (one file per command group).

#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace baton::app {
struct Registries;
}

namespace baton::cli {

// Exit codes (documented in README.md and docs/cli.md).
enum ExitCode : int {
  kExitOk = 0,
  kExitError = 1,
  kExitUsage = 2,
  kExitRunFailed = 3,
  kExitPaused = 4,
  kExitValidation = 5,
  kExitNotFound = 6,
  kExitInterrupted = 130,
};

enum class OutputFormat { kText, kJson, kJsonl };

struct CommonOptions {
  std::string store = ".baton/baton.db";
  std::string sync = "full";  // full | normal
  OutputFormat output = OutputFormat::kText;
};

struct RunCommandOptions {
  std::string file;
  std::vector<std::string> inputs;  // key=value or @file.json
  std::string timeout;
  int max_concurrency = 64;
  int threads = 0;      // 0 = hardware concurrency
  bool stream = false;  // show model replies as they stream
};

// Loads the configuration files into `registries`, printing their diagnostics; false when any
// is an error.
bool ReportConfig(app::Registries& registries);

// New limits for a paused run (`runs resume --max-cost-usd ...`); unset = keep.
struct BudgetRaise {
  double max_cost_usd = -1;
  long long max_tokens = -1;
  double daily_usd = -1;
};

int RunCommand(const CommonOptions& common, const RunCommandOptions& options);
int ResumeCommand(const CommonOptions& common, const std::string& run_id, int threads,
                  const BudgetRaise& raise);
int ValidateCommand(const CommonOptions& common, const std::vector<std::string>& files);
int GraphCommand(const std::string& file, const std::string& format);
int RunsListCommand(const CommonOptions& common, const std::string& status,
                    const std::string& workflow, int limit);
int RunsShowCommand(const CommonOptions& common, const std::string& run_id, bool trace);
int RunsEventsCommand(const CommonOptions& common, const std::string& run_id, bool follow);
int ProvidersListCommand();
// Sends a tiny request to each model of the config files (and of `workflow_file`, if given);
// exits 0 when all answer, 1 otherwise.
int ProvidersCheckCommand(const CommonOptions& common, const std::string& workflow_file);
int RunsCancelCommand(const CommonOptions& common, const std::string& run_id, bool wait);
// `baton stats` (cmd_stats.cpp): figures over the journal; `since` as app::ParseSince takes it.
int StatsCommand(const CommonOptions& common, const std::string& since,
                 const std::string& workflow);

// Approvals, the event bus and triggers (cmd_waits.cpp).
struct ApproveOptions {
  std::string run_id;
  std::string step;
  int item = -1;  // the for_each item of the step (-1: the only pending one)
  bool reject = false;
  std::string comment;
  std::string data;  // JSON, or @file
  std::string by;    // "" = $USER
  int threads = 0;
};
int ApproveCommand(const CommonOptions& common, const ApproveOptions& options);
int EventsSendCommand(const CommonOptions& common, const std::string& name, const std::string& data,
                      int threads);
int EventsListCommand(const CommonOptions& common, const std::string& name, int limit);
int TriggersAddCommand(const CommonOptions& common, const std::string& file);
int TriggersListCommand(const CommonOptions& common);
int TriggersRemoveCommand(const CommonOptions& common, const std::string& workflow);
// `baton runs list --waiting`: the pending approvals, event waits and timers of unfinished runs.
int RunsWaitingCommand(const CommonOptions& common, int limit);

// `baton sim-server` (cmd_sim_server.cpp): adds the subcommand to `app`; it runs from the
// subcommand's callback during parsing and exits the process with its status.
void AddSimServerCommand(CLI::App& app);

}  // namespace baton::cli
