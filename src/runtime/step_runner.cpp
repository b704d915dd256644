#include "runtime/step_runner.hpp"

#include <fmt/format.h>

#include <boost/asio/this_coro.hpp>
#include <exception>

#include "base/json.hpp"
#include "core/step_env.hpp"
#include "providers/pricing.hpp"
#include "providers/registry.hpp"
#include "runtime/consensus_runner.hpp"
#include "schema/validator.hpp"
#include "store/store.hpp"
#include "tools/process.hpp"
#include "tools/tool.hpp"

namespace baton::runtime {
namespace {

using core::Dispatch;
using core::StepOutcome;

StepOutcome OutcomeFor(const Dispatch& d) {
  StepOutcome o;
  o.step = d.step;
  o.item = d.item;
  o.attempt = d.attempt;
  return o;
}

core::Event Fact(core::EventType type, const core::Step& step, const Dispatch& d) {
  core::Event e;
  e.type = type;
  e.step = step.id;
  e.item = d.item;
  e.attempt = d.attempt;
  return e;
}

std::string AsText(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return ToJson(v);
}

std::string Tail(std::string_view s, size_t n) {
  if (s.size() <= n) return std::string(s);
  return "…" + std::string(s.substr(s.size() - n));
}

}  // namespace

StepRunner::StepRunner(store::Store& store, const providers::ModelRegistry& models,
                       tools::ToolRegistry& tools, Clock& clock, int64_t blob_threshold,
                       std::optional<double> global_daily_usd)
    : store_(store),
      models_(models),
      tools_(tools),
      clock_(clock),
      blob_threshold_(blob_threshold),
      global_daily_usd_(global_daily_usd),
      router_(store, clock) {}

StepRunner::~StepRunner() = default;

json::value StepRunner::MaybeBlob(const std::string& text) {
  if (static_cast<int64_t>(text.size()) <= blob_threshold_) return json::string(text);
  auto hash = store_.PutBlob(text);
  if (!hash.ok()) return json::string(text);
  json::object ref;
  ref["blob"] = *hash;
  ref["bytes"] = text.size();
  ref["preview"] = text.substr(0, 200);
  return ref;
}

Result<providers::ChatModel*> StepRunner::GetModel(const core::Workflow& wf,
                                                   const core::ModelConfig& config) {
  std::lock_guard lock(mu_);
  return GetModelLocked(wf, config);
}

Result<providers::ChatModel*> StepRunner::GetModelLocked(const core::Workflow& wf,
                                                         const core::ModelConfig& config) {
  json::object key_obj = config.options;
  key_obj["provider"] = config.provider;
  key_obj["model"] = config.model;
  key_obj["name"] = config.name;
  std::string key = CanonicalJson(key_obj);
  auto it = model_cache_.find(key);
  if (it != model_cache_.end()) return it->second.get();
  auto model = models_.Create(config);
  if (!model.ok()) return model.error();
  auto* raw = model->get();
  // Cached before its fallbacks are linked, so a chain that comes back to it ends here.
  model_cache_.emplace(std::move(key), std::move(model).value());
  Status linked = providers::LinkFallbacks(*raw, [&](std::string_view name) {
    auto fb = wf.models.find(std::string(name));
    if (fb == wf.models.end()) return static_cast<providers::ChatModel*>(nullptr);
    auto made = GetModelLocked(wf, fb->second);
    return made.ok() ? *made : nullptr;
  });
  if (!linked.ok()) return linked;
  return raw;
}

Result<const schema::Schema*> StepRunner::GetSchema(const json::value& s) {
  std::string key = CanonicalJson(s);
  std::lock_guard lock(mu_);
  auto it = schema_cache_.find(key);
  if (it != schema_cache_.end()) return it->second.get();
  auto compiled = schema::Schema::Compile(s);
  if (!compiled.ok()) return compiled.error();
  auto* raw = new schema::Schema(std::move(compiled).value());
  schema_cache_.emplace(std::move(key), std::unique_ptr<schema::Schema>(raw));
  return raw;
}

boost::asio::awaitable<StepOutcome> StepRunner::Run(const core::RunState& state, Dispatch d,
                                                    CallContext ctx) {
  const core::Step& step = state.workflow().steps[static_cast<size_t>(d.step)];
  try {
    if (std::holds_alternative<core::CallStep>(step.kind)) co_return co_await RunCall(state, d);
    if (std::holds_alternative<core::ConsensusStep>(step.kind)) {
      co_return co_await RunConsensus(*this, state, d, std::move(ctx));
    }
    if (step.route) co_return co_await router_.Run(*this, state, d, std::move(ctx));
    co_return co_await RunModel(state, d, std::move(ctx));
  } catch (const boost::system::system_error& e) {
    StepOutcome o = OutcomeFor(d);
    o.status = e.code() == boost::asio::error::operation_aborted
                   ? Cancelled("cancelled")
                   : Internal(fmt::format("step '{}': {}", step.id, e.what()));
    co_return o;
  } catch (const std::exception& e) {
    StepOutcome o = OutcomeFor(d);
    o.status = Internal(fmt::format("step '{}': {}", step.id, e.what()));
    co_return o;
  }
}

boost::asio::awaitable<StepOutcome> StepRunner::RunModel(const core::RunState& state, Dispatch d,
                                                         CallContext ctx) {
  const core::Workflow& wf = state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];

