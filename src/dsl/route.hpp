#pragma once

// `route:` on agent and llm steps: parsing (builder pass) and the checks that need the whole
// workflow (checker pass). Private to dsl/. The rules are in docs/dsl.md ("Routing").

#include <optional>
#include <string>

#include "core/workflow.hpp"
#include "dsl/build_context.hpp"

namespace baton::dsl {

// Parses `route: { capabilities, strategy, max_cost, models }` at `ptr`, reporting wrong keys,
// types and values; model names become references for the checker (unknown models are reported
// there). nullopt when the value is not a mapping.
std::optional<core::Route> BuildRoute(const json::value& v, const std::string& ptr,
                                      const std::string& owner, Reporter& r,
                                      std::vector<NameRef>& refs);

// Whether the step mapping `s` is an agent step that leaves its agent to `route.capabilities`
// (no `agent:` and no other kind, a `route:` mapping with capabilities).
bool RoutesAgent(const json::object& s);

// Reports the keys of such a step that only other kinds take (`with`, `join`).
void CheckRoutedAgentKeys(const json::object& s, const std::string& ptr, Reporter& r);

// Checks every routed step: a route only on agent and llm steps; capabilities only on agent
// steps without `agent:`; each capability held by some agent and all of them by one agent;
// something to choose from when the route picks a model.
void CheckRoutes(const BuildOutput& out, Reporter& r);

}  // namespace baton::dsl
