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

// Registers the providers compiled into baton (today: "sim"). Each provider adds one line.
void RegisterBuiltinProviders(ModelRegistry& registry);

}  // namespace baton::providers
