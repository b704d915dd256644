// Engine benchmarks (DESIGN §7). Each figure is measured in one run of this program beside a
// baseline measured in the same run; tables print absolute numbers and ratios. Timings are never
// asserted: the program fails only when a run does not produce the expected result.
//
//   baton_bench [--quick] [--only=chain|fanout|durable|concurrent]
//
// --quick: smaller sizes and one repetition (a smoke test, or a profile under callgrind);
// --only: one section.

#include <fmt/format.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/json.hpp"
#include "bench_util.hpp"
#include "core/decider.hpp"
#include "core/run_state.hpp"
#include "dsl/loader.hpp"
#include "expr/expr.hpp"
#include "providers/registry.hpp"
#include "runtime/engine.hpp"
#include "store/store.hpp"
#include "tools/tool.hpp"

namespace baton::bench {
namespace {

using Workflow = std::shared_ptr<const core::Workflow>;

bool g_quick = false;
std::string g_only;  // run only this section ("" = all): chain, fanout, durable, concurrent

// Repetitions: short measurements are repeated and the median is reported.
int Reps(int full) { return g_quick ? 1 : full; }

// --- Setup ----------------------------------------------------------------------------------

struct Registries {
  providers::ModelRegistry models;
  tools::ToolRegistry tools;
  std::atomic<int64_t> tool_calls{0};

  Registries() {
    auto noop = std::make_unique<tools::FunctionTool>("noop", [this](const json::value&) {
      tool_calls.fetch_add(1, std::memory_order_relaxed);
      return Result<json::value>(json::value(json::object{}));
    });
    if (!tools.Register(std::move(noop)).ok()) Die("cannot register the noop tool");
  }
};

Workflow Load(const std::string& yaml) {
  dsl::LoadOptions opts;
  opts.host_tools = {"noop"};
  dsl::LoadResult r = dsl::LoadWorkflowText(yaml, "bench.yaml", opts);
  if (!r.workflow) {
    std::string msg = "generated workflow does not load:";
    for (const auto& d : r.diagnostics) msg += "\n  " + d.message;
    Die(msg);
  }
  return r.workflow;
}

// A store with its temporary directory (removed when this goes away).
struct Backend {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<store::Store> store;
};

Backend Open(StoreKind kind) {
  Backend b;
  if (kind == StoreKind::kMemory) {
    b.store = store::NewMemoryStore();
    return b;
  }
  b.dir = std::make_unique<TempDir>("baton-bench");
  store::SqliteOptions o;
  o.synchronous_full = kind == StoreKind::kSqliteFull;
  auto s = store::OpenSqliteStore(b.dir->path() + "/journal.db", o);
  if (!s.ok()) Die("cannot open SQLite store: " + s.error().message());
  b.store = std::move(s).value();
  return b;
}

runtime::EngineOptions DefaultEngineOptions() {
  runtime::EngineOptions o;
  o.threads = 1;
  return o;
}

// Starts a run and waits for it; dies unless it succeeds. Returns its outputs.
json::value RunOne(runtime::Engine& engine, const Workflow& wf, json::object inputs = {}) {
  runtime::RunOptions ro;
  ro.inputs = std::move(inputs);
  auto id = engine.Start(wf, std::move(ro));
  if (!id.ok()) Die("Start failed: " + id.error().message());
  auto r = engine.Wait(*id);
  if (!r.ok()) Die("Wait failed: " + r.error().message());
  if (r->status != core::RunStatus::kSucceeded) {
    Die("run did not succeed: " + ToJson(r->summary()));
  }
  return r->outputs();
}

void ExpectInt(const json::value& outputs, const char* key, int64_t want) {
  const auto* v = outputs.is_object() ? outputs.get_object().if_contains(key) : nullptr;
  if (!v || !v->is_int64() || v->get_int64() != want) {
    Die(fmt::format("output {} = {}, want {}", key, v ? ToJson(*v) : "missing", want));
  }
}

std::string Ratio(double x, double base) {
  if (base <= 0) return "";
  double r = x / base;
  return r < 10 ? fmt::format("{:.2f}×", r) : fmt::format("{:.0f}×", r);
}
std::string PerStep(double s, int n) { return FormatSeconds(s / n); }

// --- 1. Chain of set steps ------------------------------------------------------------------

std::string ChainYaml(int n) {
  std::string y = "baton: 1\nname: chain\nsteps:\n  - id: s0\n    set: { v: 0 }\n";
  for (int i = 1; i < n; ++i) {
    y += "  - id: s" + std::to_string(i) + "\n    set: { v: \"${{ steps.s" + std::to_string(i - 1) +
         ".output.v + 1 }}\" }\n";
  }
  y += "outputs:\n  last: ${{ steps.s" + std::to_string(n - 1) + ".output.v }}\n";
  return y;
}

// The baseline: the same JSON work without the engine. Evaluates the same expressions against a
// {steps: {sN: {output: {v}, status}}} context and stores each result there.
struct ChainBaseline {
  std::vector<std::string> ids;
  std::vector<expr::Expression> exprs;

