// baton as a library: a workflow built in code, with the program's own model provider and tool.
//
//   baton_example_library [STORE]     STORE: a SQLite file (default: an in-memory journal)
//
// The workflow counts the words of some documents with a C++ tool and, at the same time, has an
// agent tag each document with a model the program provides (a "rules" model that answers
// deterministically, standing in for an in-house model server). A `set` step writes the total to
// the run's memory and an `llm` step writes a summary. Every event is printed as it happens, then
// the outputs. Exit status: 0 when the run succeeded, 1 when it failed, 2 on an error.

#include <boost/asio/awaitable.hpp>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>

#include "baton/baton.hpp"

namespace {

using baton::json::value;

int CountWords(std::string_view text) {
  std::istringstream in{std::string(text)};
  int n = 0;
  for (std::string word; in >> word;) ++n;
  return n;
}

// A model that answers by rules instead of by inference. A real in-house provider would send the
// request to its server here (co_await an HTTP call); this one answers at once.
class RulesModel final : public baton::providers::ChatModel {
 public:
  explicit RulesModel(std::string model) : model_(std::move(model)) {}

  boost::asio::awaitable<baton::Result<baton::providers::ChatResponse>> Complete(
      baton::providers::ChatRequest request) override {
    co_return Answer(request);
  }
  std::string_view provider() const override { return "rules"; }

 private:
  // Tags a document "long" or "short" when structured output is asked for; otherwise restates
  // the prompt. Depends only on the messages, so a resumed run sees the same answers.
  baton::providers::ChatResponse Answer(const baton::providers::ChatRequest& request) const {
    std::string prompt = request.messages.empty() ? "" : request.messages.back().content;
    int words = CountWords(prompt);
    baton::providers::ChatResponse r;
    if (request.output_schema) {
      baton::json::object tag{{"tag", words >= 8 ? "long" : "short"}, {"words", words}};
      r.text = baton::ToJson(tag);
      r.structured = std::move(tag);
    } else {
      r.text = "In short: " + prompt;
    }
    for (const auto& m : request.messages) r.usage.input_tokens += CountWords(m.content);
    r.usage.output_tokens = CountWords(r.text);
    r.finish_reason = "stop";
    r.provider = "rules";
    r.model = model_;
    return r;
  }

  const std::string model_;
};

// Called on engine threads, possibly concurrently: it keeps no state.
baton::Result<value> WordCount(const value& args) {
  const value* text = args.is_object() ? args.get_object().if_contains("text") : nullptr;
  if (!text || !text->is_string()) {
    return baton::Status(baton::Code::kInvalidArgument, "word_count: 'text' must be a string",
                         "tool_error");
  }
  return value{{"words", CountWords(text->get_string())},
               {"chars", static_cast<int64_t>(text->get_string().size())}};
}

baton::WorkflowBuilder DocStats() {
  baton::WorkflowBuilder b("doc-stats");
  b.Description("Count and tag documents, then summarise them")
      .Input("docs", {{"type", "array"},
                      {"items", {{"type", "string"}}},
                      {"minItems", 1},
                      {"default",
                       {"Durable workflows keep a journal of every step they take.",
                        "Resume skips finished steps.",
                        "A fan-out runs one step per item, in parallel, and joins the results "
                        "in item order."}}})
      .Model("rules", "rules", "rules-1")
      .Agent("tagger", "rules", "Tag the document by its length.",
             value{{"type", "object"},
                   {"properties",
                    {{"tag", {{"enum", {"short", "long"}}}}, {"words", {{"type", "integer"}}}}},
                   {"required", {"tag", "words"}}});
  b.Step("count")
      .Needs({})
      .ForEach("${{ inputs.docs }}")
      .As("doc")
      .MaxParallel(2)
      .Call("word_count", {{"text", "${{ doc }}"}});
  b.Step("tag").Needs({}).ForEach("${{ inputs.docs }}").As("doc").Agent("tagger", "${{ doc }}");
  b.Step("total")
      .Needs({"count", "tag"})
      .Set({{"memory.total_words", "${{ sum(steps.count.output.map(c, c.words)) }}"},
            {"longest", "${{ max(steps.count.output.map(c, c.words)) }}"}});
  b.Step("summary").Llm(
      "${{ size(inputs.docs) }} documents, ${{ memory.total_words }} words, tagged "
      "${{ join(steps.tag.output.map(t, t.tag), ', ') }}.");
  b.Output("words", "${{ steps.count.output.map(c, c.words) }}")
      .Output("tags", "${{ steps.tag.output.map(t, t.tag) }}")
      .Output("total_words", "${{ memory.total_words }}")
      .Output("summary", "${{ steps.summary.output }}");
  return b;
}

// One line per event: seq, type, step[item], and what the event says in brief.
std::string Describe(const baton::core::Event& e) {
  std::string line =
      "event " + std::to_string(e.seq) + " " + std::string(baton::core::EventTypeName(e.type));
  if (!e.step.empty()) {
    line += " " + e.step;
    if (e.item >= 0) line += "[" + std::to_string(e.item) + "]";
  }
  for (const char* key : {"key", "value", "output", "status", "tool", "count"}) {
    if (const value* v = e.data.if_contains(key))
      line += " " + std::string(key) + "=" + baton::ToJson(*v);
  }
  return line;
}

void Print(const std::string& line) {
  static std::mutex mu;
  std::lock_guard lock(mu);
  std::fprintf(stdout, "%s\n", line.c_str());
  std::fflush(stdout);
}

int Fail(const baton::Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  baton::Options options;
  options.store = argc > 1 ? argv[1] : ":memory:";
  options.threads = 2;
  auto opened = baton::Baton::Open(options);
  if (!opened.ok()) return Fail(opened.error());
  baton::Baton& engine = **opened;

  // Registration comes first: the loader checks tool and provider names against it.
  baton::Status st = engine.RegisterTool("word_count", WordCount);
  if (st.ok()) {
    st = engine.RegisterProvider(
        "rules",
        [](const baton::core::ModelConfig& config)
            -> baton::Result<std::unique_ptr<baton::providers::ChatModel>> {
          return std::unique_ptr<baton::providers::ChatModel>(new RulesModel(config.model));
        });
  }
  if (!st.ok()) return Fail(st);

  auto workflow = DocStats().Build(engine);
  if (!workflow.ok()) return Fail(workflow.error());

  engine.OnEvent([](const std::string&, const baton::core::Event& e) { Print(Describe(e)); });
  auto result = engine.Run(*workflow);
  if (!result.ok()) return Fail(result.error());

  Print("run " + result->run_id + " " + std::string(baton::core::RunStatusName(result->status)));
  const value* outputs = result->summary().if_contains("outputs");
  Print("outputs: " + baton::PrettyJson(outputs ? *outputs : value()));
  return result->status == baton::core::RunStatus::kSucceeded ? 0 : 1;
}