  std::string model_name;
  std::string agent_name;
  const json::value* output_schema = nullptr;
  json::value plan_schema;  // plan: the planner's reply schema (outlives the call)
  if (const auto* a = std::get_if<core::AgentStep>(&step.kind)) {
    const core::Agent& agent = wf.agents.at(a->agent);
    agent_name = agent.name;
    model_name = agent.model;
    if (agent.output_schema) output_schema = &*agent.output_schema;
  } else if (std::holds_alternative<core::PlanStep>(step.kind)) {
    // core/plan.hpp: the dispatch names the agent (the planner, a task's, the synthesizer).
    const auto* name = d.input.if_contains("agent");
    auto agent = name && name->is_string() ? wf.agents.find(std::string(name->get_string()))
                                           : wf.agents.end();
    if (agent == wf.agents.end()) {
      StepOutcome o = OutcomeFor(d);
      o.status = Status(Code::kInvalidArgument, "plan: no such agent", "invalid_request");
      co_return o;
    }
    agent_name = agent->first;
    model_name = agent->second.model;
    if (const auto* s = d.input.if_contains("output_schema")) plan_schema = *s;
    if (!plan_schema.is_null()) {
      output_schema = &plan_schema;
    } else if (agent->second.output_schema) {
      output_schema = &*agent->second.output_schema;
    }
  } else {
    const auto& l = std::get<core::LlmStep>(step.kind);
    model_name = l.model;
    if (l.output_schema) output_schema = &*l.output_schema;
  }
  co_return co_await CallModel(state, std::move(d), std::move(ctx), std::move(model_name),
                               std::move(agent_name), output_schema);
}

