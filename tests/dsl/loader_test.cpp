#include "dsl/loader.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace baton::dsl {
namespace {

std::string Lines(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) out += FormatDiagnostic(d) + "\n";
  return out;
}

// Only the errors (warnings do not stop a load).
std::string Errors(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) {
    if (d.severity == "error") out += FormatDiagnostic(d) + "\n";
  }
  return out;
}

constexpr const char* kFull = R"yaml(baton: 1
name: full
description: every supported construct
inputs:
  topic: { type: string }
  depth: { type: integer, default: 3 }
models:
  fast: { provider: sim, model: sim-small }
  smart: { provider: openai, model: gpt-4o-mini, base_url: "http://127.0.0.1:9/v1",
           api_key_env: OPENAI_API_KEY, fallback: [fast], max_tokens: 2048, temperature: 0.2 }
agents:
  writer:
    model: smart
    description: writes
    instructions: "Write about ${{ inputs.topic }}."
    capabilities: [writing]
    tools: [wc, notes.write]
    output_schema: { type: object }
    max_turns: 4
    handoffs: [writer]
tools:
  wc:
    description: count words
    input_schema: { type: object }
    exec: { argv: [wc, -w, "${{ with.path }}"], cwd: /tmp, env: { LANG: C }, timeout: 2m,
            stdin: with, output: json }
mcp_servers:
  notes: { command: [notes-server, --stdio] }
  web: { url: "http://127.0.0.1:3001/mcp" }
defaults:
  retry: { max_attempts: 3, on: [rate_limited, timeout],
           backoff: { initial: 500ms, factor: 3, max: 1m, jitter: none } }
  timeout: 5m
  run_timeout: 1h
budget: { max_cost_usd: 2.5, max_tokens: 200000, on_exceed: fail }
steps:
  - id: plan
    llm: { model: fast, prompt: "List ${{ inputs.depth }} questions about ${{ inputs.topic }}",
           system: be brief, output_schema: { type: array } }
  - id: research
    for_each: ${{ steps.plan.output }}
    as: question
    max_parallel: 4
    agent: writer
    input: "${{ question }} (#${{ index }})"
    retry: { max_attempts: 5 }
    timeout: 30s
    effect: once
    catch:
      - errors: [content_filter, tool_error]
        then: { output: "${{ error.type }}" }
      - error: timeout
        then: continue
  - id: count
    needs: [research]
    if: ${{ size(steps.research.output) > 0 }}
    call: wc
    with: { path: "/tmp/${{ inputs.topic }}" }
    output: ${{ result.words }}
  - id: remember
    set: { memory.total: "${{ steps.count.output }}", label: done }
  - id: ask
    llm: { model: fast, prompt: "Summarise ${{ memory.total }}" }
outputs:
  total: ${{ steps.count.output }}
  plan: ${{ steps.plan.output }}
)yaml";

