#include "providers/http_providers.hpp"

#include <fmt/format.h>

#include <cstdlib>

#include "base/duration.hpp"
#include "providers/codec.hpp"
#include "providers/http_model.hpp"
#include "providers/pricing.hpp"

namespace baton::providers {
namespace {

Status Bad(const core::ModelConfig& config, std::string_view key, std::string_view what) {
  return InvalidArgument(fmt::format("models.{}.{}: {}", config.name, key, what));
}

Result<Millis> DurationOption(const core::ModelConfig& config, const json::value& v,
                              std::string_view key) {
  if (v.is_int64() && v.get_int64() >= 0) return Millis(v.get_int64() * 1000);
  if (!v.is_string()) return Bad(config, key, "expected a duration such as \"30s\"");
  auto d = ParseDuration(v.get_string());
  if (!d.ok()) return Bad(config, key, d.error().message());
  return *d;
}

}  // namespace

const std::vector<ProviderPreset>& HttpProviderPresets() {
  static const std::vector<ProviderPreset> presets = {
      {"openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY", true},
      {"anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY", true},
      {"gemini", "gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY", true},
      {"openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", true},
      {"ollama", "openai", "http://127.0.0.1:11434/v1", "", false},
      {"lmstudio", "openai", "http://127.0.0.1:1234/v1", "", false},
      {"llamacpp", "openai", "http://127.0.0.1:8080/v1", "", false},
      {"vllm", "openai", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", false},
  };
  return presets;
}

Result<std::unique_ptr<ChatModel>> CreateHttpModel(const ProviderPreset& preset,
                                                   const core::ModelConfig& config,
                                                   const HttpClientSource& client,
                                                   std::string* api_key, bool* offline) {
  const json::object& o = config.options;
  HttpModelOptions opts;
  opts.name = config.name;
  opts.provider = std::string(preset.name);
  opts.endpoint.base_url = std::string(preset.base_url);
  opts.api_key_env = std::string(preset.api_key_env);
  opts.key_required = preset.key_required;
  std::string model_id = config.model;
  if (const auto* v = o.if_contains("model_env")) {
    if (!v->is_string()) return Bad(config, "model_env", "expected a variable name");
    const char* m = std::getenv(std::string(v->get_string()).c_str());
    if (m != nullptr && *m != '\0') model_id = m;
  }
  if (model_id.empty()) return Bad(config, "model", "the provider's model id is required");
  opts.model_id = model_id;

  if (const auto* v = o.if_contains("base_url")) {
    if (!v->is_string() || v->get_string().empty())
      return Bad(config, "base_url", "expected a URL");
    std::string url(v->get_string());
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      return Bad(config, "base_url", "must start with http:// or https://");
    }
    while (!url.empty() && url.back() == '/') url.pop_back();
    // A server of the user's own (not the provider's default) needs a key only when the model
    // names the variable.
    if (url != preset.base_url) opts.key_required = false;
    opts.endpoint.base_url = std::move(url);
  }
  if (const auto* v = o.if_contains("api_key_env")) {
    if (!v->is_string()) return Bad(config, "api_key_env", "expected a variable name");
    opts.api_key_env = std::string(v->get_string());
    opts.key_required = true;
  }
  bool url_from_env = false;
  if (const auto* v = o.if_contains("base_url_env")) {
    if (!v->is_string()) return Bad(config, "base_url_env", "expected a variable name");
    const char* url = std::getenv(std::string(v->get_string()).c_str());
    if (url != nullptr && *url != '\0') {
      std::string u(url);
      if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) {
        return Bad(config, "base_url_env",
                   fmt::format("{} must hold a URL starting with http:// or https://",
                               std::string_view(v->get_string())));
      }
      while (!u.empty() && u.back() == '/') u.pop_back();
      opts.endpoint.base_url = std::move(u);
      url_from_env = true;
    }
  }
  // The provider's key goes only to the provider's own endpoint: a model pointed elsewhere
  // sends a key only when it names the variable itself (a stray OPENAI_API_KEY must not reach
  // a third-party or local server).
  bool explicit_key = o.contains("api_key_env");
  if (!explicit_key && opts.endpoint.base_url != preset.base_url) opts.api_key_env.clear();
  if (!opts.api_key_env.empty()) {
    const char* key = std::getenv(opts.api_key_env.c_str());
    if (key == nullptr && preset.protocol == "gemini" && !o.contains("api_key_env")) {
      key = std::getenv("GOOGLE_API_KEY");
    }
    if (key != nullptr) opts.endpoint.api_key = key;
  }
  // A server named by the environment is the user's own: its key is optional.
  if (url_from_env) opts.key_required = false;
  if (offline != nullptr) {
    *offline = opts.key_required && opts.endpoint.api_key.empty();
    if (*offline) {
      const auto* mode = o.if_contains("offline");
      if (mode == nullptr) {
        *offline = false;
      } else if (!mode->is_string() || mode->get_string() != "sim") {
        return Bad(config, "offline", "the only offline stand-in is \"sim\"");
      } else {
        return std::unique_ptr<ChatModel>();
      }
    }
  }
  if (const auto* v = o.if_contains("headers")) {
    if (!v->is_object()) return Bad(config, "headers", "expected a mapping of strings");
    for (const auto& kv : v->get_object()) {
      if (!kv.value().is_string()) return Bad(config, "headers", "values must be strings");
      opts.endpoint.extra_headers.emplace_back(std::string(kv.key()),
                                               std::string(kv.value().get_string()));
    }
  }
  if (const auto* v = o.if_contains("timeouts")) {
    if (!v->is_object()) return Bad(config, "timeouts", "expected a mapping");
    for (const auto& kv : v->get_object()) {
      std::string key = fmt::format("timeouts.{}", std::string_view(kv.key()));
      BATON_ASSIGN_OR_RETURN(Millis d, DurationOption(config, kv.value(), key));
      if (kv.key() == "connect") {
        opts.timeouts.connect = d;
      } else if (kv.key() == "first_byte") {
        opts.timeouts.first_byte = d;
      } else if (kv.key() == "idle") {
        opts.timeouts.idle = d;
      } else if (kv.key() == "total") {
        opts.timeouts.total = d;
      } else {
        return Bad(config, key, "unknown timeout (connect, first_byte, idle, total)");
      }
    }
  }
  if (const auto* v = o.if_contains("stream")) {
    if (!v->is_bool()) return Bad(config, "stream", "expected true or false");
    opts.stream = v->get_bool();
  }
  if (const auto* v = o.if_contains("params")) {
    if (!v->is_object()) return Bad(config, "params", "expected a mapping");
    opts.params = v->get_object();
  }
  BATON_ASSIGN_OR_RETURN(PriceInfo price, ResolvePrice(config));
  opts.price = price.price;

  BATON_ASSIGN_OR_RETURN(std::unique_ptr<Codec> codec, MakeCodec(preset.protocol));
  if (api_key != nullptr) *api_key = opts.endpoint.api_key;
  return std::unique_ptr<ChatModel>(
      std::make_unique<HttpModel>(std::move(opts), std::move(codec), client));
}

}  // namespace baton::providers
