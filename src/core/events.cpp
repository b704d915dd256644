#include "core/events.hpp"

#include <array>

namespace baton::core {
namespace {

constexpr std::array<std::string_view, 33> kEventNames = {"run_started",
                                                          "step_started",
                                                          "step_succeeded",
                                                          "step_failed",
                                                          "step_skipped",
                                                          "retry_scheduled",
                                                          "fan_out",
                                                          "memory_written",
                                                          "model_called",
                                                          "tool_called",
                                                          "run_cancel_requested",
                                                          "run_finished",
                                                          "needs_attention",
                                                          "run_paused",
                                                          "run_resumed",
                                                          "model_delta",
                                                          "step_cancelled",
                                                          "branch_started",
                                                          "branch_finished",
                                                          "iteration_started",
                                                          "iteration_finished",
                                                          "participant_answered",
                                                          "consensus_decided",
                                                          "plan_created",
                                                          "plan_rejected",
                                                          "compensation_started",
                                                          "approval_requested",
                                                          "approval_given",
                                                          "event_emitted",
                                                          "wait_started",
                                                          "event_received",
                                                          "child_run_started",
                                                          "route_chosen"};

constexpr std::array<std::string_view, 10> kRunStatusNames = {
    "pending",     "running", "succeeded", "failed",      "cancelled",
    "interrupted", "paused",  "waiting",   "compensated", "compensation_failed"};

}  // namespace

std::string_view EventTypeName(EventType type) { return kEventNames[static_cast<size_t>(type)]; }

std::optional<EventType> EventTypeFromName(std::string_view name) {
  for (size_t i = 0; i < kEventNames.size(); ++i) {
    if (kEventNames[i] == name) return static_cast<EventType>(i);
  }
  return std::nullopt;
}

std::string_view RunStatusName(RunStatus s) { return kRunStatusNames[static_cast<size_t>(s)]; }

std::optional<RunStatus> RunStatusFromName(std::string_view name) {
  for (size_t i = 0; i < kRunStatusNames.size(); ++i) {
    if (kRunStatusNames[i] == name) return static_cast<RunStatus>(i);
  }
  return std::nullopt;
}

json::object EventToJson(const Event& e) {
  json::object o;
  o["seq"] = e.seq;
  o["type"] = EventTypeName(e.type);
  o["time_ms"] = e.time_ms;
  if (!e.step.empty()) o["step"] = e.step;
  if (e.item >= 0) o["item"] = e.item;
  if (e.attempt > 0) o["attempt"] = e.attempt;
  if (!e.data.empty()) o["data"] = e.data;
  return o;
}

Result<Event> EventFromJson(const json::value& v) {
  const auto* o = v.if_object();
  if (!o) return InvalidArgument("event: expected an object");
  Event e;
  const auto* type = o->if_contains("type");
  if (!type || !type->is_string()) return InvalidArgument("event: missing type");
  auto t = EventTypeFromName(type->get_string());
  if (!t) return InvalidArgument("event: unknown type '" + std::string(type->get_string()) + "'");
  e.type = *t;
  auto int_field = [&](const char* key, int64_t def) -> int64_t {
    const auto* f = o->if_contains(key);
    if (!f) return def;
    if (f->is_int64()) return f->get_int64();
    if (f->is_uint64()) return static_cast<int64_t>(f->get_uint64());
    return def;
  };
  e.seq = static_cast<uint64_t>(int_field("seq", 0));
  e.time_ms = int_field("time_ms", 0);
  e.item = static_cast<int32_t>(int_field("item", -1));
  e.attempt = static_cast<int32_t>(int_field("attempt", 0));
  if (const auto* s = o->if_contains("step"); s && s->is_string()) e.step = s->get_string();
  if (const auto* d = o->if_contains("data"); d && d->is_object()) e.data = d->get_object();
  return e;
}

}  // namespace baton::core
