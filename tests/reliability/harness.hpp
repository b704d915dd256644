#pragma once

// Shared parts of the reliability tests: a real sim-server on 127.0.0.1:0 (in process; it serves
// over real sockets), a real Engine with the composition root's registries (HTTP providers behind
// the admission chain), and readers for what both sides recorded: the run's journal and
// sim-server's per-request stats. Everything here is for the test's main thread.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app/app.hpp"
#include "base/json.hpp"
#include "core/events.hpp"
#include "core/workflow.hpp"
#include "runtime/engine.hpp"
#include "simserver/sim_server.hpp"
#include "store/store.hpp"

namespace baton::reliability {

// Starts a sim-server on 127.0.0.1:0 with `sim_json` as its sim options (a workflow's `sim:`
// block; "" for the defaults). Records a test failure and returns null when it cannot start.
std::unique_ptr<simserver::SimServer> StartSim(simserver::SimServerOptions options = {},
                                               std::string_view sim_json = "");

// Adds faults (spec strings, see docs/sim-server.md) to a running server.
void AddFaults(simserver::SimServer& server, const std::vector<std::string>& specs);

// One record of GET /_sim/stats.
struct Request {
  int64_t seq = 0;
  int64_t time_ms = 0;     // arrival (epoch ms)
  int64_t elapsed_ms = 0;  // arrival -> status sent
  int64_t sent_ms() const { return time_ms + elapsed_ms; }
  std::string model;
  std::string key_fp;
  int status = 0;
  bool stream = false;
  std::string fault;
  std::string outcome;
};

// Every request the server recorded, in arrival order.
std::vector<Request> Requests(simserver::SimServer& server);

// A process's worth of baton: registries (HTTP providers behind one admission hub), an
// in-memory store and an engine. Destroy the engine before the registries (members do).
class Host {
 public:
  explicit Host(runtime::EngineOptions options = {});
  ~Host();

  // Loads `yaml` (SERVER in it is replaced by the server's URL, e.g. base_url: SERVER/v1).
  // Records a test failure with the diagnostics and returns null when it does not load.
  std::shared_ptr<const core::Workflow> Load(std::string yaml, const std::string& server_url = "");

  // Starts a run; records a test failure and returns "" when it cannot start.
  std::string Start(std::shared_ptr<const core::Workflow> workflow, json::object inputs = {});
  // Waits for the run and returns its result (status kPending after a test failure).
  runtime::RunResult Wait(const std::string& run_id);
  std::vector<core::Event> Events(const std::string& run_id);

  app::Registries& registries() { return *registries_; }
  runtime::Engine& engine() { return *engine_; }
  // Destroys the engine and then the registries (and with them the HTTP client).
  void Shutdown();

 private:
  std::unique_ptr<app::Registries> registries_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<runtime::Engine> engine_;
};

// Events of `type` in `events`.
std::vector<const core::Event*> OfType(const std::vector<core::Event>& events,
                                       core::EventType type);

// The `error` of the model_called event of the same step, item and attempt as `e` (a
// retry_scheduled event carries only {type, message}; the call's record has the retry hint).
// Null when there is none.
const json::object* CallError(const std::vector<core::Event>& events, const core::Event& e);

// Open file descriptors of this process (entries of /proc/self/fd, minus the one used to list).
int OpenFds();

// The step's output from a run's summary (null when absent).
const json::value& StepOutput(const runtime::RunResult& result, std::string_view step);

}  // namespace baton::reliability