boost::asio::awaitable<StepOutcome> StepRunner::CallModel(const core::RunState& state, Dispatch d,
                                                          CallContext ctx, std::string model_name,
                                                          std::string agent_name,
                                                          const json::value* output_schema) {
  const core::Workflow& wf = state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];
  StepOutcome o = OutcomeFor(d);
  if (model_name.empty() && wf.models.size() == 1) model_name = wf.models.begin()->first;
  auto cfg = wf.models.find(model_name);
  if (cfg == wf.models.end()) {
    o.status = Status(Code::kInvalidArgument,
                      fmt::format("step '{}': no model '{}' in models:", step.id, model_name),
                      "invalid_request");
    co_return o;
  }
  auto model = GetModel(wf, cfg->second);
  if (!model.ok()) {
    o.status = Status(model.error().code(), model.error().message(), "invalid_request");
    co_return o;
  }

  providers::ChatRequest req;
  req.model = cfg->second.model;
  req.run_id = state.run_id();
  req.step_id = step.id;
  req.agent = agent_name;
  req.item = d.item;
  req.attempt = d.attempt;
  req.iteration = d.iteration;
  if (output_schema) req.output_schema = *output_schema;
  if (const auto* t = cfg->second.options.if_contains("temperature"); t && t->is_number()) {
    req.temperature = t->to_number<double>();
  }
  if (const auto* m = cfg->second.options.if_contains("max_tokens"); m && m->is_int64()) {
    req.max_tokens = m->get_int64();
  }
  std::string system;
  if (const auto* s = d.input.if_contains("system")) system = AsText(*s);
  if (!system.empty()) req.messages.push_back({"system", system});
  if (const auto* msgs = d.input.if_contains("messages"); msgs && msgs->is_array()) {
    for (const auto& m : msgs->get_array()) {
      const auto* obj = m.if_object();
      if (!obj || !obj->contains("role") || !obj->contains("content")) {
        o.status = Status(Code::kInvalidArgument,
                          "messages: each message needs 'role' and 'content'", "invalid_request");
        co_return o;
      }
      req.messages.push_back({AsText(obj->at("role")), AsText(obj->at("content"))});
    }
  } else {
    const json::value* in = d.input.if_contains("input");
    if (!in) in = d.input.if_contains("prompt");
    req.messages.push_back({"user", in ? AsText(*in) : ""});
  }

  // Budgets: estimate, check, and reserve before the call; the journaled usage settles it.
  const core::Budget& budget = state.budget();
  auto price = providers::ResolvePrice(cfg->second);
  CallEstimate estimate = EstimateCall(req, price.ok() ? price->price : providers::Price{});
  DailySpend daily;
  if (budget.daily_usd || global_daily_usd_) {
    std::string today = UtcDay(clock_.NowMillis());
    if (budget.daily_usd) {
      auto spent = store_.DailySpend(today, "workflow:" + wf.name);
      daily.workflow_usd = spent.ok() ? *spent : 0.0;
    }
    if (global_daily_usd_) {
      auto spent = store_.DailySpend(today, "*");
      daily.global_usd = spent.ok() ? *spent : 0.0;
      daily.global_limit = global_daily_usd_;
    }
  }
  Status fits = CheckBudgets(state, d.step, agent_name, *ctx.ledger, estimate, daily);
  std::string downgraded_from;
  if (!fits.ok() && budget.on_exceed == "downgrade" && budget.downgrade_to != model_name) {
    auto down = wf.models.find(budget.downgrade_to);
    auto down_model = down == wf.models.end() ? Result<providers::ChatModel*>(NotFound("model"))
                                              : GetModel(wf, down->second);
    if (down_model.ok()) {
      auto down_price = providers::ResolvePrice(down->second);
      req.model = down->second.model;
      estimate = EstimateCall(req, down_price.ok() ? down_price->price : providers::Price{});
      fits = CheckBudgets(state, d.step, agent_name, *ctx.ledger, estimate, daily);
      downgraded_from = model_name;
      model_name = budget.downgrade_to;
      model = down_model;
    }
  }
  if (!fits.ok()) {
    o.status = fits.WithRetryHints({-1, true});
    co_return o;
  }
  struct Reservation {
    BudgetLedger& ledger;
    uint64_t ticket;
    ~Reservation() { ledger.Release(ticket); }
  } reservation{*ctx.ledger, ctx.ledger->Reserve(estimate, d.step, agent_name)};

  if (ctx.stream) req.stream = ctx.stream;
  int64_t t0 = clock_.NowMillis();
  auto reply = co_await (*model)->Complete(req);
  core::Event fact = Fact(core::EventType::kModelCalled, step, d);
  fact.data["model"] = model_name;
  if (!downgraded_from.empty()) fact.data["downgraded_from"] = downgraded_from;
  fact.data["reserved_usd"] = estimate.usd;
  fact.data["provider"] = (*model)->provider();
  fact.data["provider_model"] = req.model;
  json::array prompt;
  for (const auto& m : req.messages) {
    prompt.push_back(json::object{{"role", m.role}, {"content", MaybeBlob(m.content)}});
  }
  fact.data["prompt"] = std::move(prompt);
  fact.data["duration_ms"] = clock_.NowMillis() - t0;
  // The breaker after the call, when not closed: `baton stats` reads its transitions from this.
  if (std::string circuit = (*model)->CircuitState(); !circuit.empty()) {
    fact.data["breaker"] = circuit;
  }
  if (!reply.ok()) {
    json::object err{{"type", reply.error().ErrorType()}, {"message", reply.error().message()}};
    if (RetryHints h = reply.error().retry_hints(); h.retry_after_ms >= 0) {
      err["retry_after_ms"] = h.retry_after_ms;
    }
    fact.data["error"] = std::move(err);
    o.facts.push_back(std::move(fact));
    o.status = reply.error();
    co_return o;
  }
  const providers::ChatResponse& r = *reply;
  // Who answered (a fallback may have), and what the admission chain decided on the way.
  if (!r.model.empty() && r.model != req.model) fact.data["answered_by"] = r.model;
  if (!r.provider.empty() && r.provider != (*model)->provider()) {
    fact.data["answered_provider"] = r.provider;
  }
  if (!r.notes.empty()) {
    json::array notes;
    for (const auto& n : r.notes) notes.emplace_back(n);
    fact.data["notes"] = std::move(notes);
  }
  if (r.cache_hit) fact.data["cache_hit"] = true;
  if (!r.request_id.empty()) fact.data["request_id"] = r.request_id;
  if (!r.tool_calls.empty()) {
    json::array calls;
    for (const auto& c : r.tool_calls) {
      calls.push_back(json::object{{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
    }
    fact.data["tool_calls"] = std::move(calls);
  }
  fact.data["reply"] = MaybeBlob(r.text);
  if (!r.reasoning.empty()) fact.data["reasoning"] = MaybeBlob(r.reasoning);
  fact.data["finish_reason"] = r.finish_reason;
  json::object usage;
  usage["input_tokens"] = r.usage.input_tokens;
  usage["output_tokens"] = r.usage.output_tokens;
  if (r.usage.cached_tokens) usage["cached_tokens"] = r.usage.cached_tokens;
  if (r.usage.reasoning_tokens) usage["reasoning_tokens"] = r.usage.reasoning_tokens;
  usage["cost_usd"] = r.usage.cost_usd;
  fact.data["usage"] = std::move(usage);
  router_.Observe(fact);

  json::value output;
  if (output_schema) {
    if (r.structured) {
      output = *r.structured;
    } else {
      auto parsed = ParseJson(r.text);
      if (!parsed.ok()) {
        o.facts.push_back(std::move(fact));
        o.status = Status(Code::kInvalidArgument,
                          "the model's reply is not JSON although an output_schema is set",
                          "schema_validation");
        co_return o;
      }
      output = std::move(parsed).value();
    }
    auto compiled = GetSchema(*output_schema);
    if (!compiled.ok()) {
      o.facts.push_back(std::move(fact));
      o.status = Status(Code::kInvalidArgument, compiled.error().message(), "schema_validation");
      co_return o;
    }
    auto errors = (*compiled)->Validate(output);
    if (!errors.empty()) {
      o.facts.push_back(std::move(fact));
      o.status = Status(Code::kInvalidArgument,
                        "the reply does not match output_schema: " + schema::FormatErrors(errors),
                        "schema_validation");
      co_return o;
    }
    if (const auto* obj = output.if_object()) {
      if (const auto* c = obj->if_contains("confidence"); c && c->is_number()) {
        fact.data["confidence"] = c->to_number<double>();
      }
    }
  } else {
    output = json::string(r.text);
  }
  o.facts.push_back(std::move(fact));
  o.output = std::move(output);
  co_return o;
}

boost::asio::awaitable<StepOutcome> StepRunner::RunCall(const core::RunState& state, Dispatch d) {
  const core::Workflow& wf = state.workflow();
  const core::Step& step = wf.steps[static_cast<size_t>(d.step)];
  const auto& call = std::get<core::CallStep>(step.kind);
  StepOutcome o = OutcomeFor(d);
  json::value with;
  if (const auto* w = d.input.if_contains("with")) with = *w;

  auto declared = wf.tools.find(call.tool);
  if (declared == wf.tools.end()) {
    tools::Tool* tool = tools_.Find(call.tool);
    if (!tool) {
      o.status =
          Status(Code::kNotFound, fmt::format("no tool named '{}'", call.tool), "tool_error");
      co_return o;
    }
    tools::ToolContext ctx{state.run_id(), step.id, d.item, d.attempt, ""};
    if (const auto* wd = state.run_view().get_object().if_contains("workdir");
        wd && wd->is_string()) {
      ctx.workdir = wd->get_string();
    }
    int64_t t0 = clock_.NowMillis();
    auto result = co_await tool->Call(with, ctx);
    core::Event fact = Fact(core::EventType::kToolCalled, step, d);
    fact.data["tool"] = call.tool;
    fact.data["duration_ms"] = clock_.NowMillis() - t0;
    if (!result.ok()) {
      fact.data["error"] =
          json::object{{"type", result.error().ErrorType()}, {"message", result.error().message()}};
      o.status = result.error();
    } else {
      o.output = std::move(result).value();
    }
    o.facts.push_back(std::move(fact));
    co_return o;
  }

  const auto& exec = std::get<core::ExecTool>(declared->second.impl);
  core::StepEnv env(state);
  env.WithLocal("with", &with);
  tools::ProcessSpec spec;
  for (const auto& arg : exec.argv) {
    auto v = arg.Render(env);
    if (!v.ok()) {
      o.status = v.error().WithContext(fmt::format("tool '{}' argv", call.tool));
      co_return o;
    }
    spec.argv.push_back(AsText(*v));
  }
  if (exec.cwd) {
    auto v = exec.cwd->Render(env);
    if (!v.ok()) {
      o.status = v.error().WithContext(fmt::format("tool '{}' cwd", call.tool));
      co_return o;
    }
    spec.cwd = AsText(*v);
  }
  for (const auto& [name, tmpl] : exec.env) {
    auto v = tmpl.Render(env);
    if (!v.ok()) {
      o.status = v.error().WithContext(fmt::format("tool '{}' env {}", call.tool, name));
      co_return o;
    }
    spec.env.emplace_back(name, AsText(*v));
  }
  if (exec.stdin_from == "with") spec.stdin_data = ToJson(with);
  if (exec.timeout) spec.timeout = *exec.timeout;

  auto result = co_await tools::RunProcess(std::move(spec));
  core::Event fact = Fact(core::EventType::kToolCalled, step, d);
  fact.data["tool"] = call.tool;
  if (!result.ok()) {
    fact.data["error"] =
        json::object{{"type", result.error().ErrorType()}, {"message", result.error().message()}};
    o.facts.push_back(std::move(fact));
    o.status = result.error();
    co_return o;
  }
  const tools::ProcessResult& pr = *result;
  fact.data["exit_code"] = pr.exit_code;
  if (pr.term_signal) fact.data["signal"] = pr.term_signal;
  fact.data["duration_ms"] = pr.duration_ms;
  fact.data["stdout_bytes"] = pr.out.size();
  if (!pr.err.empty()) fact.data["stderr"] = MaybeBlob(Tail(pr.err, 4000));
  o.facts.push_back(std::move(fact));
  if (pr.timed_out) {
    o.status =
        Status(Code::kDeadlineExceeded, fmt::format("tool '{}' timed out", call.tool), "timeout");
    co_return o;
  }
  if (pr.exit_code != 0) {
    std::string why = pr.term_signal ? fmt::format("was killed by signal {}", pr.term_signal)
                                     : fmt::format("exited with status {}", pr.exit_code);
    std::string err = Tail(pr.err, 400);
    o.status = Status(Code::kUnavailable,
                      fmt::format("tool '{}' {}{}{}", call.tool, why, err.empty() ? "" : ": ", err),
                      "tool_error");
    co_return o;
  }
  if (exec.parse == core::ExecTool::Parse::kJson) {
    auto parsed = ParseJson(pr.out);
    if (!parsed.ok()) {
      o.status = Status(
          Code::kInvalidArgument,
          fmt::format("tool '{}' printed invalid JSON: {}", call.tool, parsed.error().message()),
          "tool_error");
      co_return o;
    }
    o.output = std::move(parsed).value();
  } else {
    std::string out = pr.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
    o.output = json::string(out);
  }
  co_return o;
}

}  // namespace baton::runtime
