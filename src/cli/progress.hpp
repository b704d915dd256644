#pragma once

// Live progress of a run on stderr: a redrawn step table on a terminal, one plain line per
// event when stderr is not a terminal, or (with -o jsonl) every event as a JSON line on stdout.
// OnEvent is called from executor threads; everything is serialized by a mutex.

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "core/events.hpp"

namespace baton::cli {

class Progress {
 public:
  // `step_ids` are the workflow's steps in file order: the table lists them from the start.
  Progress(OutputFormat format, bool stderr_is_tty, std::vector<std::string> step_ids);
  void OnEvent(const std::string& run_id, const core::Event& e);
  // Draws the final table (terminal mode) and stops redrawing.
  void Finish();

 private:
  struct Row {
    std::string status = "pending";
    int attempts = 0;
    int items = -1;
    int items_done = 0;
    int64_t started_ms = 0;
    int64_t finished_ms = 0;
    int64_t tokens = 0;
    double cost = 0;
  };
  void Redraw(bool force);

  std::mutex mu_;
  std::string streaming_;  // plain output: the step whose streamed text was printed last
  std::string main_run_;   // the first run seen; others are its sub-workflows' runs
  OutputFormat format_;
  bool tty_;
  std::vector<std::string> order_;
  std::map<std::string, Row> rows_;
  int drawn_lines_ = 0;
  int64_t tokens_ = 0;
  double cost_ = 0;
  std::chrono::steady_clock::time_point last_draw_{};
  bool finished_ = false;
};

}  // namespace baton::cli
