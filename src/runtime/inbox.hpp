#pragma once

// The engine's side of waits (core/waits.hpp): reading a run's inbox into the decider, and
// turning a decision's wait events into the store updates committed with them (published
// events, subscriptions, consumed signals). Called on the run's strand.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "core/decider.hpp"
#include "store/store.hpp"

namespace baton::runtime {

// Reads the run's unconsumed signals and applies each (Decider::Signal). Their ids go to
// `consumed` (to be marked consumed by the next append, with the events that record them).
// Returns how many were read.
Result<int> ApplyInbox(store::Store& store, core::RunState& state, int64_t now_ms,
                       core::Decision& out, std::vector<int64_t>& consumed);

// Adds to `update` (creating it when needed) what `events` mean for the bus: event_emitted ->
// publish, wait_started on an event -> subscribe, event_received / the end of a wait step ->
// unsubscribe; and moves `consumed` into it. Returns the events published (JSON {id, event,
// data}), for EngineOptions::on_published.
std::vector<json::object> AddWaitUpdates(const core::RunState& state,
                                         const std::vector<core::Event>& events,
                                         std::vector<int64_t>& consumed,
                                         std::optional<store::RunUpdate>& update);

// What the run waits for, one line each ("approval 'gate': Ship it?", "event 'order.paid'",
// "timer until 2026-...Z"), for messages.
std::vector<std::string> DescribeWaits(const core::RunState& state);

}  // namespace baton::runtime
