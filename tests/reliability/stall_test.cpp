// 1,000 calls to a server that sends headers and then nothing: every call ends with a timeout
// error naming the idle timeout, the run completes, and no file descriptor is left behind.
// Real Engine + real sim-server (both in this process, so /proc/self/fd sees both ends).

#include <gtest/gtest.h>

#include <string>

#include "e2e/baton_process.hpp"
#include "harness.hpp"

namespace baton::reliability {
namespace {

constexpr int kCalls = 1000;
constexpr int64_t kIdleMs = 1000;

TEST(StallTest, ThousandStalledCallsTimeOutAndReleaseTheirSockets) {
  auto server = StartSim();
  ASSERT_TRUE(server);
  const int fds_before = OpenFds();
  auto host = std::make_unique<Host>();
  // One warm-up call first: the HTTP client (its thread, its event loop descriptors and a pooled
  // connection) exists from then on, so the baseline below includes it. It uses another model id:
  // the admission hub keeps the breaker settings of the first user of a model, and the stalled
  // run below needs its own (off).
  auto warm = host->Load(R"y(
baton: 1
name: warm
models:
  m: { provider: openai, model: gpt-4o-warm, base_url: SERVER/v1 }
steps:
  - { id: hello, llm: "Say hello." }
)y",
                         server->url());
  ASSERT_TRUE(warm);
  ASSERT_EQ(host->Wait(host->Start(warm)).status, core::RunStatus::kSucceeded);
  const int fds_warm = OpenFds();

  AddFaults(*server, {"stall-headers"});
  auto wf = host->Load(R"y(
baton: 1
name: stalled
inputs:
  items: { type: array }
models:
  m:
    provider: openai
    model: gpt-4o-mini
    base_url: SERVER/v1
    timeouts: { connect: 5s, first_byte: 5s, idle: 1s, total: 60s }
    breaker: { failures: 1000000, failure_rate: 0 }  # off
steps:
  - id: ask
    for_each: ${{ inputs.items }}
    llm: "Item ${{ item }}: say hello."
    retry: { max_attempts: 1 }
    catch:
      - errors: [timeout]
        then: { output: "${{ error }}" }
)y",
                       server->url());
  ASSERT_TRUE(wf);
  json::array items;
  for (int i = 0; i < kCalls; ++i) items.emplace_back(i);
  std::string id = host->Start(wf, json::object{{"items", std::move(items)}});
  runtime::RunResult r = host->Wait(id);
  ASSERT_EQ(r.status, core::RunStatus::kSucceeded) << ToJson(r.summary());

  // Every item failed with a timeout that names the idle timeout.
  const json::value& outputs = StepOutput(r, "ask");
  ASSERT_TRUE(outputs.is_array());
  ASSERT_EQ(outputs.as_array().size(), static_cast<size_t>(kCalls));
  int idle = 0;
  for (const auto& o : outputs.as_array()) {
    ASSERT_TRUE(o.is_object()) << ToJson(o);
    EXPECT_EQ(o.at("type").as_string(), "timeout");
    std::string message(o.at("message").as_string());
    idle += message.find("idle timeout") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(idle, kCalls) << "e.g. " << ToJson(outputs.as_array().front());

  // Each call took about the idle timeout: count those outside a generous band (never sooner
  // than the timeout; not more than 15 s later, which would mean the timer did not fire).
  std::vector<core::Event> events = host->Events(id);
  int calls = 0;
  int out_of_band = 0;
  for (const core::Event* e : OfType(events, core::EventType::kModelCalled)) {
    ++calls;
    int64_t ms = e->data.at("duration_ms").to_number<int64_t>();
    out_of_band += ms < kIdleMs - 20 || ms > kIdleMs + 15'000 ? 1 : 0;
  }
  EXPECT_EQ(calls, kCalls);
  EXPECT_EQ(out_of_band, 0);
  EXPECT_EQ(OfType(events, core::EventType::kRetryScheduled).size(), 0u);

  std::vector<Request> requests = Requests(*server);
  int stalled = 0;
  for (const Request& q : requests) stalled += q.outcome == "stall" ? 1 : 0;
  EXPECT_EQ(stalled, kCalls);

  // The stalled connections are gone on both sides: with the client alive, the descriptors come
  // back to what the warm-up left (the server closes its end when the client hangs up)...
  int fds_after = OpenFds();
  bool settled = e2e::PollUntil([&] {
    fds_after = OpenFds();
    return fds_after <= fds_warm;
  });
  EXPECT_TRUE(settled) << fds_after << " descriptors open, " << fds_warm << " after the warm-up";
  // ...and without the engine and the HTTP client, to what there was before them.
  host.reset();
  int fds_end = OpenFds();
  settled = e2e::PollUntil([&] {
    fds_end = OpenFds();
    return fds_end <= fds_before && server->Connections() == 0;
  });
  EXPECT_TRUE(settled) << fds_end << " descriptors open, " << fds_before << " before; "
                       << server->Connections() << " server connections";
  std::printf(
      "[ figures ] %d stalled calls: fds %d before, %d after warm-up, %d after the run, "
      "%d at the end\n",
      kCalls, fds_before, fds_warm, fds_after, fds_end);
}

}  // namespace
}  // namespace baton::reliability
