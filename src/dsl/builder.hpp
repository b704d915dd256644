#pragma once

// First loader pass: JSON (from YAML) -> core::Workflow. Checks keys, types, value ranges and
// name syntax, compiles every string leaf into an expr::Template, and records what the second
// pass (checker.hpp) must resolve. Reports every problem it finds; never stops early.

#include "dsl/build_context.hpp"

namespace baton::dsl {

BuildOutput BuildWorkflow(const json::value& root, Reporter& reporter);

// The same pass over a config file (config.hpp): `models:` as in a workflow, plus
// `providers:`, `prices:` and `budget: { daily_usd }` into the config_* fields.
BuildOutput BuildConfig(const json::value& root, Reporter& reporter);

}  // namespace baton::dsl
