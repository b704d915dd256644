#include "providers/registry.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "providers/sim/sim_model.hpp"

namespace baton::providers {
namespace {

// Optimal string alignment distance: edits, with a transposition of neighbours counting as one.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

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
