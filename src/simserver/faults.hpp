#pragma once

// Scriptable faults for sim-server: what goes wrong (an error status, an outage, a stall, a
// truncated or malformed reply, a slow drip, a dropped connection), for which requests
// (protocol, model, API key), and for how long (the next N requests, or a duration).
//
// Spec syntax (CLI --fault, the x-sim-fault header, and strings in the control API):
//   KIND[:VALUE][,OPTION=VALUE]...
// with KIND one of
//   status:CODE|ERROR   an error response: an HTTP status (429, 500, 503, 529, ...) or an error
//                       word (rate_limited, overloaded, server_error, timeout, quota_exhausted,
//                       invalid_request, context_length, auth, not_found, permission); a bare
//                       number is the same ("429,count=2"). Option after=N: for streamed
//                       replies, send N events, then the protocol's in-stream error event.
//   outage:CODE|ERROR   the same for every matching request until `for` (default 30s) ends
//   stall-headers       send the status and headers, then nothing
//   stall-bytes:N       send the first N bytes of the body or stream, then nothing
//   stall-events:N      send N events of a stream, then nothing (default 1)
//   truncate[:N]        close the connection after N events (default: half of them; for a
//                       whole body, half of its bytes) without the protocol's terminator
//   malformed[:N]       corrupt the JSON of the body, or of the Nth content event (default 1)
//   drip:DURATION       send one event every DURATION (a whole body in 64-byte pieces)
//   disconnect          close the connection without answering
// and OPTIONs
//   count=N             apply to the next N matching requests (default: every one)
//   for=DURATION        apply until DURATION from now
//   protocol=P          openai | anthropic | gemini
//   model=M             only requests for model M
//   key=K               only requests with API key K (kept only as its fingerprint)
//   key_fp=F            only requests whose key fingerprint is F
//   retry_after=DUR     the retry-after hint of an error (default 1s for 429/503/529)
//   message=TEXT        the error message (no commas)

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "base/status.hpp"
#include "simserver/protocol.hpp"

namespace baton::simserver {

struct Fault {
  enum class Kind {
    kStatus,
    kStallHeaders,
    kStallBytes,
    kStallEvents,
    kTruncate,
    kMalformed,
    kDrip,
    kDisconnect
  };
  Kind kind = Kind::kStatus;
  bool outage = false;  // kStatus given as outage:
  int status = 0;       // kStatus: HTTP status; 0 = the protocol's status for `error`
  std::string error;    // kStatus: error kind; "" = derived from `status`
  int64_t n = -1;       // stall-bytes, stall-events, truncate, malformed; status: after=N
  Millis interval{0};   // kDrip
  std::optional<Millis> retry_after;
  std::string message;

  std::optional<Protocol> protocol;
  std::string model;
  std::string key_fp;
  int64_t count = -1;            // requests left; -1 = unlimited
  std::optional<Millis> window;  // `for=`; starts when the fault is added
  int64_t until_ms = 0;          // end of the window (epoch ms), 0 = none

  int64_t id = 0;  // set by FaultSet::Add
};

Result<Fault> ParseFaultSpec(std::string_view spec);
// A spec string, an object {kind, value, count, for, protocol, ...} (the spec's names), an
// object {spec: "..."}, an object {faults: [...]}, or a list of any of these.
Result<std::vector<Fault>> ParseFaultJson(const json::value& value);

// The canonical spec string of `fault` (what it matches and for how long included).
std::string FormatFault(const Fault& fault);
json::value FaultToJson(const Fault& fault);

// The stable, non-reversible name of an API key in stats and fault matches: "sha256:" and the
// first 8 hex digits of its SHA-256; "" for no key.
std::string KeyFingerprint(std::string_view key);

// The registered faults, in the order added. Thread-safe.
class FaultSet {
 public:
  explicit FaultSet(const Clock& clock) : clock_(clock) {}

  // Adds `faults`, starting their windows now; returns them with ids.
  std::vector<Fault> Add(std::vector<Fault> faults);
  size_t Clear();
  bool Remove(int64_t id);
  // The live faults (expired and used-up ones are dropped).
  std::vector<Fault> List();

  // The first live fault matching the request, with one use consumed; nullopt when none.
  std::optional<Fault> Take(Protocol protocol, std::string_view model, std::string_view key_fp);

 private:
  void DropExpired(int64_t now);

  const Clock& clock_;
  std::mutex mu_;
  std::vector<Fault> faults_;
  int64_t next_id_ = 1;
};

}  // namespace baton::simserver
