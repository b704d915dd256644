#pragma once

// Text renderings of a workflow's step graph, for `baton graph` and docs. Nodes are labelled
// with the step id and its kind (agent name, tool, model); edges follow `needs` (from the step
// needed to the step needing it). Fan-out (for_each) and conditional (if) steps are drawn
// distinctly. Pure functions of a finalized workflow.

#include <string>

#include "core/workflow.hpp"

namespace baton::core {

// A Mermaid `flowchart TD`. Fan-out steps are subroutine boxes labelled "for each <as>";
// conditional steps are hexagons, and edges into them are dotted and labelled "if".
std::string RenderMermaid(const Workflow& wf);

// A Graphviz digraph. Fan-out steps have a double border (peripheries=2) and "for each <as>"
// in their label; conditional steps and the edges into them are dashed, edges labelled "if".
std::string RenderDot(const Workflow& wf);

// "agent: writer", "call: run_tests", "llm: smart", "llm", "set".
std::string StepKindLabel(const Step& step);

}  // namespace baton::core
