#pragma once

// Executing runs from a command (cmd_run.cpp), shared by `run`, `runs resume`, `approve` and
// `events send`: an engine with live progress and the event bus attached. Main thread only.

#include <functional>
#include <string>

#include "app/app.hpp"
#include "app/bus.hpp"
#include "cli/cli.hpp"
#include "runtime/engine.hpp"

namespace baton::cli {

// Runs `start` (which starts or resumes a run on the engine and returns its id, or "" when it
// only acted on the bus), shows progress (of `wf`'s steps; null: none known), waits and prints
// the result; then waits for the runs the bus started or continued here. Returns the exit
// status: the run's (0 / 3 / 4 waiting or paused / 130), or without a run of its own 0, or 3
// when a run it executed failed.
int Execute(const CommonOptions& common, app::Registries& registries, const core::Workflow* wf,
            int threads, int max_concurrency, bool stream, store::Store& store,
            const std::function<Result<std::string>(runtime::Engine&, app::Bus&)>& start);

// Waits for every run `bus` started or continued on `engine` (also those they cause in turn)
// and prints one line each (stdout when `main_id` is "", else stderr; a JSON array with -o json
// and no main run). Returns `code`, updated when `main_id` itself was continued here.
int WaitForAdopted(const CommonOptions& common, runtime::Engine& engine, app::Bus& bus,
                   const std::string& main_id, int code, bool interrupted);

}  // namespace baton::cli
