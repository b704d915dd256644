#pragma once

// `baton sim-server`: the deterministic `sim` model served over the real wire protocols, for
// tests, benchmarks and users' own apps:
//   OpenAI     POST /v1/chat/completions, GET /v1/models[/{id}]
//   Anthropic  POST /v1/messages, POST /v1/messages/count_tokens, GET /v1/models (with an
//              anthropic-version header)
//   Gemini     POST /v1beta/models/{model}:generateContent | :streamGenerateContent |
//              :countTokens, GET /v1beta/models[/{model}]
//   control    POST/GET/DELETE /_sim/faults, DELETE /_sim/faults/{id}, GET/DELETE /_sim/stats,
//              GET/DELETE /_sim/requests (the last requests as sent, secrets redacted)
//   health     GET / and GET /healthz
// with scriptable faults (faults.hpp), an optional per-key RPM/TPM limiter, and the sim model's
// latency applied with timers (streamed replies spread their events over it). docs/sim-server.md
// describes the behaviour in full.
//
// Replies are the sim model's (providers/sim/sim_model.hpp) with an empty step id; a request
// repeated verbatim counts as the next attempt (so a scripted [{error: ...}, "ok"] fails once,
// then succeeds), and a conversation whose earlier turns were seen reports them as cached
// prompt tokens.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/status.hpp"
#include "providers/sim/sim_model.hpp"
#include "simserver/capture.hpp"
#include "simserver/faults.hpp"
#include "simserver/stats.hpp"

namespace baton::simserver {

struct SimServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (see SimServer::port())
  int threads = 2;
  providers::sim::SimOptions sim;  // seed, latency, fail, replies, reasoning, tokens_per_char
  std::string api_key;  // non-empty: requests with any other key get the protocol's auth error
  int64_t rpm = 0;      // per-key requests per minute; 0 = unlimited
  int64_t tpm = 0;      // per-key tokens per minute (input + output); 0 = unlimited
  std::vector<Fault> faults;                                     // registered at start
  std::vector<std::string> models = {"sim-small", "sim-large"};  // what the model lists show
  size_t max_header_bytes = 16 << 10;
  size_t max_body_bytes = 8 << 20;
  Millis stop_grace{1000};
  const Clock* clock = nullptr;  // limiter windows, fault windows, stats; SystemClock when null
};

class SimServer {
 public:
  // Binds and starts serving. Fails with kUnavailable when the address cannot be bound.
  static Result<std::unique_ptr<SimServer>> Start(SimServerOptions options);
  // Stop().
  ~SimServer();
  SimServer(const SimServer&) = delete;
  SimServer& operator=(const SimServer&) = delete;

  const std::string& host() const;
  uint16_t port() const;
  // "http://HOST:PORT".
  std::string url() const;

  // Stops accepting, lets replies in flight finish for up to `stop_grace`, then cuts the rest
  // (stalled streams included). Idempotent; not from a handler.
  void Stop();

  // The same registry and log the control API uses; thread-safe.
  FaultSet& faults();
  StatsLog& stats();
  RequestCapture& captures();
  size_t Connections() const;

  class Impl;

 private:
  explicit SimServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton::simserver
