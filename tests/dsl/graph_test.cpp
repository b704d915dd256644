#include "core/graph.hpp"

#include <gtest/gtest.h>

#include "dsl/loader.hpp"

namespace baton::core {
namespace {

std::shared_ptr<const Workflow> Load() {
  dsl::LoadResult r = dsl::LoadWorkflowText(R"(baton: 1
name: g
models: { m: { provider: sim, model: s } }
agents: { w: { model: m } }
tools: { t: { exec: { argv: [echo, hi] } } }
steps:
  - id: plan
    llm: { model: m, prompt: go }
  - id: fan
    for_each: ${{ steps.plan.output }}
    agent: w
    input: ${{ item }}
  - id: maybe
    needs: [plan]
    if: ${{ steps.plan.status == "ok" }}
    call: t
  - id: join
    needs: [fan, maybe]
    set: { x: 1 }
)",
                                            "g.yaml");
  for (const auto& d : r.diagnostics) ADD_FAILURE() << dsl::FormatDiagnostic(d);
  return r.workflow;
}

TEST(GraphTest, Mermaid) {
  auto wf = Load();
  ASSERT_NE(wf, nullptr);
  EXPECT_EQ(RenderMermaid(*wf),
            "flowchart TD\n"
            "  s0[\"plan<br/>llm: m\"]\n"
            "  s1[[\"fan<br/>agent: w<br/>for each item\"]]\n"
            "  s2{{\"maybe<br/>call: t<br/>if  steps.plan.status == #quot;ok#quot; \"}}\n"
            "  s3[\"join<br/>set\"]\n"
            "  s0 --> s1\n"
            "  s0 -. if .-> s2\n"
            "  s1 --> s3\n"
            "  s2 --> s3\n");
}

TEST(GraphTest, Dot) {
  auto wf = Load();
  ASSERT_NE(wf, nullptr);
  EXPECT_EQ(RenderDot(*wf),
            "digraph \"g\" {\n"
            "  rankdir=TB;\n"
            "  node [shape=box];\n"
            "  \"plan\" [label=\"plan\\nllm: m\"];\n"
            "  \"fan\" [label=\"fan\\nagent: w\\nfor each item\", peripheries=2];\n"
            "  \"maybe\" [label=\"maybe\\ncall: t\\nif  steps.plan.status == \\\"ok\\\" \", "
            "style=dashed];\n"
            "  \"join\" [label=\"join\\nset\"];\n"
            "  \"plan\" -> \"fan\";\n"
            "  \"plan\" -> \"maybe\" [style=dashed, label=\"if\"];\n"
            "  \"fan\" -> \"join\";\n"
            "  \"maybe\" -> \"join\";\n"
            "}\n");
}

TEST(GraphTest, UnfinalizedWorkflowResolvesNeedsByName) {
  Workflow wf;
  wf.name = "x";
  Step a;
  a.id = "a";
  a.kind = SetStep{};
  Step b;
  b.id = "b";
  b.kind = CallStep{"tool", {}};
  b.needs = {"a"};
  wf.steps = {a, b};
  EXPECT_NE(RenderMermaid(wf).find("s0 --> s1"), std::string::npos);
  EXPECT_NE(RenderDot(wf).find("\"a\" -> \"b\";"), std::string::npos);
}

}  // namespace
}  // namespace baton::core
