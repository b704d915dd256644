#include "core/graph.hpp"

#include <fmt/format.h>

namespace baton::core {

namespace {

// Escapes text for a double-quoted Mermaid label (HTML entities are the only escape).
std::string MermaidText(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"':
        out += "#quot;";
        break;
      case '<':
        out += "#lt;";
        break;
      case '>':
        out += "#gt;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string DotText(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

// Finalize() fills needs_idx; workflows not finalized fall back to resolving names here.
std::vector<int> Needs(const Workflow& wf, size_t i) {
  if (wf.needs_idx.size() == wf.steps.size()) return wf.needs_idx[i];
  std::vector<int> out;
  for (const auto& n : wf.steps[i].needs) {
    for (size_t j = 0; j < wf.steps.size(); ++j) {
      if (wf.steps[j].id == n) {
        out.push_back(static_cast<int>(j));
        break;
      }
    }
  }
  return out;
}

}  // namespace

std::string StepKindLabel(const Step& step) {
  struct Visitor {
    std::string operator()(const AgentStep& a) const { return "agent: " + a.agent; }
    std::string operator()(const LlmStep& l) const {
      return l.model.empty() ? std::string("llm") : "llm: " + l.model;
    }
    std::string operator()(const SetStep&) const { return "set"; }
    std::string operator()(const CallStep& c) const { return "call: " + c.tool; }
    std::string operator()(const ConsensusStep& c) const {
      return fmt::format("consensus: {} of {}", c.method, c.participants.size());
    }
    std::string operator()(const PlanStep& p) const { return "plan: " + p.planner; }
    std::string operator()(const EmitStep& e) const { return "emit: " + e.event; }
    std::string operator()(const WaitStep& w) const {
      return w.event.empty() ? std::string("wait: timer") : "wait: " + w.event;
    }
    std::string operator()(const WorkflowStep& w) const { return "workflow: " + w.path; }
    std::string operator()(const SwitchStep& s) const {
      return fmt::format("switch: {} cases", s.cases.size());
    }
    std::string operator()(const ParallelStep& p) const {
      return fmt::format("parallel: {} branches", p.branches.size());
    }
    std::string operator()(const LoopStep& l) const {
      return fmt::format("loop: at most {}", l.max_iterations);
    }
    std::string operator()(const ApprovalStep&) const { return "approval"; }
  };
  return std::visit(Visitor{}, step.kind);
}

std::string RenderMermaid(const Workflow& wf) {
  std::string out = "flowchart TD\n";
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    const Step& s = wf.steps[i];
    std::string label = MermaidText(s.id) + "<br/>" + MermaidText(StepKindLabel(s));
    if (s.for_each) label += "<br/>for each " + MermaidText(s.as);
    if (s.if_cond) label += "<br/>if " + MermaidText(s.if_cond->source());
    const char* open = s.if_cond ? "{{" : s.for_each ? "[[" : "[";
    const char* close = s.if_cond ? "}}" : s.for_each ? "]]" : "]";
    out += fmt::format("  s{}{}\"{}\"{}\n", i, open, label, close);
  }
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    for (int j : Needs(wf, i)) {
      if (wf.steps[i].if_cond) {
        out += fmt::format("  s{} -. if .-> s{}\n", j, i);
      } else {
        out += fmt::format("  s{} --> s{}\n", j, i);
      }
    }
  }
  return out;
}

std::string RenderDot(const Workflow& wf) {
  std::string out =
      fmt::format("digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box];\n", DotText(wf.name));
  for (const Step& s : wf.steps) {
    std::string label = DotText(s.id) + "\\n" + DotText(StepKindLabel(s));
    std::string attrs;
    if (s.for_each) {
      label += "\\nfor each " + DotText(s.as);
      attrs += ", peripheries=2";
    }
    if (s.if_cond) {
      label += "\\nif " + DotText(s.if_cond->source());
      attrs += ", style=dashed";
    }
    out += fmt::format("  \"{}\" [label=\"{}\"{}];\n", DotText(s.id), label, attrs);
  }
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    for (int j : Needs(wf, i)) {
      out += fmt::format("  \"{}\" -> \"{}\"{};\n", DotText(wf.steps[static_cast<size_t>(j)].id),
                         DotText(wf.steps[i].id),
                         wf.steps[i].if_cond ? " [style=dashed, label=\"if\"]" : "");
    }
  }
  out += "}\n";
  return out;
}

}  // namespace baton::core
