#pragma once

// Provider name -> factory of ChatModels. The composition root fills one registry at startup
// (RegisterBuiltinProviders, then any user providers) and creates a model per `models:` entry.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "core/workflow.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers {

// Builds a model from its config, validating the provider-specific options. Fails with
// kInvalidArgument and a message naming the model config on bad options.
using ModelFactory =
    std::function<Result<std::unique_ptr<ChatModel>>(const core::ModelConfig& config)>;

// Not synchronized: Register() during setup on one thread; after that, Create() and the other
// const members are safe to call concurrently from any thread.
class ModelRegistry {
 public:
  // Adds `provider`. Fails with kAlreadyExists when the name is taken, kInvalidArgument when it
  // is empty or `factory` is empty.
  Status Register(std::string provider, ModelFactory factory);

  // Creates the model `config` describes. An unknown provider fails with kNotFound and a
  // did-you-mean suggestion ("unknown provider 'opneai' (did you mean 'openai'?)").
  Result<std::unique_ptr<ChatModel>> Create(const core::ModelConfig& config) const;

  bool Contains(std::string_view provider) const;
  // Registered provider names, sorted.
  std::vector<std::string> Providers() const;

 private:
  std::map<std::string, ModelFactory, std::less<>> factories_;
};

namespace admission {
class AdmissionHub;
}

// Registers the providers compiled into baton: "sim" and the HTTP providers (openai, anthropic,
// gemini and the OpenAI-compatible presets; http_providers.hpp). With a hub, every model is
// wrapped in the admission chain (rate limits, breaker, retry budget, cache, fallbacks) sharing
// that hub. The HTTP client is created at the first HTTP call.
void RegisterBuiltinProviders(ModelRegistry& registry,
                              std::shared_ptr<admission::AdmissionHub> hub = nullptr);

// Connects the fallback chain (`fallback:` names) of a model made by a registry with a hub to
// the models `lookup` returns by name. Models without a chain are left alone. Fails with
// kNotFound naming an unknown model.
Status LinkFallbacks(ChatModel& model,
                     const std::function<ChatModel*(std::string_view name)>& lookup);

}  // namespace baton::providers
