#include "core/waits.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "base/duration.hpp"
#include "core/decider_internal.hpp"
#include "core/step_env.hpp"

namespace baton::core {
namespace {

using namespace internal;

int64_t IntOf(const json::object& o, std::string_view key, int64_t def = 0) {
  const auto* v = o.if_contains(key);
  if (!v) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return def;
}

const json::value* Field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

const Step& StepAt(const RunState& state, int i) {
  return state.workflow().steps[static_cast<size_t>(i)];
}

StepOutcome OutcomeFor(int i, const PendingWait& w) {
  StepOutcome o;
  o.step = i;
  o.item = w.item;
  o.attempt = w.attempt;
  return o;
}

// A failure that the retry policy never repeats (a timeout of a wait is final).
Status Final(Status st) { return st.WithRetryHints({-1, true}); }

// A fanned-out step whose instances are all finished succeeds with their outputs in order, or
// fails with the first failed item's error.
void CompleteFanIn(RunState& state, Decision& out, int i, int64_t now) {
  auto& st = state.step(i);
  if (st.status != StepStatus::kRunning || !st.fanned_out) return;
  if (st.done < static_cast<int>(st.instances.size())) return;
  json::array outputs;
  outputs.reserve(st.instances.size());
  for (const auto& in : st.instances) {
    if (in.status == StepStatus::kFailed) {
      FailStep(state, out, i, -1, 0, in.error, now);
      return;
    }
    outputs.push_back(in.output);
  }
  SucceedStep(state, out, i, 0, json::value(std::move(outputs)), now);
}

// Finishes an instance started by StartWait without going through OnOutcome (which advances,
// and StartWait runs inside Advance).
void FinishInline(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
                  json::value output, const json::object* error, int64_t now) {
  const Step& step = StepAt(state, i);
  if (!state.step(i).fanned_out) {
    if (error) {
      FailStep(state, out, i, -1, attempt, *error, now);
    } else {
      SucceedStep(state, out, i, attempt, std::move(output), now);
    }
    return;
  }
  if (error) {
    FailStep(state, out, i, item, attempt, *error, now);
  } else {
    Event e = MakeEvent(EventType::kStepSucceeded, step, item, attempt);
    e.data["output"] = std::move(output);
    Emit(state, out, std::move(e), now);
  }
  CompleteFanIn(state, out, i, now);
}

void ApplyApproval(RunState& state, const json::object& signal, int64_t id, int64_t now,
                   Decision& out) {
  const auto* step = signal.if_contains("step");
  if (!step || !step->is_string()) return;
  int32_t item = static_cast<int32_t>(IntOf(signal, "item", -1));
  const PendingWait* found = state.waits().Find(step->get_string(), item);
  if (!found || found->kind != PendingWait::Kind::kApproval) return;
  PendingWait w = *found;
  int i = state.workflow().StepIndex(w.step);
  if (i < 0) return;
  const auto* by = Field(signal, "by");
  if (!w.approvers.empty()) {
    if (!by || !by->is_string() ||
        std::find(w.approvers.begin(), w.approvers.end(), by->get_string()) == w.approvers.end()) {
      return;  // `baton approve` refuses these; a stray one is dropped
    }
  }
  const auto* approved_v = signal.if_contains("approved");
  bool approved = approved_v && approved_v->is_bool() && approved_v->get_bool();
  const json::value* comment = Field(signal, "comment");
  const json::value* data = Field(signal, "data");
  Event e = MakeEvent(EventType::kApprovalGiven, StepAt(state, i), w.item, w.attempt);
  e.data["approved"] = approved;
  if (comment) e.data["comment"] = *comment;
  if (data) e.data["data"] = *data;
  if (by) e.data["by"] = *by;
  if (id > 0) e.data["signal"] = id;
  Emit(state, out, std::move(e), now);

  StepOutcome o = OutcomeFor(i, w);
  if (approved) {
    o.output = json::object{{"approved", true},
                            {"comment", comment ? *comment : json::value()},
                            {"data", data ? *data : json::value()},
                            {"by", by ? *by : json::value()}};
  } else {
    std::string who = by && by->is_string() ? fmt::format(" by {}", by->get_string().c_str()) : "";
    std::string why =
        comment && comment->is_string() ? fmt::format(": {}", comment->get_string().c_str()) : "";
    o.status = Status(Code::kFailedPrecondition,
                      fmt::format("approval of step '{}' was rejected{}{}", w.step, who, why),
                      "approval_rejected");
  }
  Decider::OnOutcome(state, std::move(o), now, out);
}

// Whether the wait's `match` accepts an event with `data` (no match: yes). An expression that
// fails on this event (e.g. a missing field) does not match it.
bool Matches(const RunState& state, int i, const PendingWait& w, const json::value& data) {
  const auto& wait = std::get<WaitStep>(StepAt(state, i).kind);
  if (!wait.match) return true;
  ItemLocals l = LocalsFor(state, i, w.item);
  StepEnv env = EnvFor(state, i, l);
  env.WithLocal("event", &data);
  auto v = wait.match->Evaluate(env);
  return v.ok() && v->is_bool() && v->get_bool();
}

void ApplyEvent(RunState& state, const json::object& signal, int64_t id, int64_t now,
                Decision& out) {
  const auto* name = signal.if_contains("event");
  if (!name || !name->is_string()) return;
  static const json::value kNull;
  const json::value* data = signal.if_contains("data");
  if (!data) data = &kNull;
  json::value event_id = signal.contains("id") ? signal.at("id") : json::value();
  // Every pending wait of the run for this name whose match accepts it receives the event.
  std::vector<PendingWait> candidates;
  for (const auto& w : state.waits().pending()) {
    if (w.kind == PendingWait::Kind::kEvent && w.event == name->get_string()) {
      candidates.push_back(w);
    }
  }
  for (const auto& w : candidates) {
    if (IsTerminal(state.status())) return;
    const PendingWait* still = state.waits().Find(w.step, w.item);
    if (!still || still->kind != PendingWait::Kind::kEvent || still->item != w.item) continue;
    int i = state.workflow().StepIndex(w.step);
    if (i < 0 || !std::holds_alternative<WaitStep>(StepAt(state, i).kind)) continue;
    if (!Matches(state, i, w, *data)) continue;
    Event e = MakeEvent(EventType::kEventReceived, StepAt(state, i), w.item, w.attempt);
    e.data["event"] = *name;
    e.data["data"] = *data;
    e.data["id"] = event_id;
    if (id > 0) e.data["signal"] = id;
    Emit(state, out, std::move(e), now);
    StepOutcome o = OutcomeFor(i, w);
    o.output = json::object{{"event", *name}, {"data", *data}, {"id", event_id}};
    Decider::OnOutcome(state, std::move(o), now, out);
  }
}

// Fires one due wait: records what happened and finishes its step through OnOutcome.
void Fire(RunState& state, const PendingWait& w, int64_t now, Decision& out) {
  int i = state.workflow().StepIndex(w.step);
  if (i < 0) return;
  const Step& step = StepAt(state, i);
  StepOutcome o = OutcomeFor(i, w);
  if (w.kind == PendingWait::Kind::kApproval) {
    const auto& a = std::get<ApprovalStep>(step.kind);
    Event e = MakeEvent(EventType::kApprovalGiven, step, w.item, w.attempt);
    e.data["approved"] = a.on_timeout == "approve";
    e.data["timed_out"] = true;
    Emit(state, out, std::move(e), now);
    std::string after =
        a.timeout ? fmt::format(" after {}", FormatDuration(*a.timeout)) : std::string();
    if (a.on_timeout == "approve") {
      o.output = json::object{{"approved", true},
                              {"comment", nullptr},
                              {"data", nullptr},
                              {"by", nullptr},
                              {"timed_out", true}};
    } else if (a.on_timeout == "reject") {
      o.status = Status(
          Code::kFailedPrecondition,
          fmt::format("approval of step '{}' timed out{} (on_timeout: reject)", w.step, after),
          "approval_rejected");
    } else {
      o.status =
          Final(Status(Code::kDeadlineExceeded,
                       fmt::format("approval of step '{}' timed out{}", w.step, after), "timeout"));
    }
  } else {
    const auto& wait = std::get<WaitStep>(step.kind);
    Event e = MakeEvent(EventType::kEventReceived, step, w.item, w.attempt);
    if (w.kind == PendingWait::Kind::kTimer) {
      e.data["timer"] = true;
      o.output = json::object{{"timer", true}};
    } else {
      e.data["timed_out"] = true;
      if (wait.on_timeout == "continue") {
        o.output = json::object{{"timed_out", true}, {"event", w.event}, {"data", nullptr}};
      } else {
        std::string after =
            wait.timeout ? fmt::format(" after {}", FormatDuration(*wait.timeout)) : std::string();
        o.status = Final(Status(
            Code::kDeadlineExceeded,
            fmt::format("step '{}' waited for event '{}' and timed out{}", w.step, w.event, after),
            "timeout"));
      }
    }
    Emit(state, out, std::move(e), now);
  }
  Decider::OnOutcome(state, std::move(o), now, out);
}

int DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int>(doe) - 719468;
}

}  // namespace