TEST(LoaderTest, BuildsTheModel) {
  LoadResult r = LoadWorkflowText(kFull, "full.yaml");
  ASSERT_EQ(Errors(r), "");
  ASSERT_NE(r.workflow, nullptr);
  const core::Workflow& wf = *r.workflow;
  EXPECT_EQ(wf.name, "full");
  EXPECT_EQ(wf.file, "full.yaml");
  ASSERT_EQ(wf.inputs.size(), 2u);
  EXPECT_TRUE(wf.inputs[0].required);
  EXPECT_FALSE(wf.inputs[1].required);
  EXPECT_EQ(*wf.inputs[1].default_value, json::value(3));

  const core::ModelConfig& smart = wf.models.at("smart");
  EXPECT_EQ(smart.provider, "openai");
  EXPECT_EQ(smart.model, "gpt-4o-mini");
  EXPECT_EQ(smart.options.at("fallback"), json::parse(R"(["fast"])"));
  EXPECT_EQ(smart.options.at("max_tokens"), json::value(2048));
  EXPECT_FALSE(smart.options.contains("provider"));

  const core::Agent& writer = wf.agents.at("writer");
  EXPECT_EQ(writer.model, "smart");
  EXPECT_EQ(writer.max_turns, 4);
  EXPECT_EQ(writer.tools, (std::vector<std::string>{"wc", "notes.write"}));
  EXPECT_EQ(writer.handoffs, (std::vector<std::string>{"writer"}));
  EXPECT_FALSE(writer.instructions.IsConstant());
  EXPECT_EQ(writer.loc.line, 12);

  const auto& exec = std::get<core::ExecTool>(wf.tools.at("wc").impl);
  ASSERT_EQ(exec.argv.size(), 3u);
  EXPECT_TRUE(exec.argv[0].IsConstant());
  EXPECT_FALSE(exec.argv[2].IsConstant());
  EXPECT_EQ(exec.timeout, Millis(120000));
  EXPECT_EQ(exec.stdin_from, "with");
  EXPECT_EQ(exec.parse, core::ExecTool::Parse::kJson);
  EXPECT_EQ(wf.mcp_servers.at("notes").command,
            (std::vector<std::string>{"notes-server", "--stdio"}));
  EXPECT_EQ(wf.mcp_servers.at("web").url, "http://127.0.0.1:3001/mcp");

  EXPECT_EQ(wf.default_retry.max_attempts, 3);
  EXPECT_EQ(wf.default_retry.on, (std::vector<std::string>{"rate_limited", "timeout"}));
  EXPECT_EQ(wf.default_retry.backoff.initial, Millis(500));
  EXPECT_EQ(wf.default_retry.backoff.factor, 3.0);
  EXPECT_EQ(wf.default_retry.backoff.max, Millis(60000));
  EXPECT_FALSE(wf.default_retry.backoff.jitter);
  EXPECT_EQ(wf.default_timeout, Millis(300000));
  EXPECT_EQ(wf.run_timeout, Millis(3600000));
  EXPECT_EQ(wf.budget.max_cost_usd, 2.5);
  EXPECT_EQ(wf.budget.max_tokens, 200000);
  EXPECT_EQ(wf.budget.on_exceed, "fail");

  ASSERT_EQ(wf.steps.size(), 5u);
  const core::Step& plan = wf.steps[0];
  EXPECT_TRUE(plan.needs.empty());
  const auto& llm = std::get<core::LlmStep>(plan.kind);
  EXPECT_EQ(llm.model, "fast");
  EXPECT_TRUE(llm.output_schema.has_value());

  const core::Step& research = wf.steps[1];
  EXPECT_EQ(research.needs, (std::vector<std::string>{"plan"}));  // implicit
  EXPECT_FALSE(research.explicit_needs);
  EXPECT_TRUE(research.for_each.has_value());
  EXPECT_EQ(research.as, "question");
  EXPECT_EQ(research.max_parallel, 4);
  ASSERT_TRUE(research.retry.has_value());
  EXPECT_EQ(research.retry->max_attempts, 5);
  EXPECT_EQ(research.retry->on, wf.default_retry.on);  // inherited
  EXPECT_EQ(research.timeout, Millis(30000));
  EXPECT_EQ(research.effect, core::Effect::kOnce);
  ASSERT_EQ(research.catches.size(), 2u);
  EXPECT_EQ(research.catches[0].then, core::CatchClause::Then::kOutput);
  EXPECT_EQ(research.catches[1].errors, (std::vector<std::string>{"timeout"}));
  EXPECT_EQ(research.catches[1].then, core::CatchClause::Then::kContinue);
  EXPECT_EQ(std::get<core::AgentStep>(research.kind).agent, "writer");

  const core::Step& count = wf.steps[2];
  EXPECT_TRUE(count.explicit_needs);
  ASSERT_TRUE(count.if_cond.has_value());
  EXPECT_EQ(count.if_cond->source(), " size(steps.research.output) > 0 ");
  EXPECT_EQ(std::get<core::CallStep>(count.kind).tool, "wc");
  EXPECT_TRUE(count.output.has_value());

  const auto& set = std::get<core::SetStep>(wf.steps[3].kind);
  ASSERT_EQ(set.entries.size(), 2u);
  EXPECT_TRUE(set.entries[0].to_memory);
  EXPECT_EQ(set.entries[0].memory_key, "total");
  EXPECT_FALSE(set.entries[1].to_memory);
  EXPECT_FALSE(std::get<core::LlmStep>(wf.steps[4].kind).prompt.IsConstant());

  EXPECT_EQ(wf.StepIndex("count"), 2);
  EXPECT_EQ(wf.needs_idx[2], std::vector<int>{1});
  ASSERT_EQ(wf.outputs.size(), 2u);
}

