#pragma once

// What sim-server answered: one record per model request (the most recent 100,000), for tests
// and load runs to check what a client did. Keys appear only as fingerprints. Thread-safe.

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "base/json.hpp"

namespace baton::simserver {

struct RequestRecord {
  int64_t seq = 0;         // set by Record(): 1, 2, ...
  int64_t time_ms = 0;     // when the request arrived (epoch ms)
  int64_t elapsed_ms = 0;  // arrival -> status sent
  std::string protocol;    // openai | anthropic | gemini
  std::string path;
  std::string model;
  std::string key_fp;  // KeyFingerprint(key), "" without a key
  int status = 0;      // the status sent; 0 when the connection was dropped unanswered
  bool stream = false;
  std::string fault;    // the fault applied (its spec), "" for none
  std::string outcome;  // "" normal; stall, truncate, malformed, disconnect, client_gone, limited
  int64_t input_tokens = 0;
  int64_t output_tokens = 0;
};

class StatsLog {
 public:
  // Appends `record`, numbering it; returns its seq.
  int64_t Record(RequestRecord record);
  // {"requests": [...records with seq > since], "total": n, "by_status": {"200": n, ...}}
  json::value ToJson(int64_t since = 0) const;
  void Clear();
  int64_t total() const;

 private:
  mutable std::mutex mu_;
  std::deque<RequestRecord> records_;
  int64_t next_seq_ = 1;
};

}  // namespace baton::simserver
