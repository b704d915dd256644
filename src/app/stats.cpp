#include "app/stats.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <utility>

#include "app/app.hpp"
#include "base/clock.hpp"
#include "base/duration.hpp"

namespace baton::app {
namespace {

using core::EventType;

// Durations of one group, kept whole for the percentile.
struct Durations {
  std::vector<int64_t> values;

  json::value ToJson() const {
    if (values.empty()) return nullptr;
    std::vector<int64_t> v = values;
    std::sort(v.begin(), v.end());
    double sum = 0;
    for (int64_t x : v) sum += static_cast<double>(x);
    // Nearest rank: the smallest value with at least 95% of the values at or below it.
    size_t rank = (95 * v.size() + 99) / 100;
    json::object o;
    o["min"] = v.front();
    o["avg"] = sum / static_cast<double>(v.size());
    o["p95"] = v[rank - 1];
    o["max"] = v.back();
    return o;
  }
};

enum class Breaker : uint8_t { kClosed, kOpen, kHalfOpen };

std::string_view BreakerName(Breaker b) {
  switch (b) {
    case Breaker::kOpen:
      return "open";
    case Breaker::kHalfOpen:
      return "half_open";
    case Breaker::kClosed:
      break;
  }
  return "closed";
}

// The figures of one workflow, kind, agent or model.
struct Row {
  int64_t count = 0;  // runs (workflow), step outcomes (kind, agent) or calls (model)
  int64_t succeeded = 0;
  int64_t failed = 0;
  int64_t cancelled = 0;
  int64_t other = 0;     // unfinished runs (workflow); skipped steps (kind, agent)
  int64_t attempts = 0;  // step_started (kind, agent)
  int64_t retries = 0;   // retry_scheduled; calls with attempt > 1 (model)
  int64_t model_calls = 0;
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
  double cost_usd = 0;
  Durations durations;
  // Models only.
  std::string provider;
  std::string provider_model;
  int64_t cache_hits = 0;
  int64_t fallbacks = 0;   // calls moved from this model to a fallback
  int64_t rejections = 0;  // of those, because its breaker was open
  int64_t waits = 0;       // calls that waited for its breaker
  int64_t wait_ms = 0;
  std::map<std::string, int64_t> errors;                  // error type -> calls
  std::vector<std::pair<int64_t, Breaker>> observations;  // breaker state after each call

