#include "providers/pricing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>

namespace baton::providers {
namespace {

// USD per 1M tokens: input, output, cached input, reasoning. Reasoning tokens are billed as
// output tokens by every listed vendor. Public list prices (standard tier, short context).
constexpr std::array<PriceEntry, 24> kPrices = {{
    // OpenAI
    {"gpt-5", {1.25, 10.00, 0.125, 10.00}},
    {"gpt-5-mini", {0.25, 2.00, 0.025, 2.00}},
    {"gpt-5-nano", {0.05, 0.40, 0.005, 0.40}},
    {"gpt-4.1", {2.00, 8.00, 0.50, 8.00}},
    {"gpt-4.1-mini", {0.40, 1.60, 0.10, 1.60}},
    {"gpt-4.1-nano", {0.10, 0.40, 0.025, 0.40}},
    {"gpt-4o", {2.50, 10.00, 1.25, 10.00}},
    {"gpt-4o-mini", {0.15, 0.60, 0.075, 0.60}},
    {"o3", {2.00, 8.00, 0.50, 8.00}},
    {"o4-mini", {1.10, 4.40, 0.275, 4.40}},
    // Anthropic (cached input = cache read)
    {"claude-opus-4-1", {15.00, 75.00, 1.50, 75.00}},
    {"claude-opus-4", {15.00, 75.00, 1.50, 75.00}},
    {"claude-sonnet-4-5", {3.00, 15.00, 0.30, 15.00}},
    {"claude-sonnet-4", {3.00, 15.00, 0.30, 15.00}},
    {"claude-haiku-4-5", {1.00, 5.00, 0.10, 5.00}},
    {"claude-3-7-sonnet", {3.00, 15.00, 0.30, 15.00}},
    {"claude-3-5-haiku", {0.80, 4.00, 0.08, 4.00}},
    // Google Gemini (prompts up to 200k tokens)
    {"gemini-2.5-pro", {1.25, 10.00, 0.31, 10.00}},
    {"gemini-2.5-flash", {0.30, 2.50, 0.075, 2.50}},
    {"gemini-2.5-flash-lite", {0.10, 0.40, 0.025, 0.40}},
    {"gemini-2.0-flash", {0.10, 0.40, 0.025, 0.40}},
    {"gemini-2.0-flash-lite", {0.075, 0.30, 0.075, 0.30}},
    // The built-in sim provider
    {"sim-small", {0.10, 0.40, 0.05, 0.40}},
    {"sim-large", {1.00, 4.00, 0.50, 4.00}},
}};

const Price* FindExact(std::string_view model) {
  for (const auto& e : kPrices) {
    if (e.model == model) return &e.price;
  }
  return nullptr;
}

// True when `rest` is what a vendor appends to name a snapshot: "-2024-08-06", "-20250929",
// "-latest", "@20240620".
bool IsSnapshotSuffix(std::string_view rest) {
  if (rest.size() < 2 || (rest[0] != '-' && rest[0] != '@')) return false;
  if (rest == "-latest") return true;
  return std::isdigit(static_cast<unsigned char>(rest[1])) != 0;
}

std::optional<Price> Lookup(std::string_view model) {
  if (const Price* p = FindExact(model)) return *p;
  const PriceEntry* best = nullptr;
  for (const auto& e : kPrices) {
    if (model.size() > e.model.size() && model.substr(0, e.model.size()) == e.model &&
        IsSnapshotSuffix(model.substr(e.model.size())) &&
        (best == nullptr || e.model.size() > best->model.size())) {
      best = &e;
    }
  }
  if (best != nullptr) return best->price;
  return std::nullopt;
}

}  // namespace

double Price::Cost(const Usage& u) const {
  int64_t cached = std::clamp<int64_t>(u.cached_tokens, 0, std::max<int64_t>(u.input_tokens, 0));
  int64_t thinking =
      std::clamp<int64_t>(u.reasoning_tokens, 0, std::max<int64_t>(u.output_tokens, 0));
  int64_t fresh_input = std::max<int64_t>(u.input_tokens, 0) - cached;
  int64_t plain_output = std::max<int64_t>(u.output_tokens, 0) - thinking;
  double micro =
      static_cast<double>(fresh_input) * input + static_cast<double>(cached) * cached_input +
      static_cast<double>(plain_output) * output + static_cast<double>(thinking) * reasoning;
  return micro / 1e6;
}

std::span<const PriceEntry> BuiltinPrices() { return kPrices; }

std::optional<Price> BuiltinPrice(std::string_view model) {
  if (auto p = Lookup(model)) return p;
  size_t slash = model.rfind('/');
  if (slash != std::string_view::npos) return Lookup(model.substr(slash + 1));
  return std::nullopt;
}

Result<PriceInfo> ResolvePrice(const core::ModelConfig& config) {
  std::optional<Price> builtin = BuiltinPrice(config.model);
  const json::value* override_value = config.options.if_contains("price");
  if (override_value == nullptr) {
    if (builtin) return PriceInfo{*builtin, true};
    return PriceInfo{};
  }
  const json::object* obj = override_value->if_object();
  if (obj == nullptr) {
    return InvalidArgument(fmt::format(
        "model '{}': price must be an object {{input, output, cached_input, reasoning}}",
        config.name));
  }
  std::optional<double> in, out, cached, reasoning;
  for (const auto& kv : *obj) {
    std::optional<double>* slot = nullptr;
    if (kv.key() == "input")
      slot = &in;
    else if (kv.key() == "output")
      slot = &out;
    else if (kv.key() == "cached_input")
      slot = &cached;
    else if (kv.key() == "reasoning")
      slot = &reasoning;
    if (slot == nullptr) {
      return InvalidArgument(fmt::format(
          "model '{}': unknown price field '{}' (expected input, output, cached_input, reasoning)",
          config.name, std::string_view(kv.key())));
    }
    const json::value& v = kv.value();
    if (!v.is_number() || v.to_number<double>() < 0) {
      return InvalidArgument(
          fmt::format("model '{}': price.{} must be a non-negative number of USD per 1M tokens",
                      config.name, std::string_view(kv.key())));
    }
    *slot = v.to_number<double>();
  }
  Price p;
  if (builtin) {
    p = *builtin;
    if (in) p.input = *in;
    if (out) p.output = *out;
    if (cached) p.cached_input = *cached;
    if (reasoning) p.reasoning = *reasoning;
  } else {
    p.input = in.value_or(0);
    p.output = out.value_or(0);
    p.cached_input = cached.value_or(p.input);
    p.reasoning = reasoning.value_or(p.output);
  }
  return PriceInfo{p, true};
}

}  // namespace baton::providers
