#include "dsl/checker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "dsl/route.hpp"

namespace baton::dsl {

namespace {

const std::vector<std::string> kStepFields = {"output", "status", "error", "usage", "attempts"};

template <typename Map>
std::vector<std::string> KeysOf(const Map& m) {
  std::vector<std::string> out;
  for (const auto& kv : m) out.push_back(kv.first);
  return out;
}

class Checker {
 public:
  Checker(BuildOutput& out, Reporter& r, const LoadOptions& options)
      : out_(out), wf_(out.workflow), r_(r), options_(options) {}

  void Run() {
    IndexSteps();
    ResolveNeeds();
    FindCycles();
    ResolveNames();
    CheckProviders();
    CheckLlmModels();
    CheckRoutes(out_, r_);
    CheckExpressions();
  }

 private:
  void IndexSteps() {
    for (size_t i = 0; i < wf_.steps.size(); ++i) {
      if (out_.steps[i].has_id) {
        index_.emplace(wf_.steps[i].id, static_cast<int>(i));
        ids_.push_back(wf_.steps[i].id);
      }
    }
    needs_.assign(wf_.steps.size(), {});
  }

  void ResolveNeeds() {
    for (size_t i = 0; i < wf_.steps.size(); ++i) {
      const core::Step& step = wf_.steps[i];
      const StepMeta& meta = out_.steps[i];
      for (size_t k = 0; k < step.needs.size(); ++k) {
        auto it = index_.find(step.needs[k]);
        if (it != index_.end()) {
          const core::Step& need = wf_.steps[static_cast<size_t>(it->second)];
          if (need.parent != step.parent || need.block != step.block) {
            if (step.explicit_needs && k < meta.needs_pointers.size()) {
              std::string where = need.parent >= 0
                                      ? fmt::format("it is inside '{}'",
                                                    wf_.steps[static_cast<size_t>(need.parent)].id)
                                      : std::string("it is outside this block");
              r_.AtValue(meta.needs_pointers[k],
                         fmt::format("{} needs '{}', but {}: a step may only need steps of its "
                                     "own list (need the container instead)",
                                     Owner(i), step.needs[k], where));
            }
            continue;
          }
          needs_[i].push_back(it->second);
          continue;
        }
        if (!step.explicit_needs || k >= meta.needs_pointers.size()) continue;
        r_.AtValue(meta.needs_pointers[k],
                   fmt::format("{} needs unknown step '{}'{}", Owner(i), step.needs[k],
                               DidYouMean(step.needs[k], ids_)));
      }
    }
  }

  std::string Owner(size_t i) const {
    return out_.steps[i].has_id ? fmt::format("step '{}'", wf_.steps[i].id) : "step";
  }

