// `baton stats`: figures over the journal per workflow, pattern, agent and model.

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <vector>

#include "app/app.hpp"
#include "app/stats.hpp"
#include "base/clock.hpp"
#include "cli/cli.hpp"
#include "cli/render.hpp"

namespace baton::cli {
namespace {

void PrintErr(const std::string& s) { std::fprintf(stderr, "%s\n", s.c_str()); }
void PrintOut(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

int64_t Int(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<int64_t>() : 0;
}

double Number(const json::value* v) { return v && v->is_number() ? v->to_number<double>() : 0; }

// A table: the first column left-aligned, the last `left_tail` columns left-aligned, the rest
// right-aligned, two spaces apart.
std::string Table(const std::vector<std::vector<std::string>>& rows, size_t left_tail = 0) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      bool left = i == 0 || i + left_tail >= row.size();
      if (i > 0) line += "  ";
      line +=
          left ? fmt::format("{:<{}}", row[i], width[i]) : fmt::format("{:>{}}", row[i], width[i]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string Percent(const json::value* rate) {
  if (!rate || !rate->is_number()) return "-";
  return fmt::format("{:.0f}%", rate->to_number<double>() * 100);
}

// MIN, AVG, P95, MAX
std::vector<std::string> DurationCells(const json::value* d) {
  if (!d || !d->is_object()) return {"-", "-", "-", "-"};
  const json::object& o = d->get_object();
  auto avg = static_cast<int64_t>(Number(o.if_contains("avg")) + 0.5);
  return {Elapsed(Int(o, "min")), Elapsed(avg), Elapsed(Int(o, "p95")), Elapsed(Int(o, "max"))};
}

// The columns every section shares, after the name and the count.
void AddCommonCells(const json::object& row, std::vector<std::string>& cells, bool calls) {
  cells.push_back(Thousands(Int(row, "succeeded")));
  cells.push_back(Thousands(Int(row, "failed")));
  cells.push_back(Percent(row.if_contains("success_rate")));
  for (auto& c : DurationCells(row.if_contains("duration_ms"))) cells.push_back(std::move(c));
  cells.push_back(Thousands(Int(row, "retries")));
  if (calls) cells.push_back(Thousands(Int(row, "model_calls")));
  const json::value* tokens = row.if_contains("tokens");
  const json::object empty;
  const json::object& t = tokens && tokens->is_object() ? tokens->get_object() : empty;
  cells.push_back(Thousands(Int(t, "input")));
  cells.push_back(Thousands(Int(t, "output")));
  cells.push_back(Money(Number(row.if_contains("cost_usd"))));
}

std::string Section(const json::object& stats, std::string_view key, std::string_view title,
                    std::string_view name_key, std::string_view count_key,
                    std::string_view count_title) {
  const json::value* rows = stats.if_contains(key);
  if (!rows || !rows->is_array() || rows->get_array().empty()) return "";
  std::vector<std::vector<std::string>> table;
  table.push_back({std::string(title), std::string(count_title), "OK", "FAILED", "SUCCESS", "MIN",
                   "AVG", "P95", "MAX", "RETRIES", "CALLS", "TOKENS IN", "TOKENS OUT", "COST"});
  for (const auto& v : rows->get_array()) {
    const json::object& row = v.get_object();
    std::vector<std::string> cells{std::string(row.at(name_key).get_string()),
                                   Thousands(Int(row, count_key))};
    AddCommonCells(row, cells, true);
    table.push_back(std::move(cells));
  }
  return Table(table);
}

std::string BreakerCell(const json::object& row) {
  const json::value* b = row.if_contains("breaker");
  if (!b || !b->is_object()) return "-";
  const json::object& o = b->get_object();
  std::string state(o.at("state").get_string());
  std::vector<std::string> parts;
  if (int64_t n = Int(o, "opened")) parts.push_back(fmt::format("opened {}x", n));
  if (int64_t n = Int(o, "rejections")) parts.push_back(fmt::format("{} rejected", n));
  if (int64_t n = Int(o, "waits")) {
    parts.push_back(fmt::format("{} waited {}", n, Elapsed(Int(o, "wait_ms"))));
  }
  if (parts.empty()) return state;
  return fmt::format("{} ({})", state, fmt::join(parts, ", "));
}

std::string ModelSection(const json::object& stats) {
  const json::value* rows = stats.if_contains("models");
  if (!rows || !rows->is_array() || rows->get_array().empty()) return "";
  std::vector<std::vector<std::string>> table;
  table.push_back({"MODEL", "CALLS", "OK", "FAILED", "SUCCESS", "MIN", "AVG", "P95", "MAX",
                   "RETRIES", "TOKENS IN", "TOKENS OUT", "COST", "FALLBACKS", "BREAKER"});
  for (const auto& v : rows->get_array()) {
    const json::object& row = v.get_object();
    std::string name(row.at("name").get_string());
    if (const auto* pm = row.if_contains("provider_model");
        pm && pm->is_string() && !pm->get_string().empty()) {
      name += fmt::format(" ({}/{})", row.at("provider").get_string(), pm->get_string());
    }
    std::vector<std::string> cells{std::move(name), Thousands(Int(row, "calls"))};
    AddCommonCells(row, cells, false);
    cells.push_back(Thousands(Int(row, "fallbacks")));
    cells.push_back(BreakerCell(row));
    table.push_back(std::move(cells));
  }
  return Table(table, 1);
}

std::string RenderStats(const json::object& stats) {
  std::string out;
  int64_t runs = Int(stats, "runs");
  std::string scope;
  if (const auto* w = stats.if_contains("workflow"); w && w->is_string()) {
    scope += fmt::format(" of workflow {}", w->get_string());
  }
  if (const auto* s = stats.if_contains("since"); s && s->is_string()) {
    scope += fmt::format(" since {}", s->get_string());
  }
  if (runs == 0) return fmt::format("no runs{}\n", scope);
  out += fmt::format("{} run{}{}, {} events\n", Thousands(runs), runs == 1 ? "" : "s", scope,
                     Thousands(Int(stats, "events")));
  for (const std::string& section :
       {Section(stats, "workflows", "WORKFLOW", "name", "runs", "RUNS"),
        Section(stats, "patterns", "PATTERN", "kind", "steps", "STEPS"),
        Section(stats, "agents", "AGENT", "name", "steps", "STEPS"), ModelSection(stats)}) {
    if (!section.empty()) out += "\n" + section;
  }
  return out;
}

}  // namespace

int StatsCommand(const CommonOptions& common, const std::string& since,
                 const std::string& workflow) {
  app::StatsQuery query;
  query.workflow = workflow;
  if (!since.empty()) {
    auto since_ms = app::ParseSince(since, SystemClock::Get().NowMillis());
    if (!since_ms.ok()) {
      PrintErr("error: " + since_ms.error().message());
      return kExitUsage;
    }
    query.since_ms = *since_ms;
  }
  auto store = app::OpenStore({common.store, common.sync == "full"});
  if (!store.ok()) {
    PrintErr("error: " + store.error().message());
    return kExitError;
  }
  app::Registries registries;
  (void)app::LoadConfig(registries);  // best effort: config models the workflows may name
  auto stats = app::ComputeStats(**store, query, registries.LoadOptions());
  if (!stats.ok()) {
    PrintErr("error: " + stats.error().message());
    return kExitError;
  }
  if (common.output == OutputFormat::kJson) {
    PrintOut(PrettyJson(*stats) + "\n");
  } else {
    PrintOut(RenderStats(*stats));
  }
  return kExitOk;
}

}  // namespace baton::cli
