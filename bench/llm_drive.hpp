#pragma once

// Drivers for the LLM-call benchmarks that need coroutines (kept out of llm_bench.cpp so that
// only this file pays for Asio): send N HTTP requests, or N ChatModel calls, all at once from
// coroutines on one io_context run by the calling thread, and return when every one completed.

#include <string>
#include <vector>

#include "http/client.hpp"
#include "providers/chat_model.hpp"

namespace baton::bench {

struct DriveResult {
  int ok = 0;      // HTTP 2xx responses, or successful completions
  int failed = 0;  // everything else
  std::string first_error;
};

// Sends every request through `client` concurrently (the requests are moved from).
DriveResult SendAll(http::HttpClient& client, std::vector<http::HttpRequest> requests);

// Calls model.Complete for every request concurrently (the requests are moved from).
DriveResult CompleteAll(providers::ChatModel& model, std::vector<providers::ChatRequest> requests);

}  // namespace baton::bench