bool IsWaitStep(const Step& step) {
  return std::holds_alternative<ApprovalStep>(step.kind) ||
         std::holds_alternative<WaitStep>(step.kind);
}

bool CanSuspend(const RunState& state) {
  const WaitTable& waits = state.waits();
  if (waits.empty() || waits.timers() > 0) return false;
  if (IsTerminal(state.status()) || state.paused() || state.cancel_requested() ||
      state.failed_step() >= 0) {
    return false;
  }
  if (state.running_instances() != static_cast<int>(waits.pending().size())) return false;
  for (int i : state.active_steps()) {
    if (state.step(i).waiting_retries > 0) return false;
  }
  return true;
}

std::optional<int64_t> ParseTimestampMs(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) return static_cast<int64_t>(v.get_uint64());
  if (v.is_double()) return static_cast<int64_t>(v.get_double());
  if (!v.is_string()) return std::nullopt;
  std::string s(v.get_string());
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0, n = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10) {
    return std::nullopt;
  }
  size_t pos = 10;
  int64_t ms = 0;
  int64_t offset_min = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') return std::nullopt;
    ++pos;
    if (std::sscanf(s.c_str() + pos, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 || n != 8) {
      return std::nullopt;
    }
    pos += 8;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      int digits = 0;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        if (digits < 3) ms = ms * 10 + (s[pos] - '0');
        ++digits;
        ++pos;
      }
      if (digits == 0) return std::nullopt;
      for (int k = digits; k < 3; ++k) ms *= 10;
    }
    if (pos >= s.size()) return std::nullopt;  // a time needs a zone
    if (s[pos] == 'Z' || s[pos] == 'z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh = 0, om = 0;
      if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &n) != 2 || n != 5) {
        return std::nullopt;
      }
      offset_min = (s[pos] == '-' ? -1 : 1) * (oh * 60 + om);
      pos += 6;
    } else {
      return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
  return secs * 1000 + ms;
}

