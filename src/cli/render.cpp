#include "cli/render.hpp"

#include <fmt/format.h>

#include <ctime>

namespace baton::cli {
namespace {

const json::value* Get(const json::object& o, std::string_view k) { return o.if_contains(k); }

std::string Str(const json::object& o, std::string_view k) {
  const auto* v = Get(o, k);
  if (!v) return "";
  if (v->is_string()) return std::string(v->get_string());
  return ToJson(*v);
}

int64_t Int(const json::object& o, std::string_view k) {
  const auto* v = Get(o, k);
  if (!v) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

double Num(const json::object& o, std::string_view k) {
  const auto* v = Get(o, k);
  return v && v->is_number() ? v->to_number<double>() : 0.0;
}

std::string Clock(int64_t ms) {
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return fmt::format("{:02}:{:02}:{:02}.{:03}", tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(ms % 1000));
}

std::string Indent(const std::string& text, const std::string& pad) {
  std::string out = pad;
  for (char c : text) {
    out.push_back(c);
    if (c == '\n') out += pad;
  }
  return out;
}

std::string TextOf(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (const auto* o = v.if_object()) {
    if (o->contains("blob")) {
      return Str(*o, "preview") + fmt::format("… [{} bytes in blob {}]", Int(*o, "bytes"),
                                              Str(*o, "blob").substr(0, 12));
    }
  }
  return PrettyJson(v);
}

}  // namespace

std::string Thousands(int64_t n) {
  std::string s = std::to_string(n < 0 ? -n : n);
  std::string out;
  int count = 0;
  for (auto it = s.rbegin(); it != s.rend(); ++it) {
    if (count && count % 3 == 0) out.push_back(',');
    out.push_back(*it);
    ++count;
  }
  if (n < 0) out.push_back('-');
  return std::string(out.rbegin(), out.rend());
}

std::string Money(double usd) {
  if (usd == 0) return "$0";
  if (usd >= 1) return fmt::format("${:.2f}", usd);
  return fmt::format("${:.6f}", usd);
}

std::string Elapsed(int64_t ms) {
  if (ms < 1000) return fmt::format("{}ms", ms);
  if (ms < 60'000) return fmt::format("{:.2f}s", static_cast<double>(ms) / 1000.0);
  return fmt::format("{}m{:02}s", ms / 60'000, (ms / 1000) % 60);
}

std::string FormatEventLine(const core::Event& e) {
  std::string who = e.step;
  if (e.item >= 0) who += fmt::format("[{}]", e.item);
  std::string line = Clock(e.time_ms) + " ";
  const auto& d = e.data;
  switch (e.type) {
    case core::EventType::kRunStarted:
      return line + "run started" + (Get(d, "sim") ? " (sim provider)" : "");
    case core::EventType::kStepStarted:
      return line + fmt::format("{} started (attempt {})", who, e.attempt);
    case core::EventType::kStepSucceeded:
      return line + fmt::format("{} succeeded", who);
    case core::EventType::kStepFailed: {
      const auto* err = Get(d, "error");
      std::string why = err && err->is_object() ? Str(err->get_object(), "type") + ": " +
                                                      Str(err->get_object(), "message")
                                                : "";
      return line + fmt::format("{} failed: {}", who, why);
    }
    case core::EventType::kStepSkipped:
      return line + fmt::format("{} skipped ({})", who, Str(d, "reason"));
    case core::EventType::kRetryScheduled: {
      if (Get(d, "paused")) return line + fmt::format("{} waits: the run is paused", who);
      const auto* err = Get(d, "error");
      std::string why = err && err->is_object() ? Str(err->get_object(), "type") : "";
      return line + fmt::format("{} will retry in {} after {} (attempt {})", who,
                                Elapsed(Int(d, "delay_ms")), why, e.attempt);
    }
    case core::EventType::kFanOut:
      return line + fmt::format("{} fans out over {} items", who, Int(d, "count"));
    case core::EventType::kMemoryWritten:
      return line + fmt::format("memory.{} written by {}", Str(d, "key"), Str(d, "writer"));
    case core::EventType::kModelCalled: {
      const auto* u = Get(d, "usage");
      if (u && u->is_object()) {
        return line + fmt::format("{} called {} ({} in / {} out tokens, {})", who, Str(d, "model"),
                                  Thousands(Int(u->get_object(), "input_tokens")),
                                  Thousands(Int(u->get_object(), "output_tokens")),
                                  Money(Num(u->get_object(), "cost_usd")));
      }
      return line + fmt::format("{} called {}", who, Str(d, "model"));
    }
    case core::EventType::kToolCalled:
      return line + fmt::format("{} called tool {}", who, Str(d, "tool"));
    case core::EventType::kRunCancelRequested:
      return line + fmt::format("cancellation requested ({})", Str(d, "reason"));
    case core::EventType::kNeedsAttention:
      return line + fmt::format("{} needs attention: {}", who, Str(d, "reason"));
    case core::EventType::kRunFinished:
      return line + fmt::format("run {}", Str(d, "status"));
    case core::EventType::kRunPaused: {
      const auto* err = Get(d, "error");
      return line + fmt::format("run paused: {}", err && err->is_object()
                                                      ? Str(err->get_object(), "message")
                                                      : std::string("budget reached"));
    }
    case core::EventType::kRunResumed:
      return line + "run resumed";
    case core::EventType::kModelDelta:
      return line + fmt::format("{} streams", who);
    case core::EventType::kStepCancelled:
      return line + fmt::format("{} cancelled ({})", who, Str(d, "reason"));
    case core::EventType::kBranchStarted:
      return line + fmt::format("{}: branch {} started", who, Str(d, "name"));
    case core::EventType::kBranchFinished:
      return line + fmt::format("{}: branch {} {}", who, Str(d, "name"), Str(d, "status"));
    case core::EventType::kIterationStarted:
      return line + fmt::format("{}: iteration {} started", who, Int(d, "iteration"));
    case core::EventType::kIterationFinished: {
      std::string stop = Str(d, "stop");
      return line + fmt::format("{}: iteration {} finished{}", who, Int(d, "iteration"),
                                stop.empty() ? "" : " (" + stop + ")");
    }
    case core::EventType::kParticipantAnswered:
      return line + fmt::format("{}: {} answered", who, Str(d, "participant"));
    case core::EventType::kConsensusDecided:
      return line + fmt::format("{}: decided by {} ({})", who, Str(d, "method"), Str(d, "reason"));
    case core::EventType::kPlanCreated: {
      const auto* t = Get(d, "tasks");
      return line + fmt::format("{}: plan with {} tasks", who,
                                t && t->is_array() ? t->get_array().size() : 0);
    }
    case core::EventType::kPlanRejected:
      return line + fmt::format("{}: plan rejected, asking for a repair", who);
    case core::EventType::kCompensationStarted: {
      std::string undo;  // saga: the steps to undo, in order
      const auto* steps = Get(d, "steps");
      for (size_t k = 0; steps && steps->is_array() && k < steps->get_array().size(); ++k) {
        const auto& id = steps->get_array()[k];
        if (id.is_string()) undo += (undo.empty() ? "" : ", ") + std::string(id.get_string());
      }
      return line + fmt::format("compensation started: undoing {}", undo);
    }
    case core::EventType::kApprovalRequested:
      return line + fmt::format("{} waits for approval: {}", who, Str(d, "prompt"));
    case core::EventType::kApprovalGiven: {
      const auto* a = Get(d, "approved");
      bool yes = a && a->is_bool() && a->get_bool();
      return line + fmt::format("{} {}", who, yes ? "approved" : "rejected");
    }
    case core::EventType::kEventEmitted:
      return line + fmt::format("{} emitted event {}", who, Str(d, "event"));
    case core::EventType::kWaitStarted:
      return line + fmt::format("{} waits{}", who,
                                Str(d, "event").empty() ? "" : " for event " + Str(d, "event"));
    case core::EventType::kEventReceived:
      return line + fmt::format("{} received {}", who,
                                Str(d, "event").empty() ? "its timer" : "event " + Str(d, "event"));
    case core::EventType::kChildRunStarted:
      return line + fmt::format("{} started child run {}", who, Str(d, "run_id"));
    case core::EventType::kRouteChosen:
      return line + fmt::format("{} routed to {} ({})", who,
                                Str(d, "agent").empty() ? Str(d, "model") : Str(d, "agent"),
                                Str(d, "reason"));
  }
  return line + std::string(core::EventTypeName(e.type));
}

std::string RenderSummary(const json::object& s, bool trace) {
  std::string out;
  std::string header =
      fmt::format("run {} · {} · {}", Str(s, "run_id"), Str(s, "workflow"), Str(s, "status"));
  if (Get(s, "duration_ms")) header += " · " + Elapsed(Int(s, "duration_ms"));
  if (Get(s, "sim")) header += " · sim provider";
  out += header + "\n";
  if (const auto* u = Get(s, "usage"); u && u->is_object()) {
    const auto& uo = u->get_object();
    out += fmt::format("usage: {} model calls · {} input + {} output tokens · {}",
                       Int(s, "model_calls"), Thousands(Int(uo, "input_tokens")),
                       Thousands(Int(uo, "output_tokens")), Money(Num(uo, "cost_usd")));
    if (Get(s, "confidence")) out += fmt::format(" · mean confidence {:.2f}", Num(s, "confidence"));
    out += "\n";
  }
  if (const auto* e = Get(s, "error"); e && e->is_object()) {
    const auto& eo = e->get_object();
    out += fmt::format("error: {}{}: {}\n", Str(eo, "type"),
                       Get(eo, "step") ? " in step " + Str(eo, "step") : "", Str(eo, "message"));
  }
  const auto* steps = Get(s, "steps");
  if (steps && steps->is_object() && !steps->get_object().empty()) {
    out += fmt::format("\n{:<24} {:<10} {:>8} {:>9} {:>9} {:>11} {:>6}\n", "STEP", "STATUS",
                       "ATTEMPTS", "TIME", "TOKENS", "COST", "CONF");
    for (const auto& kv : steps->get_object()) {
      const auto& st = kv.value().get_object();
      int64_t tokens = 0;
      double cost = 0;
      if (const auto* u = Get(st, "usage"); u && u->is_object()) {
        tokens = Int(u->get_object(), "input_tokens") + Int(u->get_object(), "output_tokens");
        cost = Num(u->get_object(), "cost_usd");
      }
      std::string name(kv.key());
      if (Get(st, "items")) name += fmt::format(" ×{}", Int(st, "items"));
      out += fmt::format(
          "{:<24} {:<10} {:>8} {:>9} {:>9} {:>11} {:>6}\n", name, Str(st, "status"),
          Int(st, "attempts"), Get(st, "duration_ms") ? Elapsed(Int(st, "duration_ms")) : "-",
          tokens ? Thousands(tokens) : "-", cost ? Money(cost) : "-",
          Get(st, "confidence") ? fmt::format("{:.2f}", Num(st, "confidence")) : "-");
    }
  }
  // Sub-workflows' runs: `children` (runs show adds their workflow and status), else the ids
  // the steps name.
  std::string children;
  if (const auto* c = Get(s, "children"); c && c->is_array()) {
    for (const auto& child : c->get_array()) {
      const auto& co = child.get_object();
      children += fmt::format("  {:<22} {} · {} · {}\n", Str(co, "step"), Str(co, "run_id"),
                              Str(co, "workflow"), Str(co, "status"));
    }
  } else if (steps && steps->is_object()) {
    for (const auto& kv : steps->get_object()) {
      const auto* runs = Get(kv.value().get_object(), "child_runs");
      for (size_t k = 0; runs && runs->is_array() && k < runs->get_array().size(); ++k) {
        children +=
            fmt::format("  {:<22} {}\n", std::string(kv.key()), TextOf(runs->get_array()[k]));
      }
    }
  }
  if (!children.empty()) out += "\nchild runs:\n" + children;
  if (trace && steps && steps->is_object()) {
    for (const auto& kv : steps->get_object()) {
      const auto& st = kv.value().get_object();
      const auto* t = Get(st, "trace");
      if (!t || !t->is_array()) continue;
      for (const auto& call : t->get_array()) {
        const auto& c = call.get_object();
        std::string who(kv.key());
        if (Get(c, "item")) who += fmt::format("[{}]", Int(c, "item"));
        out += fmt::format("\n── {} · attempt {} · model {} ({}/{})", who, Int(c, "attempt"),
                           Str(c, "model"), Str(c, "provider"), Str(c, "provider_model"));
        if (const auto* u = Get(c, "usage"); u && u->is_object()) {
          out += fmt::format(" · {} + {} tokens · {}", Int(u->get_object(), "input_tokens"),
                             Int(u->get_object(), "output_tokens"),
                             Money(Num(u->get_object(), "cost_usd")));
        }
        if (Get(c, "confidence")) out += fmt::format(" · confidence {:.2f}", Num(c, "confidence"));
        out += "\n";
        if (const auto* p = Get(c, "prompt"); p && p->is_array()) {
          for (const auto& m : p->get_array()) {
            const auto& mo = m.get_object();
            out += fmt::format("  {}:\n{}\n", Str(mo, "role"),
                               Indent(TextOf(mo.at("content")), "    "));
          }
        }
        if (const auto* r = Get(c, "reasoning")) {
          out += "  reasoning:\n" + Indent(TextOf(*r), "    ") + "\n";
        }
        if (const auto* r = Get(c, "reply"))
          out += "  reply:\n" + Indent(TextOf(*r), "    ") + "\n";
        if (const auto* e = Get(c, "error"); e && e->is_object()) {
          out += fmt::format("  error: {}: {}\n", Str(e->get_object(), "type"),
                             Str(e->get_object(), "message"));
        }
      }
    }
  }
  if (const auto* o = Get(s, "outputs"); o && o->is_object() && !o->get_object().empty()) {
    out += "\noutputs:\n";
    for (const auto& kv : o->get_object()) {
      std::string v =
          kv.value().is_string() ? std::string(kv.value().get_string()) : PrettyJson(kv.value());
      out += fmt::format("  {}:\n{}\n", std::string(kv.key()), Indent(v, "    "));
    }
  }
  return out;
}

}  // namespace baton::cli
