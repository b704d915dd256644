// Fuzz target: arbitrary bytes as the body of a generation request to each of sim-server's wire
// protocols, and as a fault spec. Decoding must never crash or throw: a bad request is a typed
// error with the message the real API would give.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/server.hpp"
#include "simserver/faults.hpp"
#include "simserver/protocol.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  using baton::simserver::Protocol;
  for (Protocol p : {Protocol::kOpenAi, Protocol::kAnthropic, Protocol::kGemini}) {
    const auto& wire = baton::simserver::Wire(p);
    baton::http::ServerRequest request;
    request.method = "POST";
    request.body = std::string(bytes);
    request.headers = {{"content-type", "application/json"},
                       {"anthropic-version", "2023-06-01"},
                       {"authorization", "Bearer k"},
                       {"x-api-key", "k"}};
    (void)wire.ApiKey(request);
    for (bool stream : {false, true}) {
      auto decoded = wire.Decode(request, "gemini-2.0-flash", stream);
      if (!decoded.ok()) (void)decoded.error().message();
    }
  }
  size_t cut = bytes.find('\n');
  auto fault = baton::simserver::ParseFaultSpec(bytes.substr(0, cut));
  if (!fault.ok()) (void)fault.error().message();
  return 0;
}
