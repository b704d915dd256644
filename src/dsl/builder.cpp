#include "dsl/builder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <unordered_map>

#include "base/duration.hpp"
#include "dsl/route.hpp"

namespace baton::dsl {

namespace {

using Keys = std::vector<std::string>;

const Keys kTopKeys = {"baton",  "name",    "description", "inputs",         "models",
                       "agents", "tools",   "mcp_servers", "defaults",       "budget",
                       "steps",  "outputs", "on",          "max_concurrency"};
const Keys kStepKinds = {"agent",    "llm",  "set",      "call",      "switch",
                         "parallel", "loop", "workflow", "consensus", "plan"};
const Keys kUnsupportedKinds = {"script"};
// approval / emit / wait (BuildApproval, BuildEmit, BuildWait; core/waits.hpp).
const Keys kWaitKinds = {"approval", "emit", "wait"};
const Keys kApprovalKeys = {"prompt", "timeout", "on_timeout", "approvers"};
const Keys kEmitKeys = {"event", "data"};
const Keys kWaitKeys = {"event", "match", "timeout", "on_timeout", "for", "until"};
const Keys kTriggerKeys = {"event", "match"};
// Fields that make no sense on a container (its children have their own).
const Keys kNotOnContainers = {"for_each", "as",    "max_parallel", "retry", "tolerate",
                               "timeout",  "catch", "effect",       "budget"};
const Keys kLoopKeys = {"steps", "until", "max_iterations", "converge_on", "on_repeat"};
const Keys kConvergeKeys = {"value", "at_least", "at_most", "patience", "min_delta", "goal"};
const Keys kCaseKeys = {"if", "name", "steps"};
const Keys kUnsupportedStepFields = {};
// `compensate:` holds a step body without id (BuildCompensation; core/saga.hpp).
const Keys kCompensateKeys = {"agent", "input", "llm",     "set",    "call",
                              "with",  "retry", "timeout", "effect", "description"};
const Keys kStepKeys = {"id",           "description", "needs",    "if",    "for_each", "as",
                        "max_parallel", "retry",       "timeout",  "catch", "output",   "effect",
                        "budget",       "agent",       "input",    "llm",   "set",      "call",
                        "with",         "switch",      "parallel", "loop",  "join",     "workflow",
                        "consensus",    "route",       "approval", "emit",  "wait",     "tolerate",
                        "priority",     "compensate",  "plan"};
const Keys kModelKeys = {"provider",  "model",        "base_url",    "api_key_env", "base_url_env",
                         "model_env", "offline",      "headers",     "params",      "timeouts",
                         "stream",    "max_tokens",   "temperature", "price",       "rate_limit",
                         "breaker",   "retry_budget", "cache",       "fallback",    "fallback_on",
                         "sim",       "quality"};
// Provider-level defaults in a config file's `providers:` (every model key but the identity).
const Keys kProviderDefaultKeys = {
    "base_url", "api_key_env", "base_url_env", "offline",      "headers", "params",     "timeouts",
    "stream",   "rate_limit",  "breaker",      "retry_budget", "cache",   "fallback_on"};
const Keys kConfigTopKeys = {"models", "providers", "prices", "budget"};
const Keys kAgentKeys = {"model",         "instructions", "description", "capabilities", "tools",
                         "output_schema", "max_turns",    "handoffs",    "budget"};
const Keys kToolKeys = {"description", "input_schema", "exec"};
const Keys kUnsupportedToolKinds = {"http", "script", "workflow"};
const Keys kExecKeys = {"argv", "cwd", "env", "timeout", "stdin", "output"};
const Keys kMcpKeys = {"command", "url", "env", "description"};
const Keys kDefaultsKeys = {"retry", "timeout", "run_timeout"};
const Keys kRetryKeys = {"max_attempts", "on", "backoff"};
const Keys kBackoffKeys = {"initial", "factor", "max", "jitter"};
const Keys kBudgetKeys = {"max_cost_usd", "max_tokens", "daily_usd", "on_exceed", "downgrade_to"};
const Keys kLimitKeys = {"max_cost_usd", "max_tokens"};
const Keys kLlmKeys = {"model", "prompt", "messages", "system", "output_schema"};
const Keys kCatchKeys = {"errors", "error", "then"};
// Roots every step expression may use; `as`/`index` are added for fan-out steps.
const Keys kStepRoots = {"inputs", "steps", "memory", "run", "workflow", "env"};
const Keys kReservedNames = {"inputs", "steps", "memory", "run",   "workflow",
                             "env",    "index", "result", "error", "with"};

bool Contains(const Keys& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

bool IsIdChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

bool IsValidId(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), IsIdChar);
}

bool IsValidWorkflowName(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

bool IsIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return IsIdChar(c) && c != '-'; });
}

core::SourceLoc Loc(const Reporter& r, const std::string& pointer) {
  const NodeInfo& info = r.doc().Info(pointer);
  Position p = info.key.line > 0 ? info.key : info.value;
  return {p.line, p.col};
}

class Builder {
 public:
  explicit Builder(Reporter& r) : r_(r) {}

  BuildOutput Build(const json::value& root) {
    const json::object* top = Object(root, "", "the workflow file");
    if (top == nullptr) return std::move(out_);
    CheckKeys(*top, "", kTopKeys, {});
    core::Workflow& wf = out_.workflow;

    if (const json::value* v = Require(*top, "", "baton", "the workflow")) {
      if (auto n = Integer(*v, "/baton", "baton", 0)) {
        if (*n != 1) {
          r_.AtValue("/baton", fmt::format("unsupported language version {} (this baton reads "
                                           "version 1)",
                                           *n));
        }
        wf.version = static_cast<int>(*n);
      }
    }
    if (const json::value* v = Require(*top, "", "name", "the workflow")) {
      if (const json::string* s = String(*v, "/name", "name")) {
        if (!IsValidWorkflowName(*s)) {
          r_.AtValue("/name", fmt::format("invalid workflow name '{}': use lowercase letters, "
                                          "digits, '_' and '-'",
                                          std::string_view(*s)));
        }
        wf.name = *s;
      }
    }
    if (const json::value* v = top->if_contains("description")) {
      if (const json::string* s = String(*v, "/description", "description")) wf.description = *s;
    }
    if (const json::value* v = top->if_contains("inputs")) BuildInputs(*v);
    if (const json::value* v = top->if_contains("models")) BuildModels(*v);
    if (const json::value* v = top->if_contains("agents")) BuildAgents(*v);
    if (const json::value* v = top->if_contains("tools")) BuildTools(*v);
    if (const json::value* v = top->if_contains("mcp_servers")) BuildMcpServers(*v);
    if (const json::value* v = top->if_contains("defaults")) BuildDefaults(*v);
    if (const json::value* v = top->if_contains("budget")) BuildBudget(*v);
    if (const json::value* v = top->if_contains("max_concurrency")) {
      if (auto n = Integer(*v, "/max_concurrency", "max_concurrency", 0)) {
        wf.max_concurrency = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
      }
    }
    if (const json::value* v = Require(*top, "", "steps", "the workflow")) BuildSteps(*v);
    if (const json::value* v = top->if_contains("outputs")) BuildOutputs(*v);
    if (const json::value* v = top->if_contains("on")) BuildTriggers(*v);
    return std::move(out_);
  }

  // A config file (baton.yaml): models, provider defaults, prices and the daily budget.
  BuildOutput BuildConfig(const json::value& root) {
    if (root.is_null()) return std::move(out_);  // an empty file is an empty config
    const json::object* top = Object(root, "", "the config file");
    if (top == nullptr) return std::move(out_);
    CheckKeys(*top, "", kConfigTopKeys, {});
    if (const json::value* v = top->if_contains("models")) BuildModels(*v);
    if (const json::value* v = top->if_contains("providers")) {
      if (const json::object* obj = Object(*v, "/providers", "providers")) {
        for (const auto& kv : *obj) {
          std::string ptr = ChildPointer("/providers", kv.key());
          const json::object* p = Object(kv.value(), ptr, kv.key());
          if (p == nullptr) continue;
          if (p->contains("api_key")) {
            r_.AtKey(ChildPointer(ptr, "api_key"),
                     "keys do not belong in files: put the key in an environment variable and "
                     "name it with 'api_key_env'");
          }
          CheckKeys(*p, ptr, kProviderDefaultKeys, {"api_key"});
          json::object defaults;
          for (const auto& opt : *p) {
            if (Contains(kProviderDefaultKeys, opt.key())) defaults[opt.key()] = opt.value();
          }
          out_.config_providers[kv.key()] = std::move(defaults);
        }
      }
    }
    if (const json::value* v = top->if_contains("prices")) {
      if (const json::object* obj = Object(*v, "/prices", "prices")) {
        for (const auto& kv : *obj) {
          std::string ptr = ChildPointer("/prices", kv.key());
          if (Object(kv.value(), ptr, kv.key()) != nullptr)
            out_.config_prices[kv.key()] = kv.value();
        }
      }
    }
    if (const json::value* v = top->if_contains("budget")) {
      if (const json::object* b = Object(*v, "/budget", "budget")) {
        CheckKeys(*b, "/budget", {"daily_usd"}, {});
        if (const json::value* d = b->if_contains("daily_usd")) {
          if (auto n = Number(*d, "/budget/daily_usd", "daily_usd")) {
            if (*n < 0) {
              r_.AtValue("/budget/daily_usd", "'daily_usd' must not be negative");
            } else {
              out_.workflow.budget.daily_usd = *n;
            }
          }
        }
      }
    }
    return std::move(out_);
  }

 private:
  // ---- type helpers: each reports "'label' must be ..., got <type>" and returns null/empty.

  void TypeError(const json::value& v, const std::string& ptr, std::string_view label,
                 std::string_view want) {
    r_.AtValue(ptr, fmt::format("'{}' must be {}, got {}", label, want, JsonTypeName(v)));
  }

  const json::object* Object(const json::value& v, const std::string& ptr, std::string_view label) {
    if (v.is_object()) return &v.get_object();
    if (ptr.empty()) {
      r_.AtValue(ptr, fmt::format("{} must be a mapping, got {}", label, JsonTypeName(v)));
    } else {
      TypeError(v, ptr, label, "a mapping");
    }
    return nullptr;
  }

  const json::array* Array(const json::value& v, const std::string& ptr, std::string_view label) {
    if (v.is_array()) return &v.get_array();
    TypeError(v, ptr, label, "a list");
    return nullptr;
  }

  const json::string* String(const json::value& v, const std::string& ptr, std::string_view label) {
    if (v.is_string()) return &v.get_string();
    TypeError(v, ptr, label, "a string");
    return nullptr;
  }