  // Kahn's algorithm leaves the steps on or behind a cycle; walking `needs` inside that set
  // from its first step must revisit a step, which closes a cycle. Each cycle is reported once,
  // at the `needs` entry of its first step (in file order) that closes it.
  void FindCycles() {
    size_t n = wf_.steps.size();
    std::vector<int> pending(n, 0);
    std::vector<std::vector<int>> dependents(n);
    for (size_t i = 0; i < n; ++i) {
      pending[i] = static_cast<int>(needs_[i].size());
      for (int j : needs_[i]) dependents[static_cast<size_t>(j)].push_back(static_cast<int>(i));
    }
    std::vector<int> ready;
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] == 0) ready.push_back(static_cast<int>(i));
    }
    std::vector<char> done(n, 0);
    while (!ready.empty()) {
      int i = ready.back();
      ready.pop_back();
      done[static_cast<size_t>(i)] = 1;
      for (int d : dependents[static_cast<size_t>(i)]) {
        if (--pending[static_cast<size_t>(d)] == 0) ready.push_back(d);
      }
    }
    std::vector<char> reported(n, 0);
    std::vector<int> pos(n, -1);
    for (size_t s = 0; s < n; ++s) {
      if (done[s] || reported[s]) continue;
      std::vector<int> walk;
      int cur = static_cast<int>(s);
      bool hit_reported = false;
      while (pos[static_cast<size_t>(cur)] < 0) {
        if (reported[static_cast<size_t>(cur)]) {
          hit_reported = true;
          break;
        }
        pos[static_cast<size_t>(cur)] = static_cast<int>(walk.size());
        walk.push_back(cur);
        int next = -1;
        for (int j : needs_[static_cast<size_t>(cur)]) {
          if (!done[static_cast<size_t>(j)]) {
            next = j;
            break;
          }
        }
        cur = next;
      }
      for (int w : walk) reported[static_cast<size_t>(w)] = 1;
      if (hit_reported) {
        for (int w : walk) {
          pos[static_cast<size_t>(w)] = -1;
          Unreachable(w, wf_.steps[static_cast<size_t>(cur)].id);
        }
        continue;
      }
      for (int k = 0; k < pos[static_cast<size_t>(cur)]; ++k) {
        Unreachable(walk[static_cast<size_t>(k)], wf_.steps[static_cast<size_t>(cur)].id);
      }
      // walk[pos[cur]..] is the cycle in `needs` order; flow order is its reverse.
      std::vector<int> cycle(walk.begin() + pos[static_cast<size_t>(cur)], walk.end());
      std::reverse(cycle.begin(), cycle.end());
      auto first = std::min_element(cycle.begin(), cycle.end());
      std::rotate(cycle.begin(), first, cycle.end());
      std::string text;
      for (int c : cycle) text += wf_.steps[static_cast<size_t>(c)].id + " -> ";
      text += wf_.steps[static_cast<size_t>(cycle[0])].id;
      // The first step needs the cycle's last step.
      size_t a = static_cast<size_t>(cycle.front());
      const std::string& closing = wf_.steps[static_cast<size_t>(cycle.back())].id;
      std::string ptr = ChildPointer(out_.steps[a].pointer, "needs");
      const auto& needs = wf_.steps[a].needs;
      for (size_t k = 0; k < needs.size() && k < out_.steps[a].needs_pointers.size(); ++k) {
        if (needs[k] == closing) {
          ptr = out_.steps[a].needs_pointers[k];
          break;
        }
      }
      r_.AtValue(ptr, fmt::format("dependency cycle: {}", text));
      for (int w : walk) pos[static_cast<size_t>(w)] = -1;
    }
  }

  // Step `i` waits (through `needs`) for a step on a dependency cycle, so it can never run.
  void Unreachable(int i, const std::string& blocker) {
    const StepMeta& meta = out_.steps[static_cast<size_t>(i)];
    std::string ptr = meta.needs_pointers.empty() ? meta.pointer : meta.needs_pointers.front();
    r_.AtValue(ptr, fmt::format("{} can never run: it waits for '{}', which is on or behind a "
                                "dependency cycle",
                                Owner(static_cast<size_t>(i)), blocker));
  }

  void ResolveNames() {
    std::vector<std::string> agents = KeysOf(wf_.agents);
    std::vector<std::string> models = KeysOf(wf_.models);
    std::vector<std::string> tools = KeysOf(wf_.tools);
    std::vector<std::string> servers = KeysOf(wf_.mcp_servers);
    for (const NameRef& ref : out_.refs) {
      switch (ref.kind) {
        case NameRef::Kind::kAgent:
        case NameRef::Kind::kHandoff:
          if (!wf_.agents.count(ref.name)) {
            r_.AtValue(ref.pointer,
                       fmt::format("{} {} unknown agent '{}'{}", ref.owner,
                                   ref.kind == NameRef::Kind::kAgent ? "uses" : "hands off to",
                                   ref.name, DidYouMean(ref.name, agents)));
          }
          break;
        case NameRef::Kind::kModel:
          if (!wf_.models.count(ref.name)) {
            r_.AtValue(ref.pointer, fmt::format("{} uses unknown model '{}'{}", ref.owner, ref.name,
                                                DidYouMean(ref.name, models)));
          }
          break;
        case NameRef::Kind::kTool:
        case NameRef::Kind::kAgentTool: {
          size_t dot = ref.name.find('.');
          if (dot != std::string::npos) {
            std::string server = ref.name.substr(0, dot);
            if (!wf_.mcp_servers.count(server)) {
              r_.AtValue(ref.pointer,
                         fmt::format("{} uses tool '{}' of unknown MCP server '{}'{}", ref.owner,
                                     ref.name, server, DidYouMean(server, servers)));
            } else if (dot + 1 == ref.name.size()) {
              r_.AtValue(ref.pointer, fmt::format("tool name missing after '{}.'", server));
            }
          } else if (!wf_.tools.count(ref.name) &&
                     std::find(options_.host_tools.begin(), options_.host_tools.end(), ref.name) ==
                         options_.host_tools.end()) {
            r_.AtValue(ref.pointer, fmt::format("{} {} unknown tool '{}'{}", ref.owner,
                                                ref.kind == NameRef::Kind::kTool ? "calls" : "uses",
                                                ref.name, DidYouMean(ref.name, tools)));
          }
          break;
        }
      }
    }
  }

  // An `llm:` step without `model:` uses the workflow's only model; with several, it must say.
  void CheckLlmModels() {
    for (size_t i = 0; i < wf_.steps.size(); ++i) {
      const auto* llm = std::get_if<core::LlmStep>(&wf_.steps[i].kind);
      if (!llm || !llm->model.empty() || wf_.models.size() == 1 || wf_.steps[i].route) continue;
      r_.AtKey(out_.steps[i].pointer + "/llm",
               wf_.models.empty()
                   ? std::string("an 'llm' step needs a model, and 'models:' declares none")
                   : fmt::format("this 'llm' step must name its model: the workflow declares {} "
                                 "models",
                                 wf_.models.size()));
    }
  }

  // `models.*.provider` names a provider the host can create (when the host says which).
  void CheckProviders() {
    if (options_.providers.empty()) return;
    for (const auto& [name, model] : wf_.models) {
      if (std::find(options_.providers.begin(), options_.providers.end(), model.provider) !=
          options_.providers.end()) {
        continue;
      }
      std::string known;
      for (const auto& p : options_.providers) known += (known.empty() ? "" : ", ") + p;
      r_.AtValue(
          "/models/" + name + "/provider",
          fmt::format("model '{}' uses unknown provider '{}'{} (this build has: {})", name,
                      model.provider, DidYouMean(model.provider, options_.providers), known));
    }
  }

  // Whether step `from` transitively needs step `to`.
  bool DependsOn(int from, int to) {
    auto it = closure_.find(from);
    if (it == closure_.end()) {
      std::vector<char> seen(wf_.steps.size(), 0);
      std::vector<int> stack = needs_[static_cast<size_t>(from)];
      while (!stack.empty()) {
        int j = stack.back();
        stack.pop_back();
        if (seen[static_cast<size_t>(j)]) continue;
        seen[static_cast<size_t>(j)] = 1;
        for (int k : needs_[static_cast<size_t>(j)]) stack.push_back(k);
      }
      it = closure_.emplace(from, std::move(seen)).first;
    }
    return it->second[static_cast<size_t>(to)] != 0;
  }

  int Parent(int i) const { return wf_.steps[static_cast<size_t>(i)].parent; }

  // Whether step `i` is nested in a loop (it may read its own previous iteration's output).
  bool InLoop(int i) const {
    for (int p = Parent(i); p >= 0; p = Parent(p)) {
      if (std::holds_alternative<core::LoopStep>(wf_.steps[static_cast<size_t>(p)].kind)) {
        return true;
      }
    }
    return false;
  }

  bool IsInside(int inner, int outer) const {
    for (int p = Parent(inner); p >= 0; p = Parent(p)) {
      if (p == outer) return true;
    }
    return false;
  }

  // Whether step `reader` (or, with `body`, the steps nested in it) can see `target` finished:
  // `target` or a container holding it is needed, directly or through `reader`'s containers; or
  // both sit in one loop (the previous iteration's value).
  bool CanRead(int reader, int target, bool body) {
    if (body && IsInside(target, reader)) return true;
    for (int r = reader; r >= 0; r = Parent(r)) {
      for (int t = target; t >= 0; t = Parent(t)) {
        if (DependsOn(r, t)) return true;
      }
      if (r != reader &&
          std::holds_alternative<core::LoopStep>(wf_.steps[static_cast<size_t>(r)].kind) &&
          IsInside(target, r)) {
        return true;
      }
    }
    return false;
  }

  void CheckExpressions() {
    std::vector<std::string> inputs;
    for (const auto& in : wf_.inputs) inputs.push_back(in.name);
    for (const ExprSite& site : out_.sites) {
      expr::Scope scope{site.roots};
      for (const expr::ExprError& e : site.expr.Check(scope)) {
        r_.AtOffset(site.pointer, site.offset + e.offset, e.message);
      }
      for (const expr::Reference& ref : site.expr.References()) {
        if (ref.path.size() < 2) continue;
        if (std::find(site.roots.begin(), site.roots.end(), ref.path[0]) == site.roots.end()) {
          continue;
        }
        size_t at = site.offset + ref.offset;
        if (ref.path[0] == "inputs") {
          if (std::find(inputs.begin(), inputs.end(), ref.path[1]) == inputs.end()) {
            r_.AtOffset(
                site.pointer, at,
                fmt::format("unknown input '{}'{}", ref.path[1], DidYouMean(ref.path[1], inputs)));
          }
        } else if (ref.path[0] == "steps") {
          CheckStepReference(site, ref, at);
        }
      }
    }
  }

  void CheckStepReference(const ExprSite& site, const expr::Reference& ref, size_t at) {
    const std::string& id = ref.path[1];
    auto it = index_.find(id);
    if (it == index_.end()) {
      r_.AtOffset(site.pointer, at, fmt::format("unknown step '{}'{}", id, DidYouMean(id, ids_)));
      return;
    }
    if (ref.path.size() >= 3 &&
        std::find(kStepFields.begin(), kStepFields.end(), ref.path[2]) == kStepFields.end()) {
      r_.AtOffset(site.pointer, at,
                  fmt::format("steps.{} has no field '{}'{} (use output, status, error, usage "
                              "or attempts)",
                              id, ref.path[2], DidYouMean(ref.path[2], kStepFields)));
    }
    if (site.any_step || site.step < 0) return;
    size_t self = static_cast<size_t>(site.step);
    if (wf_.steps[self].is_compensation) {
      // A compensation (core/saga.hpp) runs after the step it undoes: it may read that step's
      // output and what that step may read.
      int undone = -1;
      for (size_t k = 0; k < wf_.steps.size(); ++k) {
        if (wf_.steps[k].compensation == site.step) undone = static_cast<int>(k);
      }
      if (undone < 0 || it->second == undone || CanRead(undone, it->second, false)) return;
      r_.AtOffset(site.pointer, at,
                  fmt::format("the compensation of {} reads steps.{}, which does not run before "
                              "that step (add '{}' to its needs)",
                              Owner(static_cast<size_t>(undone)), id, id));
      return;
    }
    if (it->second == site.step && !InLoop(site.step)) {
      r_.AtOffset(site.pointer, at,
                  fmt::format("{} cannot read its own steps.{}", Owner(self), id));
    } else if (!CanRead(site.step, it->second, site.body)) {
      // Suggest what to need: the target, or the container holding it in the reader's list.
      int need = it->second;
      while (need >= 0 && Parent(need) != Parent(site.step)) need = Parent(need);
      std::string suggest = need >= 0 ? wf_.steps[static_cast<size_t>(need)].id : id;
      r_.AtOffset(site.pointer, at,
                  fmt::format("{} reads steps.{}, which does not run before it (add '{}' to "
                              "needs)",
                              Owner(self), id, suggest));
    }
  }

  BuildOutput& out_;
  core::Workflow& wf_;
  Reporter& r_;
  const LoadOptions& options_;
  std::unordered_map<std::string, int> index_;
  std::vector<std::string> ids_;
  std::vector<std::vector<int>> needs_;
  std::unordered_map<int, std::vector<char>> closure_;
};

}  // namespace

void CheckWorkflow(BuildOutput& out, Reporter& reporter, const LoadOptions& options) {
  Checker(out, reporter, options).Run();
}

}  // namespace baton::dsl
