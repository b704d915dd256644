#include "providers/registry.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "base/text.hpp"
#include "providers/sim/sim_model.hpp"

namespace baton::providers {

Status ModelRegistry::Register(std::string provider, ModelFactory factory) {
  if (provider.empty()) return InvalidArgument("provider name must not be empty");
  if (!factory) return InvalidArgument(fmt::format("provider '{}': empty factory", provider));
  if (factories_.contains(provider)) {
    return {Code::kAlreadyExists, fmt::format("provider '{}' is already registered", provider)};
  }
  factories_.emplace(std::move(provider), std::move(factory));
  return Status::Ok();
}

Result<std::unique_ptr<ChatModel>> ModelRegistry::Create(const core::ModelConfig& config) const {
  auto it = factories_.find(config.provider);
  if (it != factories_.end()) return it->second(config);

  std::string where = config.name.empty() ? "" : fmt::format("model '{}': ", config.name);
  if (config.provider.empty()) {
    return InvalidArgument(
        fmt::format("{}no provider given (known: {})", where, fmt::join(Providers(), ", ")));
  }
  const std::string* best = nullptr;
  size_t best_distance = 0;
  for (const auto& [name, factory] : factories_) {
    size_t d = EditDistance(config.provider, name);
    if (best == nullptr || d < best_distance) {
      best = &name;
      best_distance = d;
    }
  }
  size_t limit = std::max<size_t>(2, config.provider.size() / 3);
  if (best != nullptr && best_distance <= limit) {
    return NotFound(
        fmt::format("{}unknown provider '{}' (did you mean '{}'?)", where, config.provider, *best));
  }
  return NotFound(fmt::format("{}unknown provider '{}' (known: {})", where, config.provider,
                              fmt::join(Providers(), ", ")));
}

bool ModelRegistry::Contains(std::string_view provider) const {
  return factories_.find(provider) != factories_.end();
}

std::vector<std::string> ModelRegistry::Providers() const {
  std::vector<std::string> names;
  names.reserve(factories_.size());
  for (const auto& [name, factory] : factories_) names.push_back(name);
  return names;
}

void RegisterBuiltinProviders(ModelRegistry& registry) {
  (void)registry.Register(std::string(sim::kProviderName), sim::CreateSimModel);
}

}  // namespace baton::providers
