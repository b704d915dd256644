// WorkflowBuilder: the document it writes, the workflow it loads, and its diagnostics compared
// with those of the same workflow written in YAML.

#include "baton/workflow_builder.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "baton/baton.hpp"

namespace baton {
namespace {

std::unique_ptr<Baton> OpenBaton() {
  auto b = Baton::Open();
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return std::move(b).value();
}

// The messages of a load error, without their file:line:col, sorted.
std::vector<std::string> Messages(const Status& error) {
  std::vector<std::string> out;
  const std::string& m = error.message();
  size_t pos = m.find('\n');
  while (pos != std::string::npos) {
    size_t end = m.find('\n', pos + 1);
    std::string line = m.substr(pos + 1, end == std::string::npos ? end : end - pos - 1);
    auto at = line.find(": error: ");
    out.push_back(at == std::string::npos ? line : line.substr(at + 9));
    pos = end;
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(WorkflowBuilderTest, WritesTheDocumentAFileWouldHold) {
  WorkflowBuilder b("small");
  b.Description("A small one")
      .Input("topic", {{"type", "string"}})
      .Model("m", "sim", "sim-small", {{"temperature", 0.5}})
      .Agent("writer", "m", "Write.")
      .ExecTool("echo", {"echo", "${{ with.x }}"}, {{"output", "text"}})
      .Field("defaults", {{"timeout", "1m"}});
  b.Step("draft").Agent("writer", "${{ inputs.topic }}").Retry(2).Timeout("30s");
  b.Step("say").Needs({}).Call("echo", {{"x", "hi"}});
  b.Output("draft", "${{ steps.draft.output }}");
  auto expected = ParseJson(R"j({
    "baton": 1, "name": "small", "description": "A small one",
    "inputs": {"topic": {"type": "string"}},
    "models": {"m": {"provider": "sim", "model": "sim-small", "temperature": 0.5}},
    "agents": {"writer": {"model": "m", "instructions": "Write."}},
    "tools": {"echo": {"exec": {"argv": ["echo", "${{ with.x }}"], "output": "text"}}},
    "defaults": {"timeout": "1m"},
    "steps": [
      {"id": "draft", "agent": "writer", "input": "${{ inputs.topic }}",
       "retry": {"max_attempts": 2}, "timeout": "30s"},
      {"id": "say", "needs": [], "call": "echo", "with": {"x": "hi"}}
    ],
    "outputs": {"draft": "${{ steps.draft.output }}"}
  })j");
  ASSERT_TRUE(expected.ok());
  EXPECT_EQ(CanonicalJson(b.ToJson()), CanonicalJson(*expected));
  // Keys come in the order a file has them.
  std::string text = b.ToText();
  EXPECT_LT(text.find("\"baton\""), text.find("\"inputs\""));
  EXPECT_LT(text.find("\"agents\""), text.find("\"steps\""));
  EXPECT_LT(text.find("\"steps\""), text.find("\"outputs\""));
}

TEST(WorkflowBuilderTest, BuildsAWorkflowWithEveryStepKindAndRunsIt) {
  WorkflowBuilder b("built");
  b.Input("topic", {{"type", "string"}})
      .Input("n", {{"type", "integer"}, {"default", 2}})
      .Model("m", "sim", "sim-small")
      .Agent("writer", "m", "Write about ${{ inputs.topic }}.")
      .ExecTool("echo", {"echo", "${{ with.word }}"}, {{"timeout", "10s"}})
      .Field("defaults", {{"timeout", "1m"}});
  b.Step("prep").Set({{"memory.topic", "${{ inputs.topic }}"}, {"items", "${{ [1, 2, 3] }}"}});
  b.Step("draft").Agent("writer", "${{ memory.topic }}").Retry(2).Timeout("30s");
  b.Step("words")
      .Needs({"prep"})
      .ForEach("${{ steps.prep.output.items }}")
      .As("w")
      .MaxParallel(2)
      .Call("echo", {{"word", "${{ string(w) }}"}})
      .Output("${{ join(result, '+') }}");
  b.Step("never").Needs({"draft", "words"}).If("${{ inputs.n > 5 }}").Llm("unused");
  b.Step("ask").Needs({"draft"}).Llm(
      {{"model", "m"}, {"prompt", "Summarise ${{ steps.draft.output }}"}});
  b.Output("words", "${{ steps.words.output }}")
      .Output("never", "${{ steps.never.status }}")
      .Output("topic", "${{ memory.topic }}")
      .Output("asked", "${{ steps.ask.output }}");

  auto baton = OpenBaton();
  auto wf = b.Build(*baton);
  ASSERT_TRUE(wf.ok()) << wf.status().ToString() << "\n" << b.ToText();
  const core::Workflow& w = **wf;
  EXPECT_EQ(w.name, "built");
  ASSERT_EQ(w.steps.size(), 5u);
  EXPECT_EQ(w.inputs.size(), 2u);
  EXPECT_TRUE(w.tools.contains("echo"));
  EXPECT_EQ(w.default_timeout, Millis(60000));
  EXPECT_TRUE(std::holds_alternative<core::SetStep>(w.steps[0].kind));
  EXPECT_TRUE(std::holds_alternative<core::AgentStep>(w.steps[1].kind));
  ASSERT_TRUE(w.steps[1].retry.has_value());
  EXPECT_EQ(w.steps[1].retry->max_attempts, 2);
  EXPECT_EQ(w.steps[1].timeout, Millis(30000));
  EXPECT_TRUE(std::holds_alternative<core::CallStep>(w.steps[2].kind));
  EXPECT_TRUE(w.steps[2].for_each.has_value());
  EXPECT_EQ(w.steps[2].as, "w");
  EXPECT_EQ(w.steps[2].max_parallel, 2);
  EXPECT_EQ(w.steps[2].needs, std::vector<std::string>{"prep"});
  EXPECT_TRUE(w.steps[3].if_cond.has_value());
  EXPECT_TRUE(std::holds_alternative<core::LlmStep>(w.steps[4].kind));

  auto r = baton->Run(*wf, json::object{{"topic", "tides"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  const auto& out = r->summary().at("outputs");
  EXPECT_EQ(out.at("words"), "1+2+3");
  EXPECT_EQ(out.at("never"), "skipped");
  EXPECT_EQ(out.at("topic"), "tides");
  EXPECT_TRUE(out.at("asked").is_string());
}

TEST(WorkflowBuilderTest, GivesTheSameDiagnosticsAsTheSameWorkflowInYaml) {
  WorkflowBuilder b("bad");
  b.Model("m", "sim", "sim-small").Agent("writer", "m", "Write.");
  b.Step("a").Agent("writr", "${{ inputs.topik }}");
  b.Step("b").Needs({"cout"}).Set({{"x", 1}});
  b.Step("c").Field("loop", json::object{});
  b.Step("d").Set({{"y", "${{ steps.nope.output }}"}}).MaxParallel(-1);
  auto baton = OpenBaton();
  auto built = b.Build(*baton);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(built.error().message().rfind("bad.json does not load", 0), 0u)
      << built.error().message();

  auto yaml = baton->LoadText(R"y(baton: 1
name: bad
models:
  m: { provider: sim, model: sim-small }
agents:
  writer: { model: m, instructions: Write. }
steps:
  - id: a
    agent: writr
    input: ${{ inputs.topik }}
  - id: b
    needs: [cout]
    set: { x: 1 }
  - id: c
    loop: {}
  - id: d
    set: { y: "${{ steps.nope.output }}" }
    max_parallel: -1
)y",
                              "bad.yaml");
  ASSERT_FALSE(yaml.ok());
  std::vector<std::string> from_builder = Messages(built.error());
  EXPECT_GE(from_builder.size(), 5u) << built.error().message();
  EXPECT_EQ(from_builder, Messages(yaml.error())) << built.error().message() << "\n"
                                                  << yaml.error().message();
}

TEST(WorkflowBuilderTest, ReportsNamesGivenTwiceWithTheLoadersDiagnostics) {
  WorkflowBuilder b("twice");
  b.Input("x", {{"type", "string"}}).Input("x", {{"type", "integer"}});
  b.Step("s").Agent("nobody", "hi").Llm("and a second kind");
  auto baton = OpenBaton();
  auto built = b.Build(*baton);
  ASSERT_FALSE(built.ok());
  const std::string& msg = built.error().message();
  EXPECT_NE(msg.find("twice.json: error: input 'x' is declared twice"), std::string::npos) << msg;
  EXPECT_NE(msg.find("more than one kind"), std::string::npos) << msg;
}

TEST(WorkflowBuilderTest, KnowsTheBatonsRegisteredTools) {
  WorkflowBuilder b("uses-tool");
  b.Step("s").Call("shout", {{"text", "hi"}});
  b.Output("said", "${{ steps.s.output }}");

  auto plain = OpenBaton();
  auto unknown = b.Build(*plain);
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("shout"), std::string::npos);

  auto with_tool = OpenBaton();
  ASSERT_TRUE(with_tool
                  ->RegisterTool("shout",
                                 [](const json::value& args) -> Result<json::value> {
                                   std::string s(args.at("text").as_string());
                                   return json::value(s + "!");
                                 })
                  .ok());
  auto wf = b.Build(*with_tool);
  ASSERT_TRUE(wf.ok()) << wf.status().ToString();
  auto r = with_tool->Run(*wf);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->summary().at("outputs").at("said"), "hi!");
}

}  // namespace
}  // namespace baton