  void AddUsage(const json::object& usage) {
    if (const auto* v = usage.if_contains("input_tokens"); v && v->is_number()) {
      input_tokens += v->to_number<int64_t>();
    }
    if (const auto* v = usage.if_contains("output_tokens"); v && v->is_number()) {
      output_tokens += v->to_number<int64_t>();
    }
    if (const auto* v = usage.if_contains("cost_usd"); v && v->is_number()) {
      cost_usd += v->to_number<double>();
    }
  }
};

json::value Rate(int64_t good, int64_t total) {
  if (total <= 0) return nullptr;
  return static_cast<double>(good) / static_cast<double>(total);
}

json::object Tokens(const Row& r) {
  return json::object{{"input", r.input_tokens}, {"output", r.output_tokens}};
}

// Fields shared by kinds and agents.
json::object StepRowJson(const Row& r) {
  json::object o;
  o["steps"] = r.count;
  o["succeeded"] = r.succeeded;
  o["failed"] = r.failed;
  o["cancelled"] = r.cancelled;
  o["skipped"] = r.other;
  o["success_rate"] = Rate(r.succeeded, r.succeeded + r.failed);
  o["duration_ms"] = r.durations.ToJson();
  o["attempts"] = r.attempts;
  o["retries"] = r.retries;
  o["model_calls"] = r.model_calls;
  o["tokens"] = Tokens(r);
  o["cost_usd"] = r.cost_usd;
  return o;
}

json::object WorkflowRowJson(const Row& r) {
  json::object o;
  o["runs"] = r.count;
  o["succeeded"] = r.succeeded;
  o["failed"] = r.failed;
  o["cancelled"] = r.cancelled;
  o["unfinished"] = r.other;
  o["success_rate"] = Rate(r.succeeded, r.succeeded + r.failed);
  o["duration_ms"] = r.durations.ToJson();
  o["retries"] = r.retries;
  o["model_calls"] = r.model_calls;
  o["tokens"] = Tokens(r);
  o["cost_usd"] = r.cost_usd;
  return o;
}

json::object BreakerJson(const Row& r) {
  std::vector<std::pair<int64_t, Breaker>> seen = r.observations;
  std::stable_sort(seen.begin(), seen.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  int64_t opened = 0;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (seen[i].second == Breaker::kOpen && (i == 0 || seen[i - 1].second != Breaker::kOpen)) {
      ++opened;
    }
  }
  json::object o;
  o["state"] = BreakerName(seen.empty() ? Breaker::kClosed : seen.back().second);
  o["as_of"] =
      seen.empty() ? json::value(nullptr) : json::value(FormatTimestamp(seen.back().first));
  o["opened"] = opened;
  o["rejections"] = r.rejections;
  o["waits"] = r.waits;
  o["wait_ms"] = r.wait_ms;
  return o;
}

json::object ModelRowJson(const Row& r) {
  json::object o;
  o["provider"] = r.provider;
  o["provider_model"] = r.provider_model;
  o["calls"] = r.count;
  o["succeeded"] = r.succeeded;
  o["failed"] = r.failed;
  o["success_rate"] = Rate(r.succeeded, r.succeeded + r.failed);
  o["duration_ms"] = r.durations.ToJson();
  o["retries"] = r.retries;
  o["tokens"] = Tokens(r);
  o["cost_usd"] = r.cost_usd;
  o["cache_hits"] = r.cache_hits;
  o["fallbacks"] = r.fallbacks;
  json::object errors;
  for (const auto& [type, n] : r.errors) errors[type] = n;
  o["errors"] = std::move(errors);
  o["breaker"] = BreakerJson(r);
  return o;
}

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// A model name in an admission note: up to the first space or ':'.
bool PlainName(std::string_view s) {
  return !s.empty() && s.find_first_of(" :()") == std::string_view::npos;
}

const StepInfo kUnknownStep{"unknown", ""};

}  // namespace

StepCatalog CatalogOf(const core::Workflow& workflow) {
  StepCatalog catalog;
  catalog.reserve(workflow.steps.size());
  for (const core::Step& step : workflow.steps) {
    StepInfo info;
    info.kind = core::StepKindName(step.kind);
    if (const auto* a = std::get_if<core::AgentStep>(&step.kind)) info.agent = a->agent;
    catalog.emplace(step.id, std::move(info));
  }
  return catalog;
}

const std::vector<core::EventType>& StatsEventTypes() {
  static const std::vector<core::EventType> kTypes = {
      EventType::kRunStarted,       EventType::kRunFinished,       EventType::kStepStarted,
      EventType::kStepSucceeded,    EventType::kStepFailed,        EventType::kStepSkipped,
      EventType::kStepCancelled,    EventType::kRetryScheduled,    EventType::kFanOut,
      EventType::kModelCalled,      EventType::kToolCalled,        EventType::kBranchStarted,
      EventType::kIterationStarted, EventType::kApprovalRequested, EventType::kWaitStarted,
      EventType::kChildRunStarted,  EventType::kRouteChosen,
  };
  return kTypes;
}

struct StatsBuilder::State {
  std::map<std::string, Row> workflows, kinds, agents, models;
  int64_t runs = 0;
  int64_t events = 0;

  // The run being read.
  Row* workflow = nullptr;
  std::shared_ptr<const StepCatalog> catalog;
  int64_t created_ms = 0;
  int64_t started_ms = -1;
  std::unordered_map<std::string, int64_t> open;  // step -> when its current execution began

  const StepInfo& Info(const std::string& step) const {
    if (catalog) {
      auto it = catalog->find(step);
      if (it != catalog->end()) return it->second;
    }
    return kUnknownStep;
  }

  Row* AgentRow(const StepInfo& info) { return info.agent.empty() ? nullptr : &agents[info.agent]; }

  // The step's execution began at `time_ms` unless it already had.
  void Open(const std::string& step, int64_t time_ms) { open.try_emplace(step, time_ms); }

