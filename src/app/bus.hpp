#pragma once

// What the journal's event bus and run inboxes ask of a baton process (docs/runtime.md "Waits
// and events"): starting the runs of registered triggers (`on:`) when an event is published,
// and continuing suspended runs once a signal (an approval, a delivered event) reached their
// inbox. Every run started or continued here executes on the attached engine and is listed by
// Take(), so the command that owns the engine can wait for it before exiting.
//
// Thread-safe. The store, registries and engine must outlive the Bus.

#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "app/app.hpp"
#include "runtime/engine.hpp"

namespace baton::app {

// This machine's host name, as runs record their owner.
std::string ThisHost();

class Bus {
 public:
  struct Adopted {
    std::string run_id;
    std::string why;  // "triggered by event <name> (<id>)" / "continued"
  };

  Bus(store::Store& store, const Registries& registries) : store_(store), registries_(registries) {}

  // The engine runs start on; set before the first event (EngineOptions::on_published may call
  // OnPublished from the moment the engine exists).
  void Attach(runtime::Engine* engine);

  // Publishes an event from outside (`baton events send`) and acts on it like OnPublished, then
  // on events whose triggers an earlier process did not get to start. Returns the event, with
  // the runs it was delivered to.
  Result<store::BusEvent> Send(std::string name, json::value data, int64_t now_ms,
                               std::vector<std::string>* delivered = nullptr);

  // EngineOptions::on_published: {id, event, data, run_id, time_ms}.
  void OnPublished(const json::object& event);

  // Starts a run of each trigger registered for the event whose `match` accepts it; its inputs
  // are the declared inputs found in the event's data (an object). The run id derives from the
  // event and the workflow, so acting on an event twice starts nothing new. Then marks the
  // event's triggers done. Problems with one trigger are reported in Errors() and do not stop
  // the others.
  void StartTriggered(const store::BusEvent& event);

  // Runs subscribed to `event` that no live process owns and that have signals waiting are
  // continued here.
  void ContinueSubscribers(std::string_view event);

  // Claims `run` (compare-and-set on its owner) and continues it on the engine. false when a
  // live process owns it or another one claimed it first.
  Result<bool> Continue(const store::RunRecord& run, std::string why = "continued");

  // Runs started or continued here and not yet returned, in order.
  std::vector<Adopted> Take();
  // Problems met while acting on events (a trigger whose workflow no longer loads, ...).
  std::vector<std::string> Errors();

  // The id of the run `workflow` starts for bus event `event_id` (published at `time_ms`).
  static std::string TriggeredRunId(std::string_view event_id, std::string_view workflow,
                                    int64_t time_ms);

 private:
  void Adopt(std::string run_id, std::string why);
  void Error(std::string message);

  store::Store& store_;
  const Registries& registries_;
  std::mutex mu_;
  runtime::Engine* engine_ = nullptr;
  std::vector<Adopted> adopted_;
  std::vector<std::string> errors_;
};

}  // namespace baton::app