TEST(LoaderTest, TemplatesRender) {
  LoadResult r = LoadWorkflowText(R"(baton: 1
name: t
inputs: { n: { type: integer } }
steps:
  - id: a
    set: { x: "${{ inputs.n + 1 }}", y: "n=${{ inputs.n }}" }
)",
                                  "t.yaml");
  ASSERT_EQ(Errors(r), "");
  const auto& set = std::get<core::SetStep>(r.workflow->steps[0].kind);
  json::object env{{"inputs", json::object{{"n", 41}}}};
  expr::ObjectEnv e(env);
  auto x = set.entries[0].value.Render(e);
  ASSERT_TRUE(x.ok()) << x.error().message();
  EXPECT_EQ(*x, json::value(42));
  auto y = set.entries[1].value.Render(e);
  ASSERT_TRUE(y.ok());
  EXPECT_EQ(*y, json::value("n=41"));
}

TEST(LoaderTest, JsonInput) {
  LoadResult r = LoadWorkflowText(R"({
  "baton": 1,
  "name": "from-json",
  "models": {"m": {"provider": "sim", "model": "s"}},
  "agents": {"a": {"model": "m", "instructions": "hi"}},
  "steps": [
    {"id": "one", "agent": "a", "input": "${{ inputs.q }}"},
    {"id": "two", "needs": ["one"], "set": {"memory.k": "yes"}}
  ],
  "inputs": {"q": {"type": "string", "default": "on"}}
})",
                                  "wf.json");
  ASSERT_EQ(Errors(r), "");
  ASSERT_NE(r.workflow, nullptr);
  EXPECT_EQ(r.workflow->steps.size(), 2u);
  EXPECT_EQ(*r.workflow->inputs[0].default_value, json::value("on"));
  EXPECT_EQ(r.workflow->steps[0].loc.line, 7);
}

TEST(LoaderTest, JsonErrorsHavePositions) {
  LoadResult r = LoadWorkflowText(
      "{\"baton\": 1, \"name\": \"j\",\n \"steps\": [{\"id\": \"a\", \"set\": {\"x\": 1}, "
      "\"max_parallel\": \"4\"}]}",
      "wf.json");
  EXPECT_EQ(r.workflow, nullptr);
  EXPECT_EQ(Lines(r),
            "wf.json:2:41: error: 'max_parallel' is only valid with 'for_each'\n"
            "wf.json:2:57: error: 'max_parallel' must be an integer, got string\n");
}

TEST(LoaderTest, CollectsAllDiagnosticsSorted) {
  LoadResult r = LoadWorkflowText(R"(baton: 1
name: t
steps:
  - id: b
    needs: [zz]
    set: { x: 1 }
    retyr: {}
  - id: a
    set: { y: "${{ steps.b.oops }}" }
)",
                                  "t.yaml");
  EXPECT_EQ(Lines(r),
            "t.yaml:5:13: error: step 'b' needs unknown step 'zz'\n"
            "t.yaml:7:5: error: unknown key 'retyr' (did you mean 'retry'?)\n"
            "t.yaml:9:20: error: steps.b has no field 'oops' (use output, status, error, usage "
            "or attempts)\n");
}

TEST(LoaderTest, DiagnosticsToJson) {
  LoadResult r = LoadWorkflowText("baton: 1\nname: x\n", "x.yaml");
  json::value j = DiagnosticsToJson(r.diagnostics);
  EXPECT_EQ(j, json::parse(R"([{"file":"x.yaml","line":1,"col":1,"severity":"error",
      "message":"the workflow is missing required key 'steps'"}])"));
}

TEST(LoaderTest, MissingFile) {
  LoadResult r = LoadWorkflowFile("/nonexistent/dir/wf.yaml");
  EXPECT_EQ(r.workflow, nullptr);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_NE(r.diagnostics[0].message.find("cannot open file"), std::string::npos);
}

TEST(LoaderTest, EmptyAndGarbageInputs) {
  for (const char* text : {"", "   \n", "- a\n- b\n", "42", "\"str\"", "{", "\t\tx: y", "%%%"}) {
    LoadResult r = LoadWorkflowText(text, "g.yaml");
    EXPECT_EQ(r.workflow, nullptr) << text;
    EXPECT_FALSE(r.diagnostics.empty()) << text;
  }
}

}  // namespace
}  // namespace baton::dsl