  explicit ChainBaseline(int n) {
    for (int i = 0; i < n; ++i) {
      ids.push_back("s" + std::to_string(i));
      if (i == 0) {
        exprs.emplace_back();
        continue;
      }
      auto e = expr::Expression::Parse("steps.s" + std::to_string(i - 1) + ".output.v + 1");
      if (!e.ok()) Die("baseline expression does not parse");
      exprs.push_back(*e);
    }
  }

  int64_t Run() const {
    json::object ctx;
    ctx["steps"] = json::object();
    json::object& steps = ctx["steps"].get_object();
    steps[ids[0]] = json::object{{"output", json::object{{"v", 0}}}, {"status", "succeeded"}};
    expr::ObjectEnv env(ctx);
    json::value last;
    for (size_t i = 1; i < ids.size(); ++i) {
      auto v = exprs[i].Evaluate(env);
      if (!v.ok()) Die("baseline evaluation failed: " + v.error().message());
      last = *v;
      steps[ids[i]] = json::object{{"output", json::object{{"v", std::move(v).value()}}},
                                   {"status", "succeeded"}};
    }
    return last.as_int64();
  }
};

// The pure decider alone: fold run_started and decide the whole cascade (no engine, no store).
void RunDeciderOnly(const Workflow& wf, int n) {
  core::RunState state(wf, "bench-run");
  core::Event started = core::RunStartedEvent({}, {}, "", false, 1);
  state.Apply(started);
  core::Decision d;
  core::Decider::Advance(state, 1, d);
  if (!d.finished || state.status() != core::RunStatus::kSucceeded) Die("decider did not finish");
  ExpectInt(state.outputs(), "last", n - 1);
}

void BenchChain(Registries& reg) {
  Table t({"N", "what", "median total", "per step", "× baseline", "per step 10k / 1k"});
  struct Row {
    std::string what;
    double s1k = 0;
  };
  std::vector<Row> first;  // per-row 1k results, for the flatness column
  for (int n : {1000, 10000}) {
    if (g_quick && n > 1000) break;
    int reps = Reps(n >= 10000 ? 3 : 7);
    Workflow wf = Load(ChainYaml(n));
    ChainBaseline base(n);
    if (base.Run() != n - 1) Die("baseline computed the wrong value");
    double b = Median(Repeat(reps, [&] { base.Run(); }));
    std::vector<std::pair<std::string, double>> rows;
    rows.emplace_back("baseline: plain expr loop", b);
    rows.emplace_back("decider only (RunState + Advance)",
                      Median(Repeat(reps, [&] { RunDeciderOnly(wf, n); })));
    for (StoreKind k : {StoreKind::kMemory, StoreKind::kSqliteNormal, StoreKind::kSqliteFull}) {
      Backend be = Open(k);
      runtime::Engine engine(*be.store, reg.models, reg.tools, DefaultEngineOptions());
      ExpectInt(RunOne(engine, wf), "last", n - 1);  // warm-up and check
      rows.emplace_back(fmt::format("engine Start→Wait, {}", StoreName(k)),
                        Median(Repeat(reps, [&] { RunOne(engine, wf); })));
      if (k == StoreKind::kMemory) {
        // What `runs show` costs: reading the events back, folding and summarizing them.
        auto id = engine.Start(wf, {});
        if (!id.ok()) Die("Start failed");
        if (!engine.Wait(*id).ok()) Die("Wait failed");
        double s = Median(Repeat(reps, [&] {
          auto events = be.store->ReadEvents(*id);
          if (!events.ok()) Die("ReadEvents failed");
          runtime::SummarizeRun(*wf, *id, *events);
        }));
        rows.emplace_back("ReadEvents + SummarizeRun afterwards (memory)", s);
      }
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const auto& [what, s] = rows[i];
      std::string flat;
      if (n == 1000) {
        first.push_back({what, s / n});
      } else if (i < first.size()) {
        flat = fmt::format("{:.2f}", (s / n) / first[i].s1k);
      }
      t.Add({std::to_string(n), what, FormatSeconds(s), PerStep(s, n), Ratio(s, b), flat});
    }
  }
  t.Print("1. Chain of N `set` steps (each reads the previous through an expression)");
}

// --- 2. Fan-out -----------------------------------------------------------------------------

std::string FanSetYaml() {
  return "baton: 1\nname: fan-set\ninputs:\n  items: { type: array }\nsteps:\n"
         "  - id: fan\n    for_each: ${{ inputs.items }}\n    set: { v: \"${{ item + 1 }}\" }\n"
         "outputs:\n  n: ${{ size(steps.fan.output) }}\n";
}

std::string FanCallYaml() {
  return "baton: 1\nname: fan-call\ninputs:\n  items: { type: array }\nsteps:\n"
         "  - id: fan\n    for_each: ${{ inputs.items }}\n    call: noop\n"
         "    with: { x: \"${{ item }}\" }\n"
         "outputs:\n  n: ${{ size(steps.fan.output) }}\n";
}

json::object ItemsInput(int n) {
  json::array items;
  items.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) items.push_back(i);
  return json::object{{"items", std::move(items)}};
}

void BenchFanOut(Registries& reg) {
  Table t({"N", "body", "what", "median total", "per item", "× baseline"});
  Workflow set_wf = Load(FanSetYaml());
  Workflow call_wf = Load(FanCallYaml());
  auto item_expr = expr::Expression::Parse("item + 1");
  if (!item_expr.ok()) Die("baseline expression does not parse");
  tools::Tool* noop = reg.tools.Find("noop");
  auto* fn_tool = dynamic_cast<tools::FunctionTool*>(noop);
  if (!fn_tool) Die("noop is not a FunctionTool");
  for (int n : {1000, 10000}) {
    if (g_quick && n > 1000) break;
    int reps = Reps(n >= 10000 ? 3 : 5);
    json::object inputs = ItemsInput(n);
    const json::array& items = inputs["items"].get_array();
    // Baseline (both bodies): evaluate the body's expression per item, collect the array.
    double b = Median(Repeat(reps, [&] {
      json::array out;
      out.reserve(items.size());
      json::object ctx;
      expr::ObjectEnv env(ctx);
      for (const auto& it : items) {
        ctx["item"] = it;
        auto v = item_expr->Evaluate(env);
        if (!v.ok()) Die("baseline evaluation failed");
        out.push_back(json::object{{"v", std::move(v).value()}});
      }
    }));
    t.Add({std::to_string(n), "—", "baseline: plain expr loop", FormatSeconds(b), PerStep(b, n),
           "1.0×"});
    for (const auto& [body, wf] : {std::pair{"set", set_wf}, std::pair{"call noop", call_wf}}) {
      for (StoreKind k : {StoreKind::kMemory, StoreKind::kSqliteNormal, StoreKind::kSqliteFull}) {
        Backend be = Open(k);
        runtime::Engine engine(*be.store, reg.models, reg.tools, DefaultEngineOptions());
        int64_t calls0 = reg.tool_calls.load();
        ExpectInt(RunOne(engine, wf, inputs), "n", n);
        if (std::strcmp(body, "call noop") == 0 && reg.tool_calls.load() - calls0 != n) {
          Die("the noop tool was not called once per item");
        }
        double s = Median(Repeat(reps, [&] { RunOne(engine, wf, inputs); }));
        t.Add({std::to_string(n), body, fmt::format("engine, {}", StoreName(k)), FormatSeconds(s),
               PerStep(s, n), Ratio(s, b)});
      }
    }
  }
  t.Print("2. Fan-out: for_each over N items (all items in flight; global max_concurrency 64)");
}

// --- 3. Durable sequential steps ------------------------------------------------------------

std::string CallChainYaml(int n) {
  std::string y = "baton: 1\nname: call-chain\nsteps:\n";
  for (int i = 0; i < n; ++i) y += "  - id: c" + std::to_string(i) + "\n    call: noop\n";
  y += "outputs:\n  n: ${{ size(steps.c" + std::to_string(n - 1) + ".output) }}\n";
  return y;
}

// Returns the flush floor (seconds per append+fdatasync) measured beside the SQLite runs.
double BenchDurable(Registries& reg) {
  Table t({"what", "steps", "median total", "per step", "× flush (append)", "× flush (overwrite)"});
  TempDir floor_dir("baton-bench-floor");
  int floor_n = g_quick ? 200 : 2000;
  double floor = FlushFloorSeconds(floor_dir.path(), floor_n, 200, false);
  double floor_ow = FlushFloorSeconds(floor_dir.path(), floor_n, 200, true);
  t.Add({"flush floor: 200 B append + fdatasync (same fs as the journals)", std::to_string(floor_n),
         FormatSeconds(floor * floor_n), FormatSeconds(floor), "1.00×", Ratio(floor, floor_ow)});
  t.Add({"flush floor: 200 B overwrite in place + fdatasync", std::to_string(floor_n),
         FormatSeconds(floor_ow * floor_n), FormatSeconds(floor_ow), Ratio(floor_ow, floor),
         "1.00×"});
  struct Config {
    StoreKind kind;
    int n;
  };
  // FULL pays one flush per step: size it from the floor so it stays near a second.
  int full_n = std::clamp(static_cast<int>(0.5 / std::max(floor, 1e-6)), 100, 2000);
  std::vector<Config> configs = {{StoreKind::kMemory, 2000},
                                 {StoreKind::kSqliteNormal, 2000},
                                 {StoreKind::kSqliteFull, full_n}};
  for (const auto& c : configs) {
    int n = g_quick ? std::min(c.n, 200) : c.n;
    Workflow wf = Load(CallChainYaml(n));
    Backend be = Open(c.kind);
    runtime::Engine engine(*be.store, reg.models, reg.tools, DefaultEngineOptions());
    ExpectInt(RunOne(engine, wf), "n", 0);
    double s = Median(Repeat(Reps(3), [&] { RunOne(engine, wf); }));
    t.Add({fmt::format("chain of `call: noop`, {}", StoreName(c.kind)), std::to_string(n),
           FormatSeconds(s), PerStep(s, n), Ratio(s / n, floor), Ratio(s / n, floor_ow)});
  }
  t.Print("3. Durable sequential steps (each completion journaled before the next step starts)");
  return floor;
}

// --- 4. Concurrent runs ---------------------------------------------------------------------

std::string ThreeSetYaml() {
  return "baton: 1\nname: three-set\nsteps:\n"
         "  - id: a\n    set: { v: 1 }\n"
         "  - id: b\n    set: { v: \"${{ steps.a.output.v + 1 }}\" }\n"
         "  - id: c\n    set: { v: \"${{ steps.b.output.v + 1 }}\" }\n"
         "outputs:\n  n: ${{ steps.c.output.v }}\n";
}

std::string ThreeCallYaml() { return CallChainYaml(3); }

struct ConcurrentResult {
  double seconds = 0;
  int64_t heap_started = 0;  // heap in use right after the last Start minus before the first
  int64_t heap_after = 0;    // heap in use after every Wait minus before (what stays: journal)
  int64_t rss_growth = 0;    // RSS after every Wait minus before
};

// Starts `runs` runs of `wf` then waits for all of them.
ConcurrentResult RunConcurrent(runtime::Engine& engine, const Workflow& wf, int runs,
                               int64_t want_n) {
  ConcurrentResult r;
  std::vector<std::string> ids;
  ids.reserve(static_cast<size_t>(runs));
  int64_t rss0 = RssBytes();
  int64_t heap0 = HeapInUseBytes();
  auto t0 = BenchClock::now();
  for (int i = 0; i < runs; ++i) {
    auto id = engine.Start(wf, {});
    if (!id.ok()) Die("Start failed: " + id.error().message());
    ids.push_back(std::move(id).value());
  }
  r.heap_started = HeapInUseBytes() - heap0;
  for (const auto& id : ids) {
    auto res = engine.Wait(id);
    if (!res.ok() || res->status != core::RunStatus::kSucceeded) Die("concurrent run failed");
    ExpectInt(res->outputs(), "n", want_n);
  }
  r.seconds = SecondsSince(t0);
  r.heap_after = HeapInUseBytes() - heap0;
  r.rss_growth = RssBytes() - rss0;
  return r;
}

void BenchConcurrent(Registries& reg) {
  Table t({"what", "runs × steps", "wall (median)", "per run", "× baseline", "heap after starts",
           "heap after waits", "RSS growth"});
  int runs = g_quick ? 100 : 1000;
  // Baseline: the plain JSON work of all runs (3 evaluations + stores each), sequentially.
  ChainBaseline base(3);
  double b = Median(Repeat(Reps(5), [&] {
    for (int i = 0; i < runs; ++i) base.Run();
  }));
  t.Add({"baseline: plain expr loop (3 steps per run)", fmt::format("{} × 3", runs),
         FormatSeconds(b), FormatSeconds(b / runs), "1.0×", "", "", ""});
  Workflow set_wf = Load(ThreeSetYaml());
  Workflow call_wf = Load(ThreeCallYaml());
  for (const auto& [body, wf, want] :
       {std::tuple{"set", set_wf, int64_t{3}}, std::tuple{"call noop", call_wf, int64_t{0}}}) {
    for (StoreKind k : {StoreKind::kMemory, StoreKind::kSqliteNormal, StoreKind::kSqliteFull}) {
      Backend be = Open(k);
      runtime::Engine engine(*be.store, reg.models, reg.tools, DefaultEngineOptions());
      RunConcurrent(engine, wf, std::min(runs, 50), want);  // warm-up
      std::vector<double> secs;
      ConcurrentResult first;
      for (int rep = 0; rep < Reps(3); ++rep) {
        ConcurrentResult r = RunConcurrent(engine, wf, runs, want);
        if (rep == 0) first = r;
        secs.push_back(r.seconds);
      }
      double s = Median(secs);
      t.Add({fmt::format("engine, {} steps, {}", body, StoreName(k)), fmt::format("{} × 3", runs),
             FormatSeconds(s), FormatSeconds(s / runs), Ratio(s, b), FormatMiB(first.heap_started),
             FormatMiB(first.heap_after), FormatMiB(first.rss_growth)});
    }
  }
  t.Print(
      "4a. Concurrent runs: start all, then wait all (memory: first repetition; heap = glibc "
      "mallinfo2 bytes in use, RSS from /proc/self/statm)");

  // Durable steps per second across many concurrent runs of dispatched tool steps.
  Table t2({"what", "runs × steps", "wall (median)", "durable steps/s", "engine threads"});
  int tp_runs = g_quick ? 50 : 200;
  int tp_steps = g_quick ? 10 : 50;
  Workflow chain = Load(CallChainYaml(tp_steps));
  for (StoreKind k : {StoreKind::kMemory, StoreKind::kSqliteNormal, StoreKind::kSqliteFull}) {
    for (int threads : {1, 2}) {
      Backend be = Open(k);
      runtime::EngineOptions eo = DefaultEngineOptions();
      eo.threads = threads;
      runtime::Engine engine(*be.store, reg.models, reg.tools, eo);
      RunConcurrent(engine, chain, 10, 0);  // warm-up
      std::vector<double> secs;
      for (int rep = 0; rep < Reps(3); ++rep) {
        secs.push_back(RunConcurrent(engine, chain, tp_runs, 0).seconds);
      }
      double s = Median(secs);
      double steps = static_cast<double>(tp_runs) * tp_steps;
      t2.Add({fmt::format("`call: noop` chains, {}", StoreName(k)),
              fmt::format("{} × {}", tp_runs, tp_steps), FormatSeconds(s),
              fmt::format("{:.0f}", steps / s), std::to_string(threads)});
    }
  }
  t2.Print("4b. Durable step throughput across concurrent runs (group commit)");
}

}  // namespace
}  // namespace baton::bench

int main(int argc, char** argv) {
  using namespace baton::bench;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      g_quick = true;
    } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
      g_only = argv[i] + 7;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--only=chain|fanout|durable|concurrent]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("baton engine benchmarks%s — %u hardware threads\n", g_quick ? " (quick)" : "",
              std::thread::hardware_concurrency());
  std::printf(
      "Timings: median of the repetitions; ratios against the baseline of the same table.\n");
  Registries reg;
  auto t0 = BenchClock::now();
  auto wanted = [](const char* name) { return g_only.empty() || g_only == name; };
  if (wanted("chain")) BenchChain(reg);
  if (wanted("fanout")) BenchFanOut(reg);
  if (wanted("durable")) BenchDurable(reg);
  if (wanted("concurrent")) BenchConcurrent(reg);
  std::printf("\n### 5. Process\n\npeak RSS (getrusage): %s; RSS now: %s; total time %.1f s\n",
              FormatMiB(PeakRssBytes()).c_str(), FormatMiB(RssBytes()).c_str(), SecondsSince(t0));
  return 0;
}
