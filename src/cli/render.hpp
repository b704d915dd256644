#pragma once

// Human-readable renderings of runs and events for the terminal.

#include <string>

#include "base/json.hpp"
#include "core/events.hpp"

namespace baton::cli {

// One line for an event: "12:00:01.234 research[2] succeeded (attempt 1)".
std::string FormatEventLine(const core::Event& e);

// A run summary (runtime::SummarizeRun) as text: header, step table, outputs, and with `trace`
// every model call's prompt, reply and reasoning.
std::string RenderSummary(const json::object& summary, bool trace);

// "1,234"
std::string Thousands(int64_t n);
// "$0.000123"
std::string Money(double usd);
// "1.23s", "45ms", "2m03s"
std::string Elapsed(int64_t ms);

}  // namespace baton::cli
