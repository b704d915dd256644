#pragma once

// A ChatModel reached over HTTP: a wire codec (openai/, anthropic/, gemini/) joined to the
// shared HTTP client. Streams when the request asks for deltas or the model's `stream:` option
// is on; the response is the same either way. Prices the usage with the model's price.

#include <memory>
#include <string>

#include "http/client.hpp"
#include "providers/chat_model.hpp"
#include "providers/codec.hpp"
#include "providers/http_providers.hpp"

namespace baton::providers {

struct HttpModelOptions {
  std::string name;          // the `models:` entry, for messages
  std::string provider;      // registered provider name ("openai", "ollama", ...)
  std::string model_id;      // sent instead of the request's model when set (model_env)
  Endpoint endpoint;         // base URL, key, extra headers
  std::string api_key_env;   // where the key comes from, for the "no key" message
  bool key_required = true;  // false for local servers (Ollama, LM Studio, llama.cpp)
  http::Timeouts timeouts;
  bool stream = false;  // stream even when nobody watches the deltas
  json::object params;  // merged into every request body (provider-specific fields)
  Price price;
};

// Immutable after construction; Complete() is safe to call concurrently from any executor.
class HttpModel final : public ChatModel {
 public:
  // `client` is asked for the shared HTTP client at the first call.
  HttpModel(HttpModelOptions options, std::unique_ptr<Codec> codec, HttpClientSource client);

  // Fails with the codec's mapped error type for non-2xx responses, "network"/"timeout" from the
  // client, "auth" without calling anything when a required key is missing, and "server_error"
  // for a body or stream that is not the protocol's. Messages start with "<provider> model
  // '<name>': " and never contain the key.
  boost::asio::awaitable<Result<ChatResponse>> Complete(ChatRequest request) override;
  std::string_view provider() const override { return options_.provider; }

 private:
  HttpModelOptions options_;
  std::unique_ptr<Codec> codec_;
  HttpClientSource client_;
};

}  // namespace baton::providers
