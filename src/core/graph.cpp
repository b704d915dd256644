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
  std::string label = std::visit(Visitor{}, step.kind);
  if (step.route) {  // `route:` chooses the agent and/or the model at run time
    const Route& r = *step.route;
    if (!r.capabilities.empty()) {
      label += fmt::format("by [{}]", fmt::join(r.capabilities, ", "));
    }
    if (!r.strategy.empty() || !r.models.empty() || (r.max_cost && r.capabilities.empty())) {
      label += " · " + (r.strategy.empty() ? std::string("cheapest") : r.strategy) + " model";
    }
  }
  return label;
}

namespace {

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t\n");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t\n");
  return std::string(s.substr(a, b - a + 1));
}

// The label drawn for block `b` of container `s`: a loop's exit condition, a case's condition, a
// branch's name.
std::string BlockLabel(const Step& s, const Block& b) {
  if (const auto* l = std::get_if<LoopStep>(&s.kind)) {
    std::string label = "repeat";
    if (l->until) label += " until " + Trim(l->until->source());
    if (l->converge_on) label += l->until ? ", or on convergence" : " until convergence";
    return label;
  }
  if (std::holds_alternative<SwitchStep>(s.kind) && b.when) {
    return b.name + ": if " + Trim(b.when->source());
  }
  return b.name;
}

std::string ContainerLabel(const Step& s) {
  std::string label = s.id + " · " + StepKindLabel(s);
  if (const auto* p = std::get_if<ParallelStep>(&s.kind)) {
    label += p->join == ParallelStep::Join::kAll   ? ", join all"
             : p->join == ParallelStep::Join::kAny ? ", join any"
                                                   : fmt::format(", join {}", p->n);
  }
  if (s.if_cond) label += " · if " + s.if_cond->source();
  return label;
}

void MermaidNodes(const Workflow& wf, const std::vector<int>& steps, int depth, std::string& out) {
  std::string pad(static_cast<size_t>(2 + depth * 2), ' ');
  for (int i : steps) {
    const Step& s = wf.steps[static_cast<size_t>(i)];
    if (IsContainer(s.kind)) {
      out += fmt::format("{}subgraph s{}[\"{}\"]\n", pad, i, MermaidText(ContainerLabel(s)));
      for (size_t k = 0; k < BlockCount(s.kind); ++k) {
        const Block& block = BlockAt(s.kind, k);
        out += fmt::format("{}  subgraph s{}_{}[\"{}\"]\n", pad, i, k,
                           MermaidText(BlockLabel(s, block)));
        MermaidNodes(wf, block.steps, depth + 2, out);
        out += pad + "  end\n";
      }
      out += pad + "end\n";
      continue;
    }
    std::string label = MermaidText(s.id) + "<br/>" + MermaidText(StepKindLabel(s));
    if (s.for_each) label += "<br/>for each " + MermaidText(s.as);
    if (s.if_cond) label += "<br/>if " + MermaidText(s.if_cond->source());
    const char* open = s.if_cond ? "{{" : s.for_each ? "[[" : "[";
    const char* close = s.if_cond ? "}}" : s.for_each ? "]]" : "]";
    out += fmt::format("{}s{}{}\"{}\"{}\n", pad, i, open, label, close);
  }
}

// The node a Graphviz edge attaches to for step `i`: containers get an anchor node.
std::string DotNode(const Workflow& wf, int i) {
  const Step& s = wf.steps[static_cast<size_t>(i)];
  return IsContainer(s.kind) ? "anchor:" + DotText(s.id) : DotText(s.id);
}

void DotNodes(const Workflow& wf, const std::vector<int>& steps, int depth, std::string& out) {
  std::string pad(static_cast<size_t>(2 + depth * 2), ' ');
  for (int i : steps) {
    const Step& s = wf.steps[static_cast<size_t>(i)];
    if (IsContainer(s.kind)) {
      out += fmt::format("{}subgraph \"cluster_{}\" {{\n{}  label=\"{}\";\n", pad, DotText(s.id),
                         pad, DotText(ContainerLabel(s)));
      out += fmt::format("{}  \"{}\" [shape=point, label=\"\"];\n", pad, DotNode(wf, i));
      for (size_t k = 0; k < BlockCount(s.kind); ++k) {
        const Block& block = BlockAt(s.kind, k);
        out += fmt::format("{}  subgraph \"cluster_{}_{}\" {{\n{}    label=\"{}\"; style=dashed;\n",
                           pad, DotText(s.id), k, pad, DotText(BlockLabel(s, block)));
        DotNodes(wf, block.steps, depth + 2, out);
        for (int c : block.steps) {
          if (Needs(wf, static_cast<size_t>(c)).empty()) {
            out += fmt::format("{}    \"{}\" -> \"{}\" [style=dotted];\n", pad, DotNode(wf, i),
                               DotNode(wf, c));
          }
        }
        out += pad + "  }\n";
      }
      out += pad + "}\n";
      continue;
    }
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
    out += fmt::format("{}\"{}\" [label=\"{}\"{}];\n", pad, DotText(s.id), label, attrs);
  }
}

std::vector<int> TopLevel(const Workflow& wf) {
  if (!wf.top_level.empty() || wf.steps.empty()) return wf.top_level;
  std::vector<int> out;
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    if (wf.steps[i].parent < 0 && !wf.steps[i].is_compensation) out.push_back(static_cast<int>(i));
  }
  return out;
}

}  // namespace

std::string RenderMermaid(const Workflow& wf) {
  std::string out = "flowchart TD\n";
  MermaidNodes(wf, TopLevel(wf), 0, out);
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
  DotNodes(wf, TopLevel(wf), 0, out);
  for (size_t i = 0; i < wf.steps.size(); ++i) {
    for (int j : Needs(wf, i)) {
      out +=
          fmt::format("  \"{}\" -> \"{}\"{};\n", DotNode(wf, j), DotNode(wf, static_cast<int>(i)),
                      wf.steps[i].if_cond ? " [style=dashed, label=\"if\"]" : "");
    }
  }
  out += "}\n";
  return out;
}

}  // namespace baton::core
