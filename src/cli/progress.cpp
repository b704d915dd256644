#include "cli/progress.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "cli/render.hpp"

namespace baton::cli {
namespace {

constexpr int kMaxRows = 24;

double Num(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v && v->is_number() ? v->to_number<double>() : 0.0;
}

}  // namespace

Progress::Progress(OutputFormat format, bool stderr_is_tty, std::vector<std::string> step_ids)
    : format_(format), tty_(stderr_is_tty), order_(std::move(step_ids)) {
  for (const auto& id : order_) rows_.try_emplace(id);
}

void Progress::OnEvent(const std::string& run_id, const core::Event& e) {
  std::lock_guard lock(mu_);
  if (format_ == OutputFormat::kJsonl) {
    json::object o = core::EventToJson(e);
    o["run_id"] = run_id;
    std::string line = ToJson(o);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    return;
  }
  if (main_run_.empty()) main_run_ = run_id;
  if (run_id != main_run_) {
    // A sub-workflow's run: its events as indented lines in plain output; on a terminal the
    // table keeps to the parent's steps (the `workflow:` step's row covers its child).
    if (tty_ || e.type == core::EventType::kModelDelta) return;
    if (!streaming_.empty()) {
      std::fputc('\n', stderr);
      streaming_.clear();
    }
    std::string line = fmt::format("  [{}] {}\n", run_id, FormatEventLine(e));
    std::fwrite(line.data(), 1, line.size(), stderr);
    return;
  }
  if (e.type == core::EventType::kModelDelta) {
    // Streamed text goes out as it comes, headed by the step it belongs to (plain output only;
    // the live table shows steps, not text).
    const auto* text = e.data.if_contains("text");
    if (tty_ || !text || !text->is_string()) return;
    std::string who = e.step + (e.item >= 0 ? fmt::format("[{}]", e.item) : "");
    std::string out;
    if (who != streaming_) out = (streaming_.empty() ? "" : "\n") + who + ": ";
    streaming_ = who;
    out += std::string_view(text->get_string());
    std::fwrite(out.data(), 1, out.size(), stderr);
    return;
  }
  if (!tty_) {
    if (!streaming_.empty()) {
      std::fputc('\n', stderr);
      streaming_.clear();
    }
    std::string line = FormatEventLine(e);
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
    return;
  }
  if (!e.step.empty()) {
    auto [it, inserted] = rows_.try_emplace(e.step);
    if (inserted) order_.push_back(e.step);
    Row& r = it->second;
    if (r.status == "pending" && e.type == core::EventType::kStepSucceeded && e.item < 0) {
      r.started_ms = e.time_ms;  // an inline step: started and finished at once
    }
    switch (e.type) {
      case core::EventType::kFanOut:
        if (const auto* c = e.data.if_contains("count"); c && c->is_number()) {
          r.items = c->to_number<int>();
        }
        r.status = "running";
        r.started_ms = e.time_ms;
        break;
      case core::EventType::kStepStarted:
        if (r.started_ms == 0) r.started_ms = e.time_ms;
        r.status = "running";
        ++r.attempts;
        break;
      case core::EventType::kRetryScheduled:
        r.status = "retrying";
        break;
      case core::EventType::kStepSucceeded:
        if (e.item >= 0) {
          ++r.items_done;
        } else {
          r.status = "succeeded";
          r.finished_ms = e.time_ms;
          if (r.started_ms == 0) r.started_ms = e.time_ms;
        }
        break;
      case core::EventType::kStepFailed:
        if (e.item >= 0) {
          ++r.items_done;
        } else {
          r.status = "failed";
          r.finished_ms = e.time_ms;
        }
        break;
      case core::EventType::kStepSkipped:
        r.status = "skipped";
        break;
      case core::EventType::kModelCalled:
        if (const auto* u = e.data.if_contains("usage"); u && u->is_object()) {
          const auto& uo = u->get_object();
          auto t = static_cast<int64_t>(Num(uo, "input_tokens") + Num(uo, "output_tokens"));
          r.tokens += t;
          r.cost += Num(uo, "cost_usd");
          tokens_ += t;
          cost_ += Num(uo, "cost_usd");
        }
        break;
      default:
        break;
    }
  }
  Redraw(e.type == core::EventType::kRunFinished);
}

void Progress::Redraw(bool force) {
  if (finished_) return;
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(80)) return;
  last_draw_ = now;
  std::string out;
  if (drawn_lines_ > 0) out += fmt::format("\x1b[{}F\x1b[J", drawn_lines_);
  int lines = 0;
  size_t done = 0, running = 0;
  for (const auto& id : order_) {
    const Row& r = rows_[id];
    if (r.status == "succeeded" || r.status == "failed" || r.status == "skipped") ++done;
    if (r.status == "running" || r.status == "retrying") ++running;
  }
  // In file order; when there are more steps than rows, a window that starts just before the
  // first unfinished step.
  size_t first = 0;
  while (first < order_.size()) {
    const std::string& st = rows_[order_[first]].status;
    if (st != "succeeded" && st != "failed" && st != "skipped") break;
    ++first;
  }
  size_t begin = 0;
  if (order_.size() > kMaxRows) {
    begin = first > 2 ? first - 2 : 0;
    begin = std::min(begin, order_.size() - kMaxRows);
  }
  std::vector<const std::string*> shown;
  for (size_t i = begin; i < order_.size() && shown.size() < kMaxRows; ++i) {
    shown.push_back(&order_[i]);
  }
  for (const auto* id : shown) {
    const Row& r = rows_[*id];
    const char* color = r.status == "succeeded" ? "\x1b[32m"
                        : r.status == "failed"  ? "\x1b[31m"
                        : r.status == "skipped" ? "\x1b[2m"
                        : r.status == "pending" ? "\x1b[2m"
                                                : "\x1b[33m";
    std::string name = *id;
    if (r.items >= 0) name += fmt::format(" [{}/{}]", r.items_done, r.items);
    int64_t end = r.finished_ms ? r.finished_ms : 0;
    std::string time = (r.started_ms && end) ? Elapsed(end - r.started_ms) : "";
    out += fmt::format("  {:<32} {}{:<10}\x1b[0m {:>3} {:>8} {:>9} {:>10}\n", name, color, r.status,
                       r.attempts > 1 ? fmt::format("×{}", r.attempts) : "", time,
                       r.tokens ? Thousands(r.tokens) : "", r.cost ? Money(r.cost) : "");
    ++lines;
  }
  out += fmt::format("  {} of {} steps done, {} running · {} tokens · {}\n", done, order_.size(),
                     running, Thousands(tokens_), Money(cost_));
  ++lines;
  drawn_lines_ = lines;
  std::fwrite(out.data(), 1, out.size(), stderr);
  std::fflush(stderr);
}

void Progress::Finish() {
  std::lock_guard lock(mu_);
  if (tty_ && format_ != OutputFormat::kJsonl) Redraw(true);
  finished_ = true;
}

}  // namespace baton::cli