namespace internal {

Result<json::object> RenderWaitInput(const RunState& state, int i, int32_t item) {
  const Step& step = StepAt(state, i);
  ItemLocals l = LocalsFor(state, i, item);
  StepEnv env = EnvFor(state, i, l);
  json::object in;
  if (const auto* a = std::get_if<ApprovalStep>(&step.kind)) {
    BATON_ASSIGN_OR_RETURN(in["prompt"], RenderOpt(a->prompt, env));
  } else if (const auto* e = std::get_if<EmitStep>(&step.kind)) {
    BATON_ASSIGN_OR_RETURN(in["data"], RenderOpt(e->data, env));
  } else if (const auto* w = std::get_if<WaitStep>(&step.kind)) {
    if (w->until) {
      BATON_ASSIGN_OR_RETURN(json::value until, w->until->Render(env));
      auto ms = ParseTimestampMs(until);
      if (!ms) {
        return Status(Code::kInvalidArgument,
                      fmt::format("wait.until: expected a timestamp (milliseconds since the epoch "
                                  "or RFC 3339), got {}",
                                  ToJson(until)),
                      "expression");
      }
      in["until"] = *ms;
    }
  }
  return in;
}

bool StartWait(RunState& state, Decision& out, int i, int32_t item, int32_t attempt,
               const json::object& input, int64_t now) {
  const Step& step = StepAt(state, i);
  if (const auto* a = std::get_if<ApprovalStep>(&step.kind)) {
    Event e = MakeEvent(EventType::kApprovalRequested, step, item, attempt);
    const auto* prompt = input.if_contains("prompt");
    e.data["prompt"] = prompt ? *prompt : json::value();
    if (a->timeout) e.data["timeout_at_ms"] = now + a->timeout->count();
    if (!a->approvers.empty()) {
      json::array names;
      for (const auto& n : a->approvers) names.emplace_back(n);
      e.data["approvers"] = std::move(names);
    }
    Emit(state, out, std::move(e), now);
    return true;
  }
  if (const auto* w = std::get_if<WaitStep>(&step.kind)) {
    Event e = MakeEvent(EventType::kWaitStarted, step, item, attempt);
    if (!w->event.empty()) {
      e.data["event"] = w->event;
      if (w->timeout) e.data["timeout_at_ms"] = now + w->timeout->count();
    } else {
      int64_t until = w->duration ? now + w->duration->count() : IntOf(input, "until", now);
      e.data["until_ms"] = std::max<int64_t>(until, 1);
    }
    Emit(state, out, std::move(e), now);
    return true;
  }
  if (const auto* em = std::get_if<EmitStep>(&step.kind)) {
    const auto* data = input.if_contains("data");
    json::value event_id(fmt::format("{}.{}", state.run_id(), state.last_seq() + 1));
    Event e = MakeEvent(EventType::kEventEmitted, step, item, attempt);
    e.data["event"] = em->event;
    e.data["data"] = data ? *data : json::value();
    e.data["id"] = event_id;
    json::value output =
        json::object{{"event", em->event}, {"data", e.data["data"]}, {"id", event_id}};
    Emit(state, out, std::move(e), now);
    FinishInline(state, out, i, item, attempt, std::move(output), nullptr, now);
    return true;
  }
  return false;
}

bool FireDueWaits(RunState& state, Decision& out, int64_t now) {
  int64_t next = state.waits().NextDeadline();
  if (next == 0 || next > now) return false;
  std::vector<PendingWait> due;
  for (const auto& w : state.waits().pending()) {
    bool timer_due = w.kind == PendingWait::Kind::kTimer && w.until_ms <= now;
    bool timed_out = w.timeout_at_ms > 0 && w.timeout_at_ms <= now;
    if (timer_due || timed_out) due.push_back(w);
  }
  bool fired = false;
  for (const auto& w : due) {
    if (IsTerminal(state.status()) || state.cancel_requested() || state.failed_step() >= 0) break;
    const PendingWait* still = state.waits().Find(w.step, w.item);
    if (!still || still->item != w.item || still->kind != w.kind) continue;
    Fire(state, w, now, out);
    fired = true;
  }
  return fired;
}

void NextWaitWake(const RunState& state, Decision& out) {
  int64_t next = state.waits().NextDeadline();
  if (next > 0 && (out.wake_at_ms == 0 || next < out.wake_at_ms)) out.wake_at_ms = next;
}

void StopWaits(RunState& state, Decision& out, int64_t now) {
  while (!state.waits().empty()) {
    PendingWait w = state.waits().pending().front();
    int i = state.workflow().StepIndex(w.step);
    if (i < 0) break;  // a journal of another workflow: nothing to cancel
    Event e = MakeEvent(EventType::kStepCancelled, StepAt(state, i));
    e.data["reason"] = "the run stopped while this step was waiting";
    Emit(state, out, std::move(e), now);
  }
}

}  // namespace internal

void Decider::Signal(RunState& state, json::object signal, int64_t now, Decision& out) {
  if (IsTerminal(state.status())) return;
  int64_t id = IntOf(signal, "signal");
  if (id > 0 && state.waits().SignalApplied(id)) return;
  const auto* kind = signal.if_contains("kind");
  if (!kind || !kind->is_string()) return;
  if (kind->get_string() == "approval") {
    ApplyApproval(state, signal, id, now, out);
  } else if (kind->get_string() == "event") {
    ApplyEvent(state, signal, id, now, out);
  }
}

}  // namespace baton::core
