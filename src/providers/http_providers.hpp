#pragma once

// The providers reached over HTTP: `openai` (Chat Completions, and every compatible server),
// `anthropic`, `gemini`, and presets for common OpenAI-compatible servers (`ollama`,
// `lmstudio`, `llamacpp`, `vllm`, `openrouter`) that only change the default base URL and key
// variable. Model options: base_url, api_key_env, headers, timeouts {connect, first_byte,
// idle, total}, stream, params, price (docs/providers.md).

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "core/workflow.hpp"
#include "http/client.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers {

struct ProviderPreset {
  std::string_view name;
  std::string_view protocol;     // codec: openai | anthropic | gemini
  std::string_view base_url;     // default base URL
  std::string_view api_key_env;  // default key variable ("" = none)
  bool key_required;             // with the default base URL
};

// Every HTTP provider baton knows, in a stable order.
const std::vector<ProviderPreset>& HttpProviderPresets();

// Supplies the process's HTTP client (created on first use, so sim-only runs start no thread).
using HttpClientSource = std::function<Result<std::shared_ptr<http::HttpClient>>()>;

// Builds the HttpModel for `config` of a provider of `preset`. The key is read from the
// environment variable `api_key_env` (default: the preset's) now; a missing key fails the
// first call (type auth), not the creation, so `baton validate` works without keys.
// `api_key` receives the key (for the admission chain's fingerprint). `base_url_env` names a
// variable whose URL (when set) replaces base_url; such a server's key is optional. With
// `offline: sim` and no key where one is required, sets `*offline` and returns a null model:
// the caller stands the sim provider in.
Result<std::unique_ptr<ChatModel>> CreateHttpModel(const ProviderPreset& preset,
                                                   const core::ModelConfig& config,
                                                   const HttpClientSource& client,
                                                   std::string* api_key, bool* offline = nullptr);

}  // namespace baton::providers
