#include "providers/registry.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>

#include "base/text.hpp"
#include "http/client.hpp"
#include "providers/admission/admitted_model.hpp"
#include "providers/http_providers.hpp"
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

namespace {

// The process's HTTP client, created on first use.
class LazyClient {
 public:
  Result<std::shared_ptr<http::HttpClient>> Get() {
    std::lock_guard lock(mu_);
    if (client_) return client_;
    auto created = http::HttpClient::Create();
    if (!created.ok()) return created.error();
    client_ = std::move(created).value();
    return client_;
  }

 private:
  std::mutex mu_;
  std::shared_ptr<http::HttpClient> client_;
};

Result<std::unique_ptr<ChatModel>> Admit(const std::shared_ptr<admission::AdmissionHub>& hub,
                                         const core::ModelConfig& config,
                                         Result<std::unique_ptr<ChatModel>> inner,
                                         std::string_view api_key) {
  if (!inner.ok() || !hub) return inner;
  auto admitted = admission::AdmitModel(config, std::move(inner).value(), hub, api_key);
  if (!admitted.ok()) return admitted.error();
  return std::unique_ptr<ChatModel>(std::move(admitted).value());
}

}  // namespace

void RegisterBuiltinProviders(ModelRegistry& registry,
                              std::shared_ptr<admission::AdmissionHub> hub) {
  // A sim model gets the admission chain only when it asks for it (its failures are scripted:
  // a default breaker would turn them into waits).
  (void)registry.Register(std::string(sim::kProviderName), [hub](const core::ModelConfig& config) {
    auto parsed = admission::ParseAdmissionConfig(config.options);
    bool wanted = !parsed.ok() || parsed->configured;
    return Admit(wanted ? hub : nullptr, config, sim::CreateSimModel(config), "");
  });
  auto client = std::make_shared<LazyClient>();
  HttpClientSource source = [client] { return client->Get(); };
  for (const ProviderPreset& preset : HttpProviderPresets()) {
    (void)registry.Register(std::string(preset.name),
                            [hub, preset, source](const core::ModelConfig& config) {
                              std::string key;
                              bool offline = false;
                              auto model = CreateHttpModel(preset, config, source, &key, &offline);
                              if (offline) {
                                // `offline: sim` without a key: the sim provider stands in.
                                return Admit(hub, config, sim::CreateSimModel(config), "");
                              }
                              return Admit(hub, config, std::move(model), key);
                            });
  }
}

Status LinkFallbacks(ChatModel& model,
                     const std::function<ChatModel*(std::string_view name)>& lookup) {
  auto* admitted = dynamic_cast<admission::AdmittedModel*>(&model);
  if (admitted == nullptr) return Status::Ok();
  return admitted->LinkFallbacks([&](std::string_view name) -> admission::AdmittedModel* {
    return dynamic_cast<admission::AdmittedModel*>(lookup(name));
  });
}

}  // namespace baton::providers
