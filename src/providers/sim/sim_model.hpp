#pragma once

// The built-in `sim` provider: an in-process model that is deterministic and scriptable, for
// the demo, tests and dry runs. Options come from the `sim:` object of a model config; every
// option is described in docs/providers.md.
//
// Determinism contract:
//   - the reply (text, structured output, reasoning, tool calls, usage) is a function of (seed,
//     step_id, item, messages, output_schema, tools, tool_choice) and never of run_id or
//     attempt, so a resumed run sees the same outputs as an uninterrupted one (tool call ids
//     included);
//   - injected failures (`fail.rate`) and latency are functions of (seed, step_id, item,
//     attempt), so a retry can succeed;
//   - a scripted reply list is indexed by attempt plus tool turns: element i answers the call
//     whose (attempt - 1) + (number of assistant turns with tool calls in its messages) is i,
//     and the last element repeats. Without tools that is simply the attempt.
//
// Tools: when the request offers tools and no script answers it, the model calls exactly one
// tool (the one whose name and description share most words with the last user message; ties
// broken by the seed; or the one `tool_choice` names) with arguments synthesised from the
// tool's parameter schema, unless the conversation ends with tool results (then it answers in
// text) or tool_choice is "none". tool_choice "required" or a tool's name always calls.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/clock.hpp"
#include "base/json.hpp"
#include "base/status.hpp"
#include "core/workflow.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers::sim {

inline constexpr std::string_view kProviderName = "sim";

struct Latency {
  enum class Distribution { kFixed, kUniform, kNormal, kLogNormal };
  Distribution distribution = Distribution::kFixed;
  Millis mean{0};
  Millis stddev{0};
  std::optional<Millis> min;  // lower clamp (uniform: lower bound); 0 when unset
  std::optional<Millis> max;  // upper clamp (uniform: upper bound); none when unset
};

struct Failure {
  double rate = 0;                    // probability in [0, 1] that an attempt fails
  std::string type = "server_error";  // workflow error type of the injected failure
  std::string message;                // "" = a generated message naming the call
};

// One scripted answer.
struct Reply {
  enum class Kind { kText, kJson, kError, kToolCalls };
  Kind kind = Kind::kText;
  std::string text;        // kText; kToolCalls: optional text said before the calls
  json::value value;       // kJson
  std::string error_type;  // kError
  std::string message;     // kError; "" = generated
  // kToolCalls: name and arguments (JSON text, kept verbatim even when invalid; "" =
  // synthesised from the tool's parameter schema). Ids are generated.
  std::vector<ToolCall> tool_calls;
};

struct SimOptions {
  uint64_t seed = 0;
  Latency latency;
  Failure fail;
  // `replies` as a list: answers every call. As a map: by step id, then agent name, then "*".
  std::optional<std::vector<Reply>> replies;
  std::map<std::string, std::vector<Reply>, std::less<>> replies_by_key;
  bool reasoning = false;
  double tokens_per_char = 0.25;
};

// Error types `fail.type` and scripted `{error: ...}` accept.
bool IsKnownErrorType(std::string_view type);

// Parses the `sim:` object (null = all defaults). `replies_file` is read here, relative to the
// current directory. Fails with kInvalidArgument naming the bad option.
Result<SimOptions> ParseSimOptions(const json::value& sim);

// Immutable after construction; Complete() and Respond() are safe to call concurrently.
class SimModel final : public ChatModel {
 public:
  SimModel(std::string model, SimOptions options, Price price);

  // Respond() after the sampled latency, waited on a steady_timer on the caller's executor.
  // Cancellation of the awaiting coroutine ends the wait and returns kCancelled.
  boost::asio::awaitable<Result<ChatResponse>> Complete(ChatRequest request) override;
  std::string_view provider() const override { return kProviderName; }

  // The outcome of `request` without waiting: a reply, a scripted failure or an injected one.
  Result<ChatResponse> Respond(const ChatRequest& request) const;
  // The latency sampled for `request`.
  Millis LatencyFor(const ChatRequest& request) const;

  const SimOptions& options() const { return options_; }

 private:
  const std::vector<Reply>* ScriptFor(const ChatRequest& request) const;
  Result<ChatResponse> FromScript(const Reply& reply, const ChatRequest& request) const;
  ChatResponse Generate(const ChatRequest& request) const;
  void Finish(const ChatRequest& request, ChatResponse& response) const;

  std::string model_;
  SimOptions options_;
  Price price_;
};

// The registry factory for provider "sim": reads `sim:` and `price:` from `config.options`.
Result<std::unique_ptr<ChatModel>> CreateSimModel(const core::ModelConfig& config);

}  // namespace baton::providers::sim
