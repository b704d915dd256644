#pragma once

// The price table: what a model call costs, from its token usage. Built-in prices for well-known
// models plus per-model-config overrides (`price:` in `models:`).

#include <optional>
#include <span>
#include <string_view>

#include "base/status.hpp"
#include "core/workflow.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers {

// A resolved price. `known` is false when neither the table nor the config has a price for the
// model; the price is then all zeros and callers should say the cost is unknown.
struct PriceInfo {
  Price price;
  bool known = false;
};

struct PriceEntry {
  std::string_view model;
  Price price;
};

// The built-in table, in a stable order (for docs and `baton models`). Immutable.
std::span<const PriceEntry> BuiltinPrices();

// The built-in price of provider model id `model`. Matches the exact id, then a dated or
// "-latest" snapshot of a listed id ("gpt-4o-2024-08-06", "claude-3-5-haiku-latest"), and
// ignores a routing prefix ("openai/gpt-4o"). nullopt when the model is not listed.
std::optional<Price> BuiltinPrice(std::string_view model);

// The price for calls through `config`: its `price:` option ({input, output, cached_input,
// reasoning}, USD per 1M tokens, all optional) over the built-in price of `config.model`.
// Fields the override leaves out come from the built-in price when there is one; otherwise
// cached_input defaults to input and reasoning to output. Fails with kInvalidArgument on an
// unknown field or a value that is not a non-negative number.
Result<PriceInfo> ResolvePrice(const core::ModelConfig& config);

}  // namespace baton::providers