  // A step-level outcome: counted for its kind (and agent), with its duration.
  void Outcome(const core::Event& e, int64_t Row::*counter) {
    const StepInfo& info = Info(e.step);
    Row* rows[] = {&kinds[info.kind], AgentRow(info)};
    auto it = open.find(e.step);
    int64_t began = it == open.end() ? e.time_ms : it->second;
    if (it != open.end()) open.erase(it);
    for (Row* r : rows) {
      if (!r) continue;
      ++r->count;
      ++(r->*counter);
      if (counter != &Row::other) r->durations.values.push_back(e.time_ms - began);
    }
  }

  // Admission notes ("fallback from a to b: circuit open", "circuit breaker wait on a: 120ms"),
  // in a model_called event's `notes` or appended to its error message.
  void ReadNotes(std::string_view text) {
    constexpr std::string_view kFallback = "fallback from ";
    for (size_t pos = text.find(kFallback); pos != std::string_view::npos;
         pos = text.find(kFallback, pos)) {
      pos += kFallback.size();
      size_t to = text.find(" to ", pos);
      if (to == std::string_view::npos) break;
      std::string_view from = text.substr(pos, to - pos);
      size_t colon = text.find(": ", to + 4);
      if (colon == std::string_view::npos) break;
      if (!PlainName(from) || !PlainName(text.substr(to + 4, colon - to - 4))) continue;
      Row& m = models[std::string(from)];
      ++m.fallbacks;
      if (text.substr(colon + 2).starts_with("circuit open")) ++m.rejections;
      pos = colon;
    }
    constexpr std::string_view kWait = "circuit breaker wait on ";
    for (size_t pos = text.find(kWait); pos != std::string_view::npos;
         pos = text.find(kWait, pos)) {
      pos += kWait.size();
      size_t colon = text.find(": ", pos);
      if (colon == std::string_view::npos) break;
      std::string_view name = text.substr(pos, colon - pos);
      if (!PlainName(name)) continue;
      int64_t ms = 0;
      for (size_t i = colon + 2;
           i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
        ms = ms * 10 + (text[i] - '0');
      }
      Row& m = models[std::string(name)];
      ++m.waits;
      m.wait_ms += ms;
      pos = colon;
    }
  }