  std::optional<int64_t> Integer(const json::value& v, const std::string& ptr,
                                 std::string_view label, int64_t min) {
    if (!v.is_int64()) {
      TypeError(v, ptr, label, "an integer");
      return std::nullopt;
    }
    if (v.get_int64() < min) {
      r_.AtValue(ptr, fmt::format("'{}' must be at least {}, got {}", label, min, v.get_int64()));
      return std::nullopt;
    }
    return v.get_int64();
  }

  std::optional<double> Number(const json::value& v, const std::string& ptr,
                               std::string_view label) {
    if (v.is_number()) return v.to_number<double>();
    TypeError(v, ptr, label, "a number");
    return std::nullopt;
  }

  std::optional<std::string> Enum(const json::value& v, const std::string& ptr,
                                  std::string_view label, const Keys& allowed) {
    const json::string* s = String(v, ptr, label);
    if (s == nullptr) return std::nullopt;
    if (!Contains(allowed, *s)) {
      r_.AtValue(ptr,
                 fmt::format("'{}' must be one of {}, got '{}'{}", label, fmt::join(allowed, ", "),
                             std::string_view(*s), DidYouMean(*s, allowed)));
      return std::nullopt;
    }
    return std::string(*s);
  }

  // A list of strings; a single string is accepted as a one-element list when `allow_scalar`.
  std::optional<std::vector<std::string>> StringList(const json::value& v, const std::string& ptr,
                                                     std::string_view label,
                                                     std::vector<std::string>* pointers = nullptr,
                                                     bool allow_scalar = false) {
    std::vector<std::string> out;
    if (allow_scalar && v.is_string()) {
      out.emplace_back(v.get_string());
      if (pointers) pointers->push_back(ptr);
      return out;
    }
    const json::array* arr = Array(v, ptr, label);
    if (arr == nullptr) return std::nullopt;
    bool ok = true;
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string p = ChildPointer(ptr, i);
      const json::value& item = (*arr)[i];
      if (!item.is_string()) {
        r_.AtValue(p,
                   fmt::format("'{}' entries must be strings, got {}", label, JsonTypeName(item)));
        ok = false;
        continue;
      }
      out.emplace_back(item.get_string());
      if (pointers) pointers->push_back(p);
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // A mapping of strings to strings (e.g. HTTP headers).
  bool StringMap(const json::value& v, const std::string& ptr, std::string_view label) {
    const json::object* obj = Object(v, ptr, label);
    if (obj == nullptr) return false;
    bool ok = true;
    for (const auto& kv : *obj) {
      if (!kv.value().is_string()) {
        TypeError(kv.value(), ChildPointer(ptr, kv.key()), kv.key(), "a string");
        ok = false;
      }
    }
    return ok;
  }

  std::optional<Millis> Duration(const json::value& v, const std::string& ptr,
                                 std::string_view label) {
    if (v.is_int64() && v.get_int64() >= 0) return Millis(v.get_int64() * 1000);
    if (!v.is_string()) {
      TypeError(v, ptr, label, "a duration such as \"30s\"");
      return std::nullopt;
    }
    Result<Millis> d = ParseDuration(v.get_string());
    if (!d.ok()) {
      r_.AtValue(ptr, fmt::format("'{}': {}", label, d.error().message()));
      return std::nullopt;
    }
    return *d;
  }

  void CheckKeys(const json::object& obj, const std::string& ptr, const Keys& allowed,
                 const Keys& also_known) {
    for (const auto& kv : obj) {
      std::string_view k = kv.key();
      if (Contains(allowed, k) || Contains(also_known, k)) continue;
      r_.AtKey(ChildPointer(ptr, k), fmt::format("unknown key '{}'{}", k, DidYouMean(k, allowed)));
    }
  }

  const json::value* Require(const json::object& obj, const std::string& ptr, std::string_view key,
                             std::string_view owner) {
    if (const json::value* v = obj.if_contains(key)) return v;
    r_.AtValue(ptr, fmt::format("{} is missing required key '{}'", owner, key));
    return nullptr;
  }

  // Validates a name used as a map key (models, agents, tools, inputs, MCP servers).
  bool CheckName(std::string_view name, const std::string& ptr, std::string_view what) {
    if (IsValidId(name)) return true;
    r_.AtKey(ptr,
             fmt::format("invalid {} name '{}': use letters, digits, '_' and '-'", what, name));
    return false;
  }

  // ---- templates

  struct ScopeSpec {
    Keys roots;
    int step = -1;
    bool any_step = false;
    bool body = false;  // may read the steps nested in `step` (loop conditions)
  };

  ScopeSpec StepScope(int step, bool fan_out, const std::string& as, Keys extra = {}) {
    ScopeSpec s{kStepRoots, step, false};
    if (fan_out) {
      s.roots.push_back(as);
      s.roots.push_back("index");
    }
    for (auto& e : extra) s.roots.push_back(std::move(e));
    return s;
  }

  std::optional<expr::Template> Compile(const json::value& v, const std::string& ptr,
                                        const ScopeSpec& scope) {
    expr::ExprError err;
    std::string rel;
    Result<expr::Template> t = expr::Template::Compile(v, &err, &rel);
    if (!t.ok()) {
      r_.AtOffset(ptr + rel, err.offset, err.message.empty() ? t.error().message() : err.message);
      return std::nullopt;
    }
    t->ForEachExpression([&](const expr::Expression& e, const std::string& p, size_t offset) {
      out_.sites.push_back(
          {e, ptr + p, offset, scope.roots, scope.step, scope.any_step, scope.body});
    });
    return std::move(t).value();
  }

  // ---- sections

  void BuildInputs(const json::value& v) {
    const json::object* obj = Object(v, "/inputs", "inputs");
    if (obj == nullptr) return;
    for (const auto& kv : *obj) {
      std::string ptr = ChildPointer("/inputs", kv.key());
      CheckName(kv.key(), ptr, "input");
      const json::object* schema = Object(kv.value(), ptr, kv.key());
      if (schema == nullptr) continue;
      core::Input in;
      in.name = kv.key();
      in.schema = kv.value();
      if (const json::value* d = schema->if_contains("default")) {
        in.default_value = *d;
        in.required = false;
      }
      in.loc = Loc(r_, ptr);
      out_.workflow.inputs.push_back(std::move(in));
    }
  }

  void BuildModels(const json::value& v) {
    const json::object* obj = Object(v, "/models", "models");
    if (obj == nullptr) return;
    for (const auto& kv : *obj) {
      std::string ptr = ChildPointer("/models", kv.key());
      CheckName(kv.key(), ptr, "model");
      const json::object* m = Object(kv.value(), ptr, kv.key());
      if (m == nullptr) continue;
      if (const json::value* key = m->if_contains("api_key")) {
        (void)key;
        r_.AtKey(ChildPointer(ptr, "api_key"),
                 "keys do not belong in files: put the key in an environment variable and name "
                 "it with 'api_key_env'");
      }
      CheckKeys(*m, ptr, kModelKeys, {"api_key"});
      std::string owner = fmt::format("model '{}'", std::string_view(kv.key()));
      core::ModelConfig mc;
      mc.name = kv.key();
      mc.loc = Loc(r_, ptr);
      if (const json::value* p = Require(*m, ptr, "provider", owner)) {
        if (const json::string* s = String(*p, ChildPointer(ptr, "provider"), "provider")) {
          mc.provider = *s;
        }
      }
      if (const json::value* p = m->if_contains("model")) {
        if (const json::string* s = String(*p, ChildPointer(ptr, "model"), "model")) mc.model = *s;
      }
      for (const auto& opt : *m) {
        std::string_view k = opt.key();
        std::string op = ChildPointer(ptr, k);
        const json::value& ov = opt.value();
        if (k == "provider" || k == "model" || !Contains(kModelKeys, k)) continue;
        bool ok = true;
        if (k == "base_url" || k == "api_key_env" || k == "base_url_env" || k == "model_env") {
          ok = String(ov, op, k) != nullptr;
          if (ok && k != "base_url" && !IsIdentifier(ov.get_string())) {
            r_.AtValue(op, fmt::format("'{}' names an environment variable, got '{}'", k,
                                       std::string_view(ov.get_string())));
            ok = false;
          }
        } else if (k == "offline") {
          ok = Enum(ov, op, k, {"sim"}).has_value();
        } else if (k == "headers") {
          ok = StringMap(ov, op, k);
        } else if (k == "stream") {
          ok = ov.is_bool();
          if (!ok) TypeError(ov, op, k, "true or false");
        } else if (k == "cache" || k == "breaker" || k == "retry_budget") {
          ok = ov.is_bool() || ov.is_object();
          if (!ok) TypeError(ov, op, k, "true, false or a mapping");
        } else if (k == "params" || k == "timeouts" || k == "rate_limit") {
          ok = Object(ov, op, k) != nullptr;
        } else if (k == "fallback_on") {
          ok = StringList(ov, op, k).has_value();
        } else if (k == "fallback") {
          std::vector<std::string> ptrs;
          auto names = StringList(ov, op, k, &ptrs, true);
          ok = names.has_value();
          if (ok) {
            for (size_t i = 0; i < names->size(); ++i) {
              out_.refs.push_back({NameRef::Kind::kModel, (*names)[i], ptrs[i], owner});
            }
          }
        } else if (k == "max_tokens") {
          ok = Integer(ov, op, k, 1).has_value();
        } else if (k == "temperature") {
          ok = Number(ov, op, k).has_value();
        } else if (k == "price") {
          ok = Object(ov, op, k) != nullptr;
        } else if (k == "quality") {
          ok = Number(ov, op, k).has_value();  // rank for route strategy `best`
        }
        if (ok) mc.options[k] = ov;
      }
      out_.workflow.models.emplace(mc.name, std::move(mc));
    }
  }

  void BuildAgents(const json::value& v) {
    const json::object* obj = Object(v, "/agents", "agents");
    if (obj == nullptr) return;
    for (const auto& kv : *obj) {
      std::string ptr = ChildPointer("/agents", kv.key());
      CheckName(kv.key(), ptr, "agent");
      const json::object* a = Object(kv.value(), ptr, kv.key());
      if (a == nullptr) continue;
      CheckKeys(*a, ptr, kAgentKeys, {});
      std::string owner = fmt::format("agent '{}'", std::string_view(kv.key()));
      core::Agent agent;
      agent.name = kv.key();
      agent.loc = Loc(r_, ptr);
      if (const json::value* m = Require(*a, ptr, "model", owner)) {
        std::string mp = ChildPointer(ptr, "model");
        if (const json::string* s = String(*m, mp, "model")) {
          agent.model = *s;
          out_.refs.push_back({NameRef::Kind::kModel, agent.model, mp, owner});
        }
      }
      if (const json::value* i = a->if_contains("instructions")) {
        std::string ip = ChildPointer(ptr, "instructions");
        if (String(*i, ip, "instructions") != nullptr) {
          ScopeSpec scope{{"inputs", "memory", "run", "workflow", "env"}, -1, false};
          if (auto t = Compile(*i, ip, scope)) agent.instructions = std::move(*t);
        }
      }
      if (const json::value* d = a->if_contains("description")) {
        if (const json::string* s = String(*d, ChildPointer(ptr, "description"), "description")) {
          agent.description = *s;
        }
      }
      if (const json::value* c = a->if_contains("capabilities")) {
        if (auto l = StringList(*c, ChildPointer(ptr, "capabilities"), "capabilities")) {
          agent.capabilities = std::move(*l);
        }
      }
      if (const json::value* t = a->if_contains("tools")) {
        std::vector<std::string> ptrs;
        if (auto l = StringList(*t, ChildPointer(ptr, "tools"), "tools", &ptrs)) {
          for (size_t i = 0; i < l->size(); ++i) {
            out_.refs.push_back({NameRef::Kind::kAgentTool, (*l)[i], ptrs[i], owner});
          }
          if (!l->empty()) {
            r_.WarnAtKey(ChildPointer(ptr, "tools"),
                         "agents do not call tools yet in this version of baton (tool calling "
                         "arrives with the HTTP providers); use a 'call' step to run a tool");
          }
          agent.tools = std::move(*l);
        }
      }
      if (const json::value* s = a->if_contains("output_schema")) {
        if (Object(*s, ChildPointer(ptr, "output_schema"), "output_schema")) {
          agent.output_schema = *s;
        }
      }
      if (const json::value* m = a->if_contains("max_turns")) {
        if (auto n = Integer(*m, ChildPointer(ptr, "max_turns"), "max_turns", 1)) {
          agent.max_turns = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
        }
      }
      if (const json::value* h = a->if_contains("handoffs")) {
        std::vector<std::string> ptrs;
        if (auto l = StringList(*h, ChildPointer(ptr, "handoffs"), "handoffs", &ptrs)) {
          for (size_t i = 0; i < l->size(); ++i) {
            out_.refs.push_back({NameRef::Kind::kHandoff, (*l)[i], ptrs[i], owner});
          }
          agent.handoffs = std::move(*l);
        }
      }
      if (const json::value* b = a->if_contains("budget")) {
        agent.budget = BuildLimits(*b, ChildPointer(ptr, "budget"));
      }
      out_.workflow.agents.emplace(agent.name, std::move(agent));
    }
  }

  void BuildTools(const json::value& v) {
    const json::object* obj = Object(v, "/tools", "tools");
    if (obj == nullptr) return;
    for (const auto& kv : *obj) {
      std::string ptr = ChildPointer("/tools", kv.key());
      CheckName(kv.key(), ptr, "tool");
      const json::object* t = Object(kv.value(), ptr, kv.key());
      if (t == nullptr) continue;
      bool unsupported = false;
      for (const auto& k : kUnsupportedToolKinds) {
        if (t->contains(k)) {
          r_.AtKey(ChildPointer(ptr, k), fmt::format("tool kind '{}' is not supported by this "
                                                     "version of baton",
                                                     k));
          unsupported = true;
        }
      }
      CheckKeys(*t, ptr, kToolKeys, kUnsupportedToolKinds);
      if (unsupported) continue;
      core::Tool tool;
      tool.name = kv.key();
      tool.loc = Loc(r_, ptr);
      if (const json::value* d = t->if_contains("description")) {
        if (const json::string* s = String(*d, ChildPointer(ptr, "description"), "description")) {
          tool.description = *s;
        }
      }
      if (const json::value* s = t->if_contains("input_schema")) {
        if (Object(*s, ChildPointer(ptr, "input_schema"), "input_schema")) tool.input_schema = *s;
      }
      std::string owner = fmt::format("tool '{}'", std::string_view(kv.key()));
      if (const json::value* e = Require(*t, ptr, "exec", owner)) {
        if (auto exec = BuildExec(*e, ChildPointer(ptr, "exec"))) tool.impl = std::move(*exec);
      }
      out_.workflow.tools.emplace(tool.name, std::move(tool));
    }
  }

  std::optional<core::ExecTool> BuildExec(const json::value& v, const std::string& ptr) {
    const json::object* e = Object(v, ptr, "exec");
    if (e == nullptr) return std::nullopt;
    CheckKeys(*e, ptr, kExecKeys, {});
    ScopeSpec scope{{"with", "inputs", "run", "workflow", "env"}, -1, false};
    core::ExecTool exec;
    if (const json::value* a = Require(*e, ptr, "argv", "'exec'")) {
      std::string ap = ChildPointer(ptr, "argv");
      if (a->is_string()) {
        r_.AtValue(ap,
                   "'argv' must be a list: tools never go through a shell; give argv as a "
                   "list");
      } else if (const json::array* arr = Array(*a, ap, "argv")) {
        if (arr->empty()) r_.AtValue(ap, "'argv' must not be empty");
        for (size_t i = 0; i < arr->size(); ++i) {
          std::string ip = ChildPointer(ap, i);
          const json::value& item = (*arr)[i];
          if (!item.is_string() && !item.is_number()) {
            r_.AtValue(ip,
                       fmt::format("'argv' entries must be strings, got {}", JsonTypeName(item)));
            continue;
          }
          json::value s = item.is_string() ? item : json::value(ToJson(item));
          if (auto t = Compile(s, ip, scope)) exec.argv.push_back(std::move(*t));
        }
      }
    }
    if (const json::value* c = e->if_contains("cwd")) {
      std::string cp = ChildPointer(ptr, "cwd");
      if (String(*c, cp, "cwd")) {
        if (auto t = Compile(*c, cp, scope)) exec.cwd = std::move(*t);
      }
    }
    if (const json::value* env = e->if_contains("env")) {
      std::string ep = ChildPointer(ptr, "env");
      if (const json::object* eo = Object(*env, ep, "env")) {
        for (const auto& kv : *eo) {
          std::string kp = ChildPointer(ep, kv.key());
          if (String(kv.value(), kp, kv.key()) == nullptr) continue;
          if (auto t = Compile(kv.value(), kp, scope)) exec.env[kv.key()] = std::move(*t);
        }
      }
    }
    if (const json::value* t = e->if_contains("timeout")) {
      exec.timeout = Duration(*t, ChildPointer(ptr, "timeout"), "timeout");
    }
    if (const json::value* s = e->if_contains("stdin")) {
      if (auto m = Enum(*s, ChildPointer(ptr, "stdin"), "stdin", {"none", "with"})) {
        exec.stdin_from = *m == "with" ? "with" : "";
      }
    }
    if (const json::value* o = e->if_contains("output")) {
      if (auto m = Enum(*o, ChildPointer(ptr, "output"), "output", {"text", "json"})) {
        exec.parse = *m == "json" ? core::ExecTool::Parse::kJson : core::ExecTool::Parse::kText;
      }
    }
    return exec;
  }

  void BuildMcpServers(const json::value& v) {
    const json::object* obj = Object(v, "/mcp_servers", "mcp_servers");
    if (obj == nullptr) return;
    for (const auto& kv : *obj) {
      std::string ptr = ChildPointer("/mcp_servers", kv.key());
      CheckName(kv.key(), ptr, "MCP server");
      const json::object* m = Object(kv.value(), ptr, kv.key());
      if (m == nullptr) continue;
      CheckKeys(*m, ptr, kMcpKeys, {});
      core::McpServer server;
      server.name = kv.key();
      server.loc = Loc(r_, ptr);
      const json::value* cmd = m->if_contains("command");
      const json::value* url = m->if_contains("url");
      if ((cmd == nullptr) == (url == nullptr)) {
        r_.AtKey(ptr, fmt::format("MCP server '{}' needs exactly one of 'command' or 'url'",
                                  std::string_view(kv.key())));
      }
      if (cmd != nullptr) {
        std::string cp = ChildPointer(ptr, "command");
        if (cmd->is_string()) {
          r_.AtValue(cp,
                     "'command' must be a list: servers never start through a shell; give "
                     "the command as a list");
        } else if (auto l = StringList(*cmd, cp, "command")) {
          if (l->empty()) r_.AtValue(cp, "'command' must not be empty");
          server.command = std::move(*l);
        }
      }
      if (url != nullptr) {
        if (const json::string* s = String(*url, ChildPointer(ptr, "url"), "url")) {
          server.url = *s;
        }
      }
      if (const json::value* env = m->if_contains("env")) {
        std::string ep = ChildPointer(ptr, "env");
        if (const json::object* eo = Object(*env, ep, "env")) {
          for (const auto& e : *eo) {
            if (const json::string* s = String(e.value(), ChildPointer(ep, e.key()), e.key())) {
              server.env[e.key()] = *s;
            }
          }
        }
      }
      out_.workflow.mcp_servers.emplace(server.name, std::move(server));
    }
  }

  std::optional<core::RetryPolicy> BuildRetry(const json::value& v, const std::string& ptr,
                                              core::RetryPolicy policy) {
    const json::object* r = Object(v, ptr, "retry");
    if (r == nullptr) return std::nullopt;
    CheckKeys(*r, ptr, kRetryKeys, {});
    if (const json::value* m = r->if_contains("max_attempts")) {
      if (auto n = Integer(*m, ChildPointer(ptr, "max_attempts"), "max_attempts", 1)) {
        policy.max_attempts = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
      }
    }
    if (const json::value* on = r->if_contains("on")) {
      std::vector<std::string> ptrs;
      if (auto l = StringList(*on, ChildPointer(ptr, "on"), "on", &ptrs)) {
        CheckErrorTypes(*l, ptrs);
        policy.on = std::move(*l);
      }
    }
    if (const json::value* b = r->if_contains("backoff")) {
      std::string bp = ChildPointer(ptr, "backoff");
      if (const json::object* bo = Object(*b, bp, "backoff")) {
        CheckKeys(*bo, bp, kBackoffKeys, {});
        if (const json::value* x = bo->if_contains("initial")) {
          if (auto d = Duration(*x, ChildPointer(bp, "initial"), "initial")) {
            policy.backoff.initial = *d;
          }
        }
        if (const json::value* x = bo->if_contains("max")) {
          if (auto d = Duration(*x, ChildPointer(bp, "max"), "max")) policy.backoff.max = *d;
        }
        if (const json::value* x = bo->if_contains("factor")) {
          std::string fp = ChildPointer(bp, "factor");
          if (auto f = Number(*x, fp, "factor")) {
            if (*f < 1.0 || *f > 100.0) {
              r_.AtValue(fp, "'factor' must be between 1 and 100");
            } else {
              policy.backoff.factor = *f;
            }
          }
        }
        if (const json::value* x = bo->if_contains("jitter")) {
          if (auto j = Enum(*x, ChildPointer(bp, "jitter"), "jitter", {"full", "none"})) {
            policy.backoff.jitter = *j == "full";
          }
        }
      }
    }
    return policy;
  }

  void CheckErrorTypes(const std::vector<std::string>& types,
                       const std::vector<std::string>& ptrs) {
    for (size_t i = 0; i < types.size(); ++i) {
      if (!Contains(ErrorVocabulary(), types[i])) {
        r_.AtValue(ptrs[i], fmt::format("unknown error type '{}'{}", types[i],
                                        DidYouMean(types[i], ErrorVocabulary())));
      }
    }
  }

  void BuildDefaults(const json::value& v) {
    const json::object* d = Object(v, "/defaults", "defaults");
    if (d == nullptr) return;
    CheckKeys(*d, "/defaults", kDefaultsKeys, {});
    core::Workflow& wf = out_.workflow;
    if (const json::value* r = d->if_contains("retry")) {
      if (auto p = BuildRetry(*r, "/defaults/retry", wf.default_retry)) wf.default_retry = *p;
    }
    if (const json::value* t = d->if_contains("timeout")) {
      wf.default_timeout = Duration(*t, "/defaults/timeout", "timeout");
    }
    if (const json::value* t = d->if_contains("run_timeout")) {
      wf.run_timeout = Duration(*t, "/defaults/run_timeout", "run_timeout");
    }
  }

  void BuildBudget(const json::value& v) {
    const json::object* b = Object(v, "/budget", "budget");
    if (b == nullptr) return;
    CheckKeys(*b, "/budget", kBudgetKeys, {});
    core::Budget& budget = out_.workflow.budget;
    if (const json::value* c = b->if_contains("max_cost_usd")) {
      if (auto n = Number(*c, "/budget/max_cost_usd", "max_cost_usd")) {
        if (*n < 0) {
          r_.AtValue("/budget/max_cost_usd", "'max_cost_usd' must not be negative");
        } else {
          budget.max_cost_usd = *n;
        }
      }
    }
    if (const json::value* t = b->if_contains("max_tokens")) {
      budget.max_tokens = Integer(*t, "/budget/max_tokens", "max_tokens", 0);
    }
    if (const json::value* d = b->if_contains("daily_usd")) {
      if (auto n = Number(*d, "/budget/daily_usd", "daily_usd")) {
        if (*n < 0) {
          r_.AtValue("/budget/daily_usd", "'daily_usd' must not be negative");
        } else {
          budget.daily_usd = *n;
        }
      }
    }
    if (const json::value* e = b->if_contains("on_exceed")) {
      if (auto m = Enum(*e, "/budget/on_exceed", "on_exceed", {"fail", "pause", "downgrade"})) {
        budget.on_exceed = *m;
      }
    }
    if (const json::value* d = b->if_contains("downgrade_to")) {
      if (const json::string* name = String(*d, "/budget/downgrade_to", "downgrade_to")) {
        budget.downgrade_to = *name;
        out_.refs.push_back({NameRef::Kind::kModel, budget.downgrade_to, "/budget/downgrade_to",
                             "budget.downgrade_to"});
      }
    }
    if (budget.on_exceed == "downgrade" && budget.downgrade_to.empty()) {
      r_.AtValue("/budget/on_exceed",
                 "on_exceed: downgrade needs 'downgrade_to', the model to use once the budget is "
                 "reached");
    }
  }

  void BuildOutputs(const json::value& v) {
    const json::object* o = Object(v, "/outputs", "outputs");
    if (o == nullptr) return;
    ScopeSpec scope{kStepRoots, -1, true};
    for (const auto& kv : *o) {
      std::string ptr = ChildPointer("/outputs", kv.key());
      if (auto t = Compile(kv.value(), ptr, scope)) {
        out_.workflow.outputs.emplace_back(kv.key(), std::move(*t));
      }
    }
  }

  // ---- steps

  void BuildSteps(const json::value& v) {
    const json::array* arr = Array(v, "/steps", "steps");
    if (arr == nullptr) return;
    if (arr->empty()) r_.AtValue("/steps", "'steps' must not be empty");
    BuildStepList(*arr, "/steps", -1, -1);
  }

  // Builds a list of steps (the workflow's, or a block of container `parent`), flattened into
  // Workflow::steps in file order (a container before its children). Returns their indices.
  std::vector<int> BuildStepList(const json::array& arr, const std::string& list_ptr, int parent,
                                 int block) {
    std::vector<int> indices;
    std::string previous_id;
    for (size_t i = 0; i < arr.size(); ++i) {
      std::string ptr = ChildPointer(list_ptr, i);
      const json::object* s = Object(arr[i], ptr, "steps entries");
      if (s == nullptr) continue;
      int index = static_cast<int>(out_.workflow.steps.size());
      out_.workflow.steps.emplace_back();
      out_.steps.emplace_back();
      indices.push_back(index);
      core::Step step;
      StepMeta meta;
      meta.pointer = ptr;
      step.parent = parent;
      step.block = block;
      BuildStep(*s, ptr, index, step, meta);
      if (meta.has_id) {
        const NodeInfo& info = r_.doc().Info(ChildPointer(ptr, "id"));
        auto [it, inserted] = first_line_.emplace(step.id, info.value.line);
        if (!inserted) {
          r_.AtValue(ChildPointer(ptr, "id"),
                     fmt::format("duplicate step id '{}' (first defined at line {})", step.id,
                                 it->second));
          meta.has_id = false;
        }
      }
      if (!step.explicit_needs && !previous_id.empty()) step.needs.push_back(previous_id);
      if (meta.has_id) previous_id = step.id;
      out_.workflow.steps[static_cast<size_t>(index)] = std::move(step);
      out_.steps[static_cast<size_t>(index)] = std::move(meta);
    }
    return indices;
  }

  // A nested `steps:` list of container `parent` (block `block`).
  core::Block BuildBlock(const json::value& v, const std::string& ptr, int parent, int block,
                         std::string name) {
    core::Block b;
    b.name = std::move(name);
    b.loc = Loc(r_, ptr);
    const json::array* arr = Array(v, ptr, "steps");
    if (arr == nullptr) return b;
    if (arr->empty()) r_.AtValue(ptr, "a block of steps must not be empty");
    b.steps = BuildStepList(*arr, ptr, parent, block);
    return b;
  }

  void BuildStep(const json::object& s, const std::string& ptr, int index, core::Step& step,
                 StepMeta& meta) {
    step.loc = Loc(r_, ptr);
    for (const auto& k : kUnsupportedKinds) {
      if (s.contains(k)) {
        r_.AtKey(ChildPointer(ptr, k),
                 fmt::format("step kind '{}' is not supported by this version of baton", k));
      }
    }
    for (const auto& k : kUnsupportedStepFields) {
      if (s.contains(k)) {
        r_.AtKey(ChildPointer(ptr, k),
                 fmt::format("step field '{}' is not supported by this version of baton", k));
      }
    }
    Keys known = kUnsupportedKinds;
    known.insert(known.end(), kUnsupportedStepFields.begin(), kUnsupportedStepFields.end());
    CheckKeys(s, ptr, kStepKeys, known);

    std::string owner = "step";
    if (const json::value* id = Require(s, ptr, "id", "step")) {
      std::string ip = ChildPointer(ptr, "id");
      if (const json::string* str = String(*id, ip, "id")) {
        step.id = *str;
        if (IsValidId(step.id)) {
          meta.has_id = true;
          owner = fmt::format("step '{}'", step.id);
        } else {
          r_.AtValue(
              ip, fmt::format("invalid step id '{}': use letters, digits, '_' and '-'", step.id));
        }
      }
    }
    if (const json::value* d = s.if_contains("description")) {
      if (const json::string* str = String(*d, ChildPointer(ptr, "description"), "description")) {
        step.description = *str;
      }
    }
    if (const json::value* n = s.if_contains("needs")) {
      if (auto l =
              StringList(*n, ChildPointer(ptr, "needs"), "needs", &meta.needs_pointers, true)) {
        step.needs = std::move(*l);
      } else {
        meta.needs_pointers.clear();
      }
      step.explicit_needs = true;
    }
    if (const json::value* a = s.if_contains("as")) {
      std::string ap = ChildPointer(ptr, "as");
      if (const json::string* str = String(*a, ap, "as")) {
        if (!IsIdentifier(*str)) {
          r_.AtValue(ap,
                     fmt::format("'as' must be an identifier, got '{}'", std::string_view(*str)));
        } else if (Contains(kReservedNames, *str)) {
          r_.AtValue(ap, fmt::format("'as' cannot be '{}': the name is taken by the "
                                     "expression context",
                                     std::string_view(*str)));
        } else {
          step.as = *str;
        }
      }
      if (!s.contains("for_each")) r_.AtKey(ap, "'as' is only valid with 'for_each'");
    }
    if (const json::value* m = s.if_contains("max_parallel")) {
      std::string mp = ChildPointer(ptr, "max_parallel");
      if (auto n = Integer(*m, mp, "max_parallel", 0)) {
        step.max_parallel = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
      }
      if (!s.contains("for_each")) r_.AtKey(mp, "'max_parallel' is only valid with 'for_each'");
    }
    if (const json::value* p = s.if_contains("priority")) {
      if (auto m = Enum(*p, ChildPointer(ptr, "priority"), "priority",
                        {"low", "normal", "high", "critical"})) {
        step.priority = *m == "low"        ? core::Priority::kLow
                        : *m == "high"     ? core::Priority::kHigh
                        : *m == "critical" ? core::Priority::kCritical
                                           : core::Priority::kNormal;
      }
    }
    if (const json::value* t = s.if_contains("tolerate")) {
      std::string tp = ChildPointer(ptr, "tolerate");
      if (!s.contains("for_each")) r_.AtKey(tp, "'tolerate' is only valid with 'for_each'");
      bool ok = false;
      if (t->is_int64() && t->get_int64() >= 0) {
        step.tolerate_count = static_cast<int>(std::min<int64_t>(t->get_int64(), 1'000'000'000));
        ok = true;
      } else if (t->is_string()) {
        std::string_view text = t->get_string();
        if (text.size() >= 2 && text.back() == '%') {
          std::string num(text.substr(0, text.size() - 1));
          char* end = nullptr;
          double pct = std::strtod(num.c_str(), &end);
          if (end && *end == '\0' && pct >= 0 && pct <= 100) {
            step.tolerate_fraction = pct / 100.0;
            ok = true;
          }
        }
      }
      if (!ok) {
        r_.AtValue(tp,
                   "'tolerate' must be a number of items (e.g. 2) or a percentage (e.g. "
                   "\"10%\")");
      }
    }
    bool fan_out = s.contains("for_each");
    ScopeSpec outer = StepScope(index, false, step.as);
    ScopeSpec inner = StepScope(index, fan_out, step.as);
    if (const json::value* f = s.if_contains("for_each")) {
      step.for_each = Compile(*f, ChildPointer(ptr, "for_each"), outer);
    }
    if (const json::value* c = s.if_contains("if"))
      BuildIf(*c, ChildPointer(ptr, "if"), outer, step);
    if (const json::value* r = s.if_contains("retry")) {
      step.retry = BuildRetry(*r, ChildPointer(ptr, "retry"), out_.workflow.default_retry);
    }
    if (const json::value* t = s.if_contains("timeout")) {
      step.timeout = Duration(*t, ChildPointer(ptr, "timeout"), "timeout");
    }
    if (const json::value* c = s.if_contains("catch")) {
      BuildCatch(*c, ChildPointer(ptr, "catch"), StepScope(index, false, step.as, {"error"}), step);
    }
    if (const json::value* o = s.if_contains("output")) {
      step.output =
          Compile(*o, ChildPointer(ptr, "output"), StepScope(index, false, step.as, {"result"}));
    }
    if (const json::value* e = s.if_contains("effect")) {
      if (auto m = Enum(*e, ChildPointer(ptr, "effect"), "effect", {"idempotent", "once"})) {
        step.effect = *m == "once" ? core::Effect::kOnce : core::Effect::kIdempotent;
      }
    }
    if (const json::value* b = s.if_contains("budget")) {
      step.budget = BuildLimits(*b, ChildPointer(ptr, "budget"));
    }
    if (const json::value* rt = s.if_contains("route")) {
      step.route = BuildRoute(*rt, ChildPointer(ptr, "route"), owner, r_, out_.refs);
    }
    BuildKind(s, ptr, owner, inner, step);
    if (const json::value* c = s.if_contains("compensate")) {
      BuildCompensation(*c, ChildPointer(ptr, "compensate"), owner, step);
    }
  }

  // `compensate: { call | agent | llm | set, with | input, retry, timeout, effect }`: the step
  // that undoes `step` when the run fails (core/saga.hpp). Added to Workflow::steps as the hidden
  // step "<id>.compensate" (a dot cannot appear in user ids) in the parent and block of `step`;
  // it runs only as a compensation and may read what `step` may read, and `step`'s own output.
  void BuildCompensation(const json::value& v, const std::string& ptr, const std::string& owner,
                         core::Step& step) {
    const json::object* c = Object(v, ptr, "compensate");
    if (c == nullptr) return;
    CheckKeys(*c, ptr, kCompensateKeys, {});
    size_t kinds = 0;
    for (const char* k : {"agent", "llm", "set", "call"}) kinds += c->contains(k) ? 1 : 0;
    if (kinds != 1) {
      r_.AtValue(ptr, kinds == 0 ? "'compensate' needs one of call, agent, llm or set"
                                 : "'compensate' does one thing: give one of call, agent, llm "
                                   "or set");
      return;
    }
    if (step.id.empty() || !IsValidId(step.id)) return;  // reported with the id
    int index = static_cast<int>(out_.workflow.steps.size());
    out_.workflow.steps.emplace_back();
    StepMeta meta;
    meta.pointer = ptr;
    meta.has_id = true;
    out_.steps.push_back(std::move(meta));
    core::Step comp;
    comp.id = step.id + ".compensate";
    comp.loc = Loc(r_, ptr);
    comp.parent = step.parent;
    comp.block = step.block;
    comp.is_compensation = true;
    comp.explicit_needs = true;  // nothing to wait for: it starts when the saga says
    if (const json::value* d = c->if_contains("description")) {
      if (const json::string* str = String(*d, ChildPointer(ptr, "description"), "description")) {
        comp.description = *str;
      }
    }
    if (const json::value* r = c->if_contains("retry")) {
      comp.retry = BuildRetry(*r, ChildPointer(ptr, "retry"), out_.workflow.default_retry);
    }
    if (const json::value* t = c->if_contains("timeout")) {
      comp.timeout = Duration(*t, ChildPointer(ptr, "timeout"), "timeout");
    }
    if (const json::value* e = c->if_contains("effect")) {
      if (auto m = Enum(*e, ChildPointer(ptr, "effect"), "effect", {"idempotent", "once"})) {
        comp.effect = *m == "once" ? core::Effect::kOnce : core::Effect::kIdempotent;
      }
    }
    BuildKind(*c, ptr, owner + " (compensate)", StepScope(index, false, "item"), comp);
    out_.workflow.steps[static_cast<size_t>(index)] = std::move(comp);
    step.compensation = index;
  }

  // `budget: { max_cost_usd, max_tokens }` of a step or an agent.
  core::Limits BuildLimits(const json::value& v, const std::string& ptr) {
    core::Limits limits;
    const json::object* b = Object(v, ptr, "budget");
    if (b == nullptr) return limits;
    CheckKeys(*b, ptr, kLimitKeys, {});
    if (const json::value* c = b->if_contains("max_cost_usd")) {
      std::string p = ChildPointer(ptr, "max_cost_usd");
      if (auto n = Number(*c, p, "max_cost_usd")) {
        if (*n < 0) {
          r_.AtValue(p, "'max_cost_usd' must not be negative");
        } else {
          limits.max_cost_usd = *n;
        }
      }
    }
    if (const json::value* t = b->if_contains("max_tokens")) {
      limits.max_tokens = Integer(*t, ChildPointer(ptr, "max_tokens"), "max_tokens", 0);
    }
    return limits;
  }

  void BuildIf(const json::value& v, const std::string& ptr, const ScopeSpec& scope,
               core::Step& step) {
    step.if_cond = ParseCondition(v, ptr, scope, "if");
  }

  // A condition: a boolean, `${{ expr }}` or a bare expression.
  std::optional<expr::Expression> ParseCondition(const json::value& v, const std::string& ptr,
                                                 const ScopeSpec& scope, const char* what) {
    std::string source;
    size_t offset = 0;
    if (v.is_bool()) {
      source = v.get_bool() ? "true" : "false";
    } else if (const json::string* s = String(v, ptr, what)) {
      std::string_view text = *s;
      size_t open = text.find("${{");
      if (open == std::string_view::npos) {
        source = std::string(text);
      } else {
        size_t first = text.find_first_not_of(" \t\n");
        size_t close = text.find("}}", open);
        size_t last = text.find_last_not_of(" \t\n");
        if (first != open || close == std::string_view::npos || close + 1 != last) {
          r_.AtValue(ptr, fmt::format("'{}' must be a single expression: write ${{{{ condition "
                                      "}}}} or the bare condition",
                                      what));
          return std::nullopt;
        }
        offset = open + 3;
        source = std::string(text.substr(offset, close - offset));
      }
    } else {
      return std::nullopt;
    }
    expr::ExprError err;
    Result<expr::Expression> e = expr::Expression::Parse(source, &err);
    if (!e.ok()) {
      r_.AtOffset(ptr, offset + err.offset,
                  err.message.empty() ? e.error().message() : err.message);
      return std::nullopt;
    }
    out_.sites.push_back({*e, ptr, offset, scope.roots, scope.step, scope.any_step, scope.body});
    return std::move(*e);
  }

  void BuildCatch(const json::value& v, const std::string& ptr, const ScopeSpec& scope,
                  core::Step& step) {
    const json::array* arr = Array(v, ptr, "catch");
    if (arr == nullptr) return;
    for (size_t i = 0; i < arr->size(); ++i) {
      std::string cp = ChildPointer(ptr, i);
      const json::object* c = Object((*arr)[i], cp, "catch entries");
      if (c == nullptr) continue;
      CheckKeys(*c, cp, kCatchKeys, {});
      core::CatchClause clause;
      clause.loc = Loc(r_, cp);
      if (c->contains("errors") && c->contains("error")) {
        r_.AtKey(ChildPointer(cp, "error"), "give either 'errors' or 'error', not both");
      }
      std::vector<std::string> ptrs;
      if (const json::value* e = c->if_contains("errors")) {
        if (auto l = StringList(*e, ChildPointer(cp, "errors"), "errors", &ptrs)) {
          clause.errors = std::move(*l);
        }
      } else if (const json::value* e1 = c->if_contains("error")) {
        if (auto l = StringList(*e1, ChildPointer(cp, "error"), "error", &ptrs, true)) {
          clause.errors = std::move(*l);
        }
      }
      if (ptrs.size() == clause.errors.size()) CheckErrorTypes(clause.errors, ptrs);
      if (const json::value* t = Require(*c, cp, "then", "catch entry")) {
        std::string tp = ChildPointer(cp, "then");
        if (t->is_string() && (t->get_string() == "continue" || t->get_string() == "fail")) {
          clause.then = t->get_string() == "continue" ? core::CatchClause::Then::kContinue
                                                      : core::CatchClause::Then::kFail;
        } else if (t->is_object() && t->get_object().size() == 1 &&
                   t->get_object().contains("output")) {
          clause.then = core::CatchClause::Then::kOutput;
          if (auto o = Compile(t->get_object().at("output"), ChildPointer(tp, "output"), scope)) {
            clause.output = std::move(*o);
          }
        } else {
          r_.AtValue(tp, "'then' must be continue, fail or { output: value }");
        }
      }
      step.catches.push_back(std::move(clause));
    }
  }

  void BuildKind(const json::object& s, const std::string& ptr, const std::string& owner,
                 const ScopeSpec& scope, core::Step& step) {
    std::vector<std::string> kinds;
    for (const auto& kv : s) {
      if (Contains(kStepKinds, kv.key()) || Contains(kWaitKinds, kv.key())) {
        kinds.emplace_back(kv.key());
      }
    }
    bool unsupported = std::any_of(kUnsupportedKinds.begin(), kUnsupportedKinds.end(),
                                   [&](const std::string& k) { return s.contains(k); });
    if (kinds.empty() && RoutesAgent(s)) {  // route.capabilities chooses the agent at run time
      CheckRoutedAgentKeys(s, ptr, r_);
      core::AgentStep a;
      if (const json::value* in = s.if_contains("input")) {
        if (auto t = Compile(*in, ChildPointer(ptr, "input"), scope)) a.input = std::move(*t);
      }
      step.kind = std::move(a);
      return;
    }
    if (kinds.empty()) {
      if (!unsupported) {
        r_.AtValue(ptr, fmt::format("{} has no kind: give one of agent, llm, set, call, switch, "
                                    "parallel, loop",
                                    owner));
      }
      return;
    }
    if (kinds.size() > 1) {
      r_.AtKey(ChildPointer(ptr, kinds[1]),
               fmt::format("{} has more than one kind ('{}' and '{}'); a step does one thing",
                           owner, kinds[0], kinds[1]));
      return;
    }
    const std::string& kind = kinds[0];
    if (s.contains("input") && kind != "agent") {
      r_.AtKey(ChildPointer(ptr, "input"), "'input' is only valid with 'agent'");
    }
    if (s.contains("with") && kind != "call" && kind != "workflow") {
      r_.AtKey(ChildPointer(ptr, "with"), "'with' is only valid with 'call' and 'workflow'");
    }
    if (s.contains("join") && kind != "parallel") {
      r_.AtKey(ChildPointer(ptr, "join"), "'join' is only valid with 'parallel'");
    }
    std::string kp = ChildPointer(ptr, kind);
    const json::value& kv = s.at(kind);
    if (kind == "switch" || kind == "parallel" || kind == "loop") {
      for (const auto& k : kNotOnContainers) {
        if (s.contains(k)) {
          r_.AtKey(
              ChildPointer(ptr, k),
              fmt::format("'{}' is not valid on a {} step: give it to the steps inside", k, kind));
        }
      }
      int index = scope.step;
      if (kind == "switch") {
        step.kind = BuildSwitch(kv, kp, index);
      } else if (kind == "parallel") {
        step.kind = BuildParallel(s, kv, kp, index);
      } else {
        step.kind = BuildLoop(kv, kp, index);
      }
      return;
    }
    if (kind == "agent") {
      core::AgentStep a;
      if (const json::string* name = String(kv, kp, "agent")) {
        a.agent = *name;
        out_.refs.push_back({NameRef::Kind::kAgent, a.agent, kp, owner});
      }
      if (const json::value* in = s.if_contains("input")) {
        if (auto t = Compile(*in, ChildPointer(ptr, "input"), scope)) a.input = std::move(*t);
      }
      step.kind = std::move(a);
    } else if (kind == "call") {
      core::CallStep c;
      if (const json::string* name = String(kv, kp, "call")) {
        c.tool = *name;
        out_.refs.push_back({NameRef::Kind::kTool, c.tool, kp, owner});
      }
      if (const json::value* w = s.if_contains("with")) {
        if (auto t = Compile(*w, ChildPointer(ptr, "with"), scope)) c.with = std::move(*t);
      }
      step.kind = std::move(c);
    } else if (kind == "workflow") {
      core::WorkflowStep w;  // the loader loads the file (sub_workflows.cpp)
      if (const json::string* path = String(kv, kp, "workflow")) {
        w.path = *path;
        if (w.path.empty()) r_.AtValue(kp, "'workflow' must name a workflow file");
      }
      if (const json::value* with = s.if_contains("with")) {
        if (auto t = Compile(*with, ChildPointer(ptr, "with"), scope)) w.with = std::move(*t);
      }
      step.kind = std::move(w);
    } else if (kind == "consensus") {
      step.kind = BuildConsensus(kv, kp, owner, scope);
    } else if (kind == "plan") {
      step.kind = BuildPlan(s, ptr, kv, kp, owner, scope);
    } else if (Contains(kWaitKinds, kind)) {
      BuildWaitKind(s, kind, kv, ptr, scope, step);
    } else if (kind == "llm") {
      step.kind = BuildLlm(kv, kp, owner, scope);
    } else {
      step.kind = BuildSet(kv, kp, scope);
    }
  }

  // `switch: [ { if, steps, name? }, ..., { default: [steps] } ]`
  core::SwitchStep BuildSwitch(const json::value& v, const std::string& ptr, int index) {
    core::SwitchStep sw;
    const json::array* arr = Array(v, ptr, "switch");
    if (arr == nullptr) return sw;
    if (arr->empty()) r_.AtValue(ptr, "'switch' needs at least one case");
    ScopeSpec scope = StepScope(index, false, "item");
    for (size_t k = 0; k < arr->size(); ++k) {
      std::string cp = ChildPointer(ptr, k);
      const json::object* c = Object((*arr)[k], cp, "switch cases");
      if (c == nullptr) continue;
      int block = static_cast<int>(sw.cases.size());
      if (const json::value* d = c->if_contains("default")) {
        if (c->size() != 1) {
          r_.AtValue(cp, "a default case is written { default: [steps] } and has no other keys");
        }
        if (k + 1 != arr->size())
          r_.AtKey(ChildPointer(cp, "default"), "the default case must be last");
        sw.cases.push_back(BuildBlock(*d, ChildPointer(cp, "default"), index, block, "default"));
        continue;
      }
      CheckKeys(*c, cp, kCaseKeys, {"default"});
      std::string name = fmt::format("case {}", k + 1);
      if (const json::value* n = c->if_contains("name")) {
        if (const json::string* str = String(*n, ChildPointer(cp, "name"), "name")) name = *str;
      }
      std::optional<expr::Expression> when;
      if (const json::value* w = Require(*c, cp, "if", "a switch case")) {
        when = ParseCondition(*w, ChildPointer(cp, "if"), scope, "if");
      }
      core::Block b;
      if (const json::value* st = Require(*c, cp, "steps", "a switch case")) {
        b = BuildBlock(*st, ChildPointer(cp, "steps"), index, block, name);
      }
      b.name = name;
      b.when = std::move(when);
      b.loc = Loc(r_, cp);
      sw.cases.push_back(std::move(b));
    }
    return sw;
  }

  // `parallel: { branch: [steps], ... }` with the step's `join: all | any | N`.
  core::ParallelStep BuildParallel(const json::object& s, const json::value& v,
                                   const std::string& ptr, int index) {
    core::ParallelStep par;
    const json::object* o = Object(v, ptr, "parallel");
    if (o == nullptr) return par;
    if (o->size() < 2) r_.AtValue(ptr, "'parallel' needs at least two named branches");
    for (const auto& kv : *o) {
      std::string bp = ChildPointer(ptr, kv.key());
      if (!IsValidId(kv.key())) {
        r_.AtKey(bp, fmt::format("invalid branch name '{}': use letters, digits, '_' and '-'",
                                 std::string_view(kv.key())));
      }
      int block = static_cast<int>(par.branches.size());
      par.branches.push_back(BuildBlock(kv.value(), bp, index, block, std::string(kv.key())));
    }
    if (const json::value* j = s.if_contains("join")) {
      std::string jp = ptr.substr(0, ptr.rfind('/')) + "/join";
      if (j->is_string() && (j->get_string() == "all" || j->get_string() == "any")) {
        par.join = j->get_string() == "all" ? core::ParallelStep::Join::kAll
                                            : core::ParallelStep::Join::kAny;
      } else if (j->is_int64() || j->is_uint64()) {
        int64_t n = j->is_int64() ? j->get_int64() : static_cast<int64_t>(j->get_uint64());
        if (n < 1 || n > static_cast<int64_t>(par.branches.size())) {
          r_.AtValue(jp, fmt::format("'join' must be between 1 and the number of branches ({})",
                                     par.branches.size()));
        } else {
          par.join = core::ParallelStep::Join::kN;
          par.n = static_cast<int>(n);
        }
      } else {
        r_.AtValue(jp, "'join' must be all, any or a number of branches");
      }
    }
    return par;
  }

  // `loop: { steps, until, max_iterations, converge_on, on_repeat }`
  core::LoopStep BuildLoop(const json::value& v, const std::string& ptr, int index) {
    core::LoopStep loop;
    const json::object* o = Object(v, ptr, "loop");
    if (o == nullptr) return loop;
    CheckKeys(*o, ptr, kLoopKeys, {});
    if (const json::value* st = Require(*o, ptr, "steps", "'loop'")) {
      loop.body = BuildBlock(*st, ChildPointer(ptr, "steps"), index, 0, "body");
    }
    ScopeSpec scope = StepScope(index, false, "item");
    scope.body = true;
    if (const json::value* u = o->if_contains("until")) {
      loop.until = ParseCondition(*u, ChildPointer(ptr, "until"), scope, "until");
    }
    if (const json::value* m = o->if_contains("max_iterations")) {
      if (auto n = Integer(*m, ChildPointer(ptr, "max_iterations"), "max_iterations", 1)) {
        loop.max_iterations = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
      }
    }
    if (!o->contains("until") && !o->contains("max_iterations") && !o->contains("converge_on")) {
      r_.AtValue(ptr, fmt::format("a loop needs 'until', 'converge_on' or 'max_iterations' "
                                  "(without them it stops after {} iterations)",
                                  loop.max_iterations));
    }
    if (const json::value* c = o->if_contains("converge_on")) {
      std::string cp = ChildPointer(ptr, "converge_on");
      if (const json::object* co = Object(*c, cp, "converge_on")) {
        CheckKeys(*co, cp, kConvergeKeys, {});
        core::Convergence conv;
        if (const json::value* val = Require(*co, cp, "value", "'converge_on'")) {
          if (auto t = Compile(*val, ChildPointer(cp, "value"), scope)) conv.value = std::move(*t);
        }
        if (const json::value* a = co->if_contains("at_least")) {
          conv.at_least = Number(*a, ChildPointer(cp, "at_least"), "at_least");
        }
        if (const json::value* a = co->if_contains("at_most")) {
          conv.at_most = Number(*a, ChildPointer(cp, "at_most"), "at_most");
        }
        if (const json::value* p = co->if_contains("patience")) {
          if (auto n = Integer(*p, ChildPointer(cp, "patience"), "patience", 1)) {
            conv.patience = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
          }
        }
        if (const json::value* d = co->if_contains("min_delta")) {
          if (auto n = Number(*d, ChildPointer(cp, "min_delta"), "min_delta")) conv.min_delta = *n;
        }
        if (const json::value* g = co->if_contains("goal")) {
          if (auto m = Enum(*g, ChildPointer(cp, "goal"), "goal", {"maximize", "minimize"})) {
            conv.maximize = *m == "maximize";
          }
        }
        if (!conv.at_least && !conv.at_most && conv.patience == 0) {
          r_.AtValue(cp, "'converge_on' needs 'at_least', 'at_most' or 'patience'");
        }
        loop.converge_on = std::move(conv);
      }
    }
    if (const json::value* r = o->if_contains("on_repeat")) {
      if (auto m =
              Enum(*r, ChildPointer(ptr, "on_repeat"), "on_repeat", {"fail", "exit", "ignore"})) {
        loop.detect_repeats = *m != "ignore";
        loop.on_repeat =
            *m == "exit" ? core::LoopStep::OnRepeat::kExit : core::LoopStep::OnRepeat::kFail;
      }
    }
    return loop;
  }

  core::LlmStep BuildLlm(const json::value& v, const std::string& ptr, const std::string& owner,
                         const ScopeSpec& scope) {
    core::LlmStep llm;
    if (v.is_string()) {
      if (auto t = Compile(v, ptr, scope)) llm.prompt = std::move(*t);
      return llm;
    }
    const json::object* o = Object(v, ptr, "llm");
    if (o == nullptr) return llm;
    CheckKeys(*o, ptr, kLlmKeys, {});
    if (const json::value* m = o->if_contains("model")) {
      std::string mp = ChildPointer(ptr, "model");
      if (const json::string* s = String(*m, mp, "model")) {
        llm.model = *s;
        out_.refs.push_back({NameRef::Kind::kModel, llm.model, mp, owner});
      }
    }
    bool has_prompt = o->contains("prompt");
    bool has_messages = o->contains("messages");
    if (has_prompt && has_messages) {
      r_.AtKey(ChildPointer(ptr, "messages"), "give either 'prompt' or 'messages', not both");
    } else if (!has_prompt && !has_messages) {
      r_.AtValue(ptr, "'llm' needs 'prompt' or 'messages'");
    }
    if (has_prompt) {
      if (auto t = Compile(o->at("prompt"), ChildPointer(ptr, "prompt"), scope)) {
        llm.prompt = std::move(*t);
      }
    }
    if (has_messages) {
      std::string mp = ChildPointer(ptr, "messages");
      const json::value& m = o->at("messages");
      bool is_expr = m.is_string() && m.get_string().find("${{") != json::string::npos;
      if (is_expr || Array(m, mp, "messages") != nullptr) {
        if (auto t = Compile(m, mp, scope)) llm.messages = std::move(*t);
      }
    }
    if (const json::value* s = o->if_contains("system")) {
      if (auto t = Compile(*s, ChildPointer(ptr, "system"), scope)) llm.system = std::move(*t);
    }
    if (const json::value* s = o->if_contains("output_schema")) {
      if (Object(*s, ChildPointer(ptr, "output_schema"), "output_schema")) llm.output_schema = *s;
    }
    return llm;
  }

  // `plan: { planner, input, roles, synthesizer, max_tasks, max_repairs, max_parallel }`
  // (core/plan.hpp): the agents become name references for the checker.
  core::PlanStep BuildPlan(const json::object& s, const std::string& step_ptr, const json::value& v,
                           const std::string& ptr, const std::string& owner,
                           const ScopeSpec& scope) {
    static const Keys kPlanKeys = {"planner",   "input",       "roles",       "synthesizer",
                                   "max_tasks", "max_repairs", "max_parallel"};
    core::PlanStep p;
    for (const char* k : {"for_each", "as", "tolerate", "route", "max_parallel"}) {
      if (s.contains(k)) {
        r_.AtKey(ChildPointer(step_ptr, k),
                 fmt::format("'{}' is not valid on a plan step (the plan's tasks are its "
                             "instances; 'plan.max_parallel' bounds them)",
                             k));
      }
    }
    const json::object* o = Object(v, ptr, "plan");
    if (o == nullptr) return p;
    CheckKeys(*o, ptr, kPlanKeys, {});
    auto agent = [&](const char* key, std::string& into) {
      const json::value* a = o->if_contains(key);
      if (a == nullptr) return;
      std::string ap = ChildPointer(ptr, key);
      if (const json::string* name = String(*a, ap, key)) {
        into = *name;
        out_.refs.push_back({NameRef::Kind::kAgent, into, ap, owner});
      }
    };
    if (Require(*o, ptr, "planner", "'plan'")) agent("planner", p.planner);
    agent("synthesizer", p.synthesizer);
    if (const json::value* in = Require(*o, ptr, "input", "'plan'")) {
      if (auto t = Compile(*in, ChildPointer(ptr, "input"), scope)) p.input = std::move(*t);
    }
    if (const json::value* r = o->if_contains("roles")) {
      std::string rp = ChildPointer(ptr, "roles");
      std::vector<std::string> ptrs;
      if (auto names = StringList(*r, rp, "roles", &ptrs)) {
        if (names->empty()) r_.AtValue(rp, "'roles' must name at least one agent");
        for (size_t k = 0; k < names->size(); ++k) {
          out_.refs.push_back({NameRef::Kind::kAgent, (*names)[k], ptrs[k], owner});
        }
        p.roles = std::move(*names);
      }
    }
    auto integer = [&](const char* key, int64_t min, int& into) {
      if (const json::value* n = o->if_contains(key)) {
        if (auto x = Integer(*n, ChildPointer(ptr, key), key, min)) {
          into = static_cast<int>(std::min<int64_t>(*x, 1'000'000));
        }
      }
    };
    integer("max_tasks", 1, p.max_tasks);
    integer("max_repairs", 0, p.max_repairs);
    integer("max_parallel", 0, p.max_parallel);
    return p;
  }

  // `consensus: { agents | models | participants, input, instructions, method, judge, quorum,
  // tie_break, vote }`: participants become agent/model name references for the checker.
  core::ConsensusStep BuildConsensus(const json::value& v, const std::string& ptr,
                                     const std::string& owner, const ScopeSpec& scope) {
    static const Keys kConsensusKeys = {"agents",       "models", "participants", "input",
                                        "instructions", "method", "judge",        "quorum",
                                        "tie_break",    "vote"};
    core::ConsensusStep c;
    const json::object* o = Object(v, ptr, "consensus");
    if (o == nullptr) return c;
    CheckKeys(*o, ptr, kConsensusKeys, {});
    size_t given = 0;
    auto add = [&](bool agent, std::string name, const std::string& p, double weight) {
      core::ConsensusStep::Participant part;
      (agent ? part.agent : part.model) = name;
      part.weight = weight;
      part.loc = Loc(r_, p);
      out_.refs.push_back(
          {agent ? NameRef::Kind::kAgent : NameRef::Kind::kModel, std::move(name), p, owner});
      c.participants.push_back(std::move(part));
    };
    for (const char* list : {"agents", "models"}) {
      const json::value* l = o->if_contains(list);
      if (l == nullptr) continue;
      std::vector<std::string> ptrs;
      auto names = StringList(*l, ChildPointer(ptr, list), list, &ptrs);
      if (l->is_array()) given += l->get_array().size();
      if (!names) continue;
      for (size_t k = 0; k < names->size(); ++k) {
        add(std::string_view(list) == "agents", (*names)[k], ptrs[k], 1.0);
      }
    }
    if (const json::value* l = o->if_contains("participants")) {
      std::string lp = ChildPointer(ptr, "participants");
      if (o->contains("agents") || o->contains("models")) {
        r_.AtKey(lp, "give either 'participants' or 'agents'/'models', not both");
      }
      if (const json::array* arr = Array(*l, lp, "participants")) {
        given += arr->size();
        for (size_t k = 0; k < arr->size(); ++k) {
          std::string pp = ChildPointer(lp, k);
          const json::object* po = Object((*arr)[k], pp, "participants entries");
          if (po == nullptr) continue;
          CheckKeys(*po, pp, {"agent", "model", "weight"}, {});
          bool agent = po->contains("agent");
          if (agent == po->contains("model")) {
            r_.AtValue(pp, "a participant names exactly one of 'agent' or 'model'");
            continue;
          }
          const char* key = agent ? "agent" : "model";
          std::string np = ChildPointer(pp, key);
          const json::string* name = String(po->at(key), np, key);
          double weight = 1.0;
          if (const json::value* w = po->if_contains("weight")) {
            std::string wp = ChildPointer(pp, "weight");
            if (auto n = Number(*w, wp, "weight")) {
              if (*n <= 0) {
                r_.AtValue(wp, "'weight' must be greater than 0");
              } else {
                weight = *n;
              }
            }
          }
          if (name != nullptr) add(agent, std::string(*name), np, weight);
        }
      }
    }
    if (!o->contains("agents") && !o->contains("models") && !o->contains("participants")) {
      r_.AtValue(ptr, "'consensus' needs participants: give 'agents', 'models' or 'participants'");
    } else if (given < 2) {
      r_.AtValue(ptr, "'consensus' needs at least two participants");
    }
    if (const json::value* in = Require(*o, ptr, "input", "'consensus'")) {
      if (auto t = Compile(*in, ChildPointer(ptr, "input"), scope)) c.input = std::move(*t);
    }
    bool has_models = std::any_of(c.participants.begin(), c.participants.end(),
                                  [](const auto& p) { return !p.model.empty(); });
    if (const json::value* i = o->if_contains("instructions")) {
      std::string ip = ChildPointer(ptr, "instructions");
      if (auto t = Compile(*i, ip, scope)) c.instructions = std::move(*t);
      if (!has_models && !c.participants.empty()) {
        r_.WarnAtKey(ip, "'instructions' are for model participants; agents use their own");
      }
    }
    std::string mp = ChildPointer(ptr, "method");
    if (const json::value* m = o->if_contains("method")) {
      if (auto e =
              Enum(*m, mp, "method", {"majority", "weighted", "judge", "best_of_n", "ensemble"})) {
        c.method = *e;
      }
    }
    if (const json::value* j = o->if_contains("judge")) {
      std::string jp = ChildPointer(ptr, "judge");
      if (const json::string* name = String(*j, jp, "judge")) {
        c.judge = *name;
        out_.refs.push_back({NameRef::Kind::kAgent, c.judge, jp, owner});
      }
    }
    if (const json::value* q = o->if_contains("quorum")) {
      std::string qp = ChildPointer(ptr, "quorum");
      if (auto n = Integer(*q, qp, "quorum", 1)) {
        if (given >= 2 && static_cast<size_t>(*n) > given) {
          r_.AtValue(qp, fmt::format("'quorum' {} is more than the {} participants", *n, given));
        }
        c.quorum = static_cast<int>(std::min<int64_t>(*n, 1'000'000));
      }
    }
    if (const json::value* t = o->if_contains("tie_break")) {
      if (auto e =
              Enum(*t, ChildPointer(ptr, "tie_break"), "tie_break", {"first", "judge", "fail"})) {
        c.tie_break = *e;
      }
    }
    if (c.judge.empty()) {
      if (c.method == "judge" || c.method == "best_of_n" || c.method == "ensemble") {
        r_.AtValue(o->contains("method") ? mp : ptr,
                   fmt::format("method '{}' needs a 'judge' agent", c.method));
      } else if (c.tie_break == "judge") {
        r_.AtValue(ChildPointer(ptr, "tie_break"), "tie_break 'judge' needs a 'judge' agent");
      }
    }
    if (const json::value* vt = o->if_contains("vote")) {
      std::string vp = ChildPointer(ptr, "vote");
      ScopeSpec vote_scope = scope;
      vote_scope.roots.push_back("answer");
      if (auto t = Compile(*vt, vp, vote_scope)) c.vote = std::move(*t);
      if (c.method != "majority" && c.method != "weighted") {
        r_.WarnAtKey(
            vp, fmt::format("'vote' is used only by majority and weighted, not by '{}'", c.method));
      }
    }
    return c;
  }

  core::SetStep BuildSet(const json::value& v, const std::string& ptr, const ScopeSpec& scope) {
    core::SetStep set;
    const json::object* o = Object(v, ptr, "set");
    if (o == nullptr) return set;
    if (o->empty()) r_.AtValue(ptr, "'set' must not be empty");
    for (const auto& kv : *o) {
      std::string kp = ChildPointer(ptr, kv.key());
      core::SetStep::Entry e;
      e.key = kv.key();
      std::string_view key = kv.key();
      if (key.substr(0, 7) == "memory.") {
        e.to_memory = true;
        e.memory_key = std::string(key.substr(7));
        if (!IsIdentifier(e.memory_key)) {
          r_.AtKey(kp, fmt::format("invalid memory key '{}': use letters, digits and '_'", key));
          continue;
        }
      } else if (!IsIdentifier(key)) {
        r_.AtKey(kp, fmt::format("invalid key '{}' in 'set': use 'memory.<name>' or a name of "
                                 "letters, digits and '_'",
                                 key));
        continue;
      }
      if (auto t = Compile(kv.value(), kp, scope)) {
        e.value = std::move(*t);
        set.entries.push_back(std::move(e));
      }
    }
    return set;
  }

  // ---- approval / emit / wait steps and `on:` triggers (core/waits.hpp, docs/dsl.md).

  void BuildWaitKind(const json::object& s, const std::string& kind, const json::value& v,
                     const std::string& ptr, const ScopeSpec& scope, core::Step& step) {
    std::string kp = ChildPointer(ptr, kind);
    if (kind != "emit" && s.contains("timeout")) {
      r_.AtKey(ChildPointer(ptr, "timeout"),
               fmt::format("a {} step has its own timeout: write it inside '{}:' (with "
                           "on_timeout)",
                           kind, kind));
    }
    if (kind == "approval") {
      step.kind = BuildApproval(v, kp, scope);
    } else if (kind == "emit") {
      step.kind = BuildEmit(v, kp, scope);
    } else {
      step.kind = BuildWait(v, kp, scope);
    }
  }

  // `approval: "prompt"` or `approval: { prompt, timeout, on_timeout, approvers }`.
  core::ApprovalStep BuildApproval(const json::value& v, const std::string& ptr,
                                   const ScopeSpec& scope) {
    core::ApprovalStep a;
    if (v.is_string()) {
      if (auto t = Compile(v, ptr, scope)) a.prompt = std::move(*t);
      return a;
    }
    const json::object* o = Object(v, ptr, "approval");
    if (o == nullptr) return a;
    CheckKeys(*o, ptr, kApprovalKeys, {});
    if (const json::value* p = Require(*o, ptr, "prompt", "approval")) {
      if (auto t = Compile(*p, ChildPointer(ptr, "prompt"), scope)) a.prompt = std::move(*t);
    }
    if (const json::value* t = o->if_contains("timeout")) {
      a.timeout = Duration(*t, ChildPointer(ptr, "timeout"), "timeout");
    }
    if (const json::value* t = o->if_contains("on_timeout")) {
      std::string tp = ChildPointer(ptr, "on_timeout");
      if (auto m = Enum(*t, tp, "on_timeout", {"fail", "approve", "reject"})) a.on_timeout = *m;
      if (!o->contains("timeout")) r_.AtKey(tp, "'on_timeout' needs a 'timeout'");
    }
    if (const json::value* ap = o->if_contains("approvers")) {
      if (auto l = StringList(*ap, ChildPointer(ptr, "approvers"), "approvers", nullptr, true)) {
        a.approvers = std::move(*l);
      }
    }
    return a;
  }

  // Event names: letters, digits and . _ - : /
  bool CheckEventName(const json::value& v, const std::string& ptr, std::string* out) {
    const json::string* s = String(v, ptr, "event");
    if (s == nullptr) return false;
    bool ok = !s->empty() && std::all_of(s->begin(), s->end(), [](char c) {
      return IsIdChar(c) || c == '.' || c == ':' || c == '/';
    });
    if (!ok) {
      r_.AtValue(ptr, fmt::format("invalid event name '{}': use letters, digits and . _ - : /",
                                  std::string_view(*s)));
      return false;
    }
    *out = *s;
    return true;
  }

  // `emit: { event: NAME, data: value }`.
  core::EmitStep BuildEmit(const json::value& v, const std::string& ptr, const ScopeSpec& scope) {
    core::EmitStep e;
    const json::object* o = Object(v, ptr, "emit");
    if (o == nullptr) return e;
    CheckKeys(*o, ptr, kEmitKeys, {});
    if (const json::value* n = Require(*o, ptr, "event", "emit")) {
      CheckEventName(*n, ChildPointer(ptr, "event"), &e.event);
    }
    if (const json::value* d = o->if_contains("data")) {
      if (auto t = Compile(*d, ChildPointer(ptr, "data"), scope)) e.data = std::move(*t);
    }
    return e;
  }

  // A boolean condition written ${{ expr }} or bare, as in `if:`.
  std::optional<expr::Expression> Condition(const json::value& v, const std::string& ptr,
                                            std::string_view label, const ScopeSpec& scope) {
    if (v.is_bool()) {
      auto e = expr::Expression::Parse(v.get_bool() ? "true" : "false");
      return e.ok() ? std::optional(std::move(*e)) : std::nullopt;
    }
    const json::string* s = String(v, ptr, label);
    if (s == nullptr) return std::nullopt;
    std::string_view text = *s;
    std::string source(text);
    size_t offset = 0;
    if (size_t open = text.find("${{"); open != std::string_view::npos) {
      size_t first = text.find_first_not_of(" \t\n");
      size_t close = text.find("}}", open);
      size_t last = text.find_last_not_of(" \t\n");
      if (first != open || close == std::string_view::npos || close + 1 != last) {
        r_.AtValue(ptr, fmt::format("'{}' must be a single expression: write ${{{{ condition }}}} "
                                    "or the bare condition",
                                    label));
        return std::nullopt;
      }
      offset = open + 3;
      source = std::string(text.substr(offset, close - offset));
    }
    expr::ExprError err;
    Result<expr::Expression> e = expr::Expression::Parse(source, &err);
    if (!e.ok()) {
      r_.AtOffset(ptr, offset + err.offset,
                  err.message.empty() ? e.error().message() : err.message);
      return std::nullopt;
    }
    out_.sites.push_back({*e, ptr, offset, scope.roots, scope.step, scope.any_step});
    return std::move(*e);
  }

  // `wait: { event, match, timeout, on_timeout }`, `wait: { for: 10s }`, `wait: { until: ts }`.
  core::WaitStep BuildWait(const json::value& v, const std::string& ptr, const ScopeSpec& scope) {
    core::WaitStep w;
    const json::object* o = Object(v, ptr, "wait");
    if (o == nullptr) return w;
    CheckKeys(*o, ptr, kWaitKeys, {});
    int given = static_cast<int>(o->contains("event")) + static_cast<int>(o->contains("for")) +
                static_cast<int>(o->contains("until"));
    if (given != 1) {
      r_.AtValue(ptr,
                 "'wait' needs exactly one of 'event' (an event), 'for' (a duration) and "
                 "'until' (a time)");
    }
    if (const json::value* n = o->if_contains("event")) {
      CheckEventName(*n, ChildPointer(ptr, "event"), &w.event);
    } else {
      for (const char* k : {"match", "timeout", "on_timeout"}) {
        if (o->contains(k)) {
          r_.AtKey(ChildPointer(ptr, k), fmt::format("'{}' is only valid with 'event'", k));
        }
      }
    }
    if (const json::value* m = o->if_contains("match")) {
      ScopeSpec with_event = scope;
      with_event.roots.emplace_back("event");
      w.match = Condition(*m, ChildPointer(ptr, "match"), "match", with_event);
    }
    if (const json::value* t = o->if_contains("timeout")) {
      w.timeout = Duration(*t, ChildPointer(ptr, "timeout"), "timeout");
    }
    if (const json::value* t = o->if_contains("on_timeout")) {
      std::string tp = ChildPointer(ptr, "on_timeout");
      if (auto m = Enum(*t, tp, "on_timeout", {"fail", "continue"})) w.on_timeout = *m;
      if (!o->contains("timeout")) r_.AtKey(tp, "'on_timeout' needs a 'timeout'");
    }
    if (const json::value* f = o->if_contains("for")) {
      w.duration = Duration(*f, ChildPointer(ptr, "for"), "for");
    }
    if (const json::value* u = o->if_contains("until")) {
      if (auto t = Compile(*u, ChildPointer(ptr, "until"), scope)) w.until = std::move(*t);
    }
    return w;
  }

  // `on: { event: NAME, match: expr }`, a list of them, or `on: NAME`.
  void BuildTriggers(const json::value& v) {
    auto one = [&](const json::value& t, const std::string& ptr) {
      core::Workflow::Trigger trigger;
      trigger.loc = Loc(r_, ptr);
      if (t.is_string()) {
        if (CheckEventName(t, ptr, &trigger.event)) {
          out_.workflow.triggers.push_back(std::move(trigger));
        }
        return;
      }
      const json::object* o = Object(t, ptr, "on");
      if (o == nullptr) return;
      CheckKeys(*o, ptr, kTriggerKeys, {});
      if (const json::value* n = Require(*o, ptr, "event", "on")) {
        if (!CheckEventName(*n, ChildPointer(ptr, "event"), &trigger.event)) return;
      }
      if (const json::value* m = o->if_contains("match")) {
        trigger.match = Condition(*m, ChildPointer(ptr, "match"), "match", {{"event"}, -1, false});
      }
      out_.workflow.triggers.push_back(std::move(trigger));
    };
    if (v.is_array()) {
      for (size_t i = 0; i < v.get_array().size(); ++i) {
        one(v.get_array()[i], ChildPointer("/on", i));
      }
    } else {
      one(v, "/on");
    }
  }

  Reporter& r_;
  BuildOutput out_;
  std::unordered_map<std::string, int> first_line_;  // step id -> line of its definition
};

}  // namespace

BuildOutput BuildWorkflow(const json::value& root, Reporter& reporter) {
  return Builder(reporter).Build(root);
}

BuildOutput BuildConfig(const json::value& root, Reporter& reporter) {
  return Builder(reporter).BuildConfig(root);
}

}  // namespace baton::dsl
