#pragma once

// Second loader pass: resolves names (needs, agents, models, tools, MCP servers), finds
// dependency cycles, fills implicit `needs`, and checks every expression: static type/name
// errors from expr::Expression::Check, and `steps.X` / `inputs.X` references against the
// dependency graph and the declared inputs.

#include "dsl/build_context.hpp"
#include "dsl/loader.hpp"

namespace baton::dsl {

void CheckWorkflow(BuildOutput& out, Reporter& reporter, const LoadOptions& options);

}  // namespace baton::dsl