  void ModelCalled(const core::Event& e) {
    const StepInfo& info = Info(e.step);
    std::string_view name = StringField(e.data, "model");
    Row& m = models[std::string(name.empty() ? "unknown" : name)];
    if (m.provider.empty()) m.provider = StringField(e.data, "provider");
    if (m.provider_model.empty()) m.provider_model = StringField(e.data, "provider_model");
    ++m.count;
    if (e.attempt > 1) ++m.retries;
    if (const auto* d = e.data.if_contains("duration_ms"); d && d->is_number()) {
      m.durations.values.push_back(d->to_number<int64_t>());
    }
    if (const auto* err = e.data.if_contains("error"); err && err->is_object()) {
      ++m.failed;
      std::string_view type = StringField(err->get_object(), "type");
      ++m.errors[std::string(type.empty() ? "unknown" : type)];
      ReadNotes(StringField(err->get_object(), "message"));
    } else {
      ++m.succeeded;
    }
    if (const auto* c = e.data.if_contains("cache_hit"); c && c->is_bool() && c->get_bool()) {
      ++m.cache_hits;
    }
    if (const auto* notes = e.data.if_contains("notes"); notes && notes->is_array()) {
      for (const auto& n : notes->get_array()) {
        if (n.is_string()) ReadNotes(n.get_string());
      }
    }
    std::string_view breaker = StringField(e.data, "breaker");
    m.observations.emplace_back(e.time_ms, breaker == "open"        ? Breaker::kOpen
                                           : breaker == "half_open" ? Breaker::kHalfOpen
                                                                    : Breaker::kClosed);
    std::string_view agent = StringField(e.data, "agent");
    Row* agent_row = agent.empty() ? AgentRow(info) : &agents[std::string(agent)];
    const auto* usage = e.data.if_contains("usage");
    for (Row* r : {&m, workflow, &kinds[info.kind], agent_row}) {
      if (!r) continue;
      if (r != &m) ++r->model_calls;
      if (usage && usage->is_object()) r->AddUsage(usage->get_object());
    }
  }
};

StatsBuilder::StatsBuilder() : state_(std::make_unique<State>()) {}
StatsBuilder::~StatsBuilder() = default;

void StatsBuilder::AddRun(const store::RunRecord& run, core::RunStatus status,
                          std::shared_ptr<const StepCatalog> steps) {
  State& s = *state_;
  ++s.runs;
  s.workflow = &s.workflows[run.workflow_name];
  s.catalog = std::move(steps);
  s.created_ms = run.created_ms;
  s.started_ms = -1;
  s.open.clear();
  Row& w = *s.workflow;
  ++w.count;
  switch (status) {
    case core::RunStatus::kSucceeded:
      ++w.succeeded;
      break;
    case core::RunStatus::kFailed:
    case core::RunStatus::kCompensated:
    case core::RunStatus::kCompensationFailed:
      ++w.failed;
      break;
    case core::RunStatus::kCancelled:
      ++w.cancelled;
      break;
    default:
      ++w.other;
  }
}

void StatsBuilder::AddEvent(const core::Event& e) {
  State& s = *state_;
  if (!s.workflow) return;  // no run yet
  ++s.events;
  switch (e.type) {
    case EventType::kRunStarted:
      s.started_ms = e.time_ms;
      return;
    case EventType::kRunFinished:
      s.workflow->durations.values.push_back(e.time_ms -
                                             (s.started_ms >= 0 ? s.started_ms : s.created_ms));
      return;
    default:
      break;
  }
  if (e.step.empty()) return;
  const StepInfo& info = s.Info(e.step);
  switch (e.type) {
    case EventType::kStepSucceeded:
      if (e.item < 0) s.Outcome(e, &Row::succeeded);
      break;
    case EventType::kStepFailed:
      if (e.item < 0) s.Outcome(e, &Row::failed);
      break;
    case EventType::kStepCancelled:
      if (e.item < 0) s.Outcome(e, &Row::cancelled);
      break;
    case EventType::kStepSkipped:
      s.Outcome(e, &Row::other);
      break;
    case EventType::kRetryScheduled: {
      if (e.data.contains("paused")) break;  // parked by a paused run: not a retry
      for (Row* r : {s.workflow, &s.kinds[info.kind], s.AgentRow(info)}) {
        if (r) ++r->retries;
      }
      break;
    }
    case EventType::kStepStarted:
      s.Open(e.step, e.time_ms);
      for (Row* r : {&s.kinds[info.kind], s.AgentRow(info)}) {
        if (r) ++r->attempts;
      }
      break;
    case EventType::kModelCalled:
      s.Open(e.step, e.time_ms);
      s.ModelCalled(e);
      break;
    case EventType::kToolCalled:
      s.Open(e.step, e.time_ms);
      if (const auto* u = e.data.if_contains("usage"); u && u->is_object()) {
        s.workflow->AddUsage(u->get_object());
        s.kinds[info.kind].AddUsage(u->get_object());
      }
      break;
    default:  // fan_out, branch_started, iteration_started, approval_requested, ...
      s.Open(e.step, e.time_ms);
  }
}

json::object StatsBuilder::Result() const {
  const State& s = *state_;
  json::object out;
  out["runs"] = s.runs;
  out["events"] = s.events;
  json::array workflows, kinds, agents, models;
  for (const auto& [name, row] : s.workflows) {
    json::object o{{"name", name}};
    for (auto& kv : WorkflowRowJson(row)) o.emplace(kv.key(), std::move(kv.value()));
    workflows.push_back(std::move(o));
  }
  for (const auto& [name, row] : s.kinds) {
    json::object o{{"kind", name}};
    for (auto& kv : StepRowJson(row)) o.emplace(kv.key(), std::move(kv.value()));
    kinds.push_back(std::move(o));
  }
  for (const auto& [name, row] : s.agents) {
    json::object o{{"name", name}};
    for (auto& kv : StepRowJson(row)) o.emplace(kv.key(), std::move(kv.value()));
    agents.push_back(std::move(o));
  }
  for (const auto& [name, row] : s.models) {
    json::object o{{"name", name}};
    for (auto& kv : ModelRowJson(row)) o.emplace(kv.key(), std::move(kv.value()));
    models.push_back(std::move(o));
  }
  out["workflows"] = std::move(workflows);
  out["patterns"] = std::move(kinds);
  out["agents"] = std::move(agents);
  out["models"] = std::move(models);
  return out;
}

Result<json::object> ComputeStats(store::Store& store, const StatsQuery& query,
                                  const dsl::LoadOptions& options) {
  StatsBuilder builder;
  // One catalog per workflow source: most runs share a few.
  std::unordered_map<std::string, std::shared_ptr<const StepCatalog>> catalogs;
  store::ScanFilter filter;
  filter.created_since_ms = query.since_ms;
  filter.workflow_name = query.workflow;
  filter.types = StatsEventTypes();
  store::ScanVisitor visitor;
  visitor.run = [&](const store::RunRecord& run) {
    std::string key =
        run.workflow_blob.empty() ? "file:" + run.workflow_file : "blob:" + run.workflow_blob;
    auto it = catalogs.find(key);
    if (it == catalogs.end()) {
      std::shared_ptr<const StepCatalog> catalog;
      auto workflow = LoadRunWorkflow(store, run, options);
      if (workflow.ok()) catalog = std::make_shared<const StepCatalog>(CatalogOf(**workflow));
      it = catalogs.emplace(std::move(key), std::move(catalog)).first;
    }
    builder.AddRun(run, EffectiveStatus(run), it->second);
    return Status::Ok();
  };
  visitor.event = [&](const core::Event& e) {
    builder.AddEvent(e);
    return Status::Ok();
  };
  BATON_RETURN_IF_ERROR(store.ScanRuns(filter, visitor));
  json::object out = builder.Result();
  if (query.since_ms > 0) out["since"] = FormatTimestamp(query.since_ms);
  if (!query.workflow.empty()) out["workflow"] = query.workflow;
  return out;
}

Result<int64_t> ParseSince(std::string_view text, int64_t now_ms) {
  if (text.empty()) return InvalidArgument("--since: empty");
  if (text.find('-') == std::string_view::npos) {
    auto d = ParseDuration(text);
    if (!d.ok()) {
      return InvalidArgument("--since '" + std::string(text) +
                             "': expected a duration (24h, 7d) or a date (2025-01-31)");
    }
    return now_ms - d->count();
  }
  // YYYY-MM-DD, then optionally [T ]HH:MM[:SS][.fff], then optionally Z (UTC either way).
  std::string s(text);
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) s.pop_back();
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  char sep = 0;
  int n = 0;
  int fields = std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &month, &day, &n);
  bool ok = fields == 3 && n == 10;
  if (ok && static_cast<size_t>(n) < s.size()) {
    int m = 0;
    sep = s[static_cast<size_t>(n)];
    ok = (sep == 'T' || sep == 't' || sep == ' ') &&
         std::sscanf(s.c_str() + n + 1, "%2d:%2d%n", &hour, &minute, &m) == 2 && m == 5;
    size_t rest = static_cast<size_t>(n) + 1 + static_cast<size_t>(m);
    if (ok && rest < s.size()) {
      int k = 0;
      ok = std::sscanf(s.c_str() + rest, ":%2d%n", &second, &k) == 1 && k == 3;
      rest += static_cast<size_t>(k);
      if (ok && rest < s.size()) {
        ok = s[rest] == '.' && rest + 4 == s.size() &&
             std::sscanf(s.c_str() + rest + 1, "%3d", &millis) == 1;
      }
    }
  }
  ok = ok && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour <= 23 && minute <= 59 &&
       second <= 60 && hour >= 0 && minute >= 0 && second >= 0 && millis >= 0;
  if (!ok) {
    return InvalidArgument("--since '" + std::string(text) +
                           "': expected a duration (24h, 7d) or a UTC date or time "
                           "(2025-01-31, 2025-01-31T12:00:00Z)");
  }
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return static_cast<int64_t>(timegm(&tm)) * 1000 + millis;
}

}  // namespace baton::app
