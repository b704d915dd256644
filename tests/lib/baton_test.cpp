// The library API end to end in process: loading, registration, runs, events, resume.

#include "baton/baton.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>

#include "store/store.hpp"

namespace baton {
namespace {

namespace fs = std::filesystem;

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("baton_lib_test_" + std::to_string(getpid()) + "_" + std::to_string(n++));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// A provider whose models echo the last message in upper case and count their calls.
class EchoModel final : public providers::ChatModel {
 public:
  explicit EchoModel(std::atomic<int>* calls) : calls_(calls) {}
  boost::asio::awaitable<Result<providers::ChatResponse>> Complete(
      providers::ChatRequest request) override {
    ++*calls_;
    providers::ChatResponse r;
    for (char c : request.messages.back().content) r.text += static_cast<char>(std::toupper(c));
    r.usage.input_tokens = 3;
    r.usage.output_tokens = 2;
    r.provider = "echo";
    r.model = request.model;
    co_return r;
  }
  std::string_view provider() const override { return "echo"; }

 private:
  std::atomic<int>* calls_;
};

providers::ModelFactory EchoFactory(std::atomic<int>* calls) {
  return [calls](const core::ModelConfig&) -> Result<std::unique_ptr<providers::ChatModel>> {
    return std::unique_ptr<providers::ChatModel>(new EchoModel(calls));
  };
}

std::unique_ptr<Baton> OpenBaton(Options options = {}) {
  auto b = Baton::Open(std::move(options));
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return std::move(b).value();
}

const char* kSimWorkflow = R"y(
baton: 1
name: hello
inputs:
  who: { type: string, default: world }
models:
  m: { provider: sim, model: sim-small }
steps:
  - id: greet
    set:
      memory.greeting: "hello ${{ inputs.who }}"
      n: 1
  - id: say
    llm: "${{ memory.greeting }}"
outputs:
  greeting: ${{ memory.greeting }}
  said: ${{ steps.say.output }}
)y";

// Uses the program's own tool and provider.
const char* kCustomWorkflow = R"y(
baton: 1
name: custom
inputs:
  words: { type: array, items: { type: string } }
models:
  e: { provider: echo, model: echo-1 }
agents:
  shouter: { model: e, instructions: Shout. }
steps:
  - id: lengths
    for_each: ${{ inputs.words }}
    as: w
    call: strlen
    with: { s: "${{ w }}" }
  - id: shout
    needs: []
    for_each: ${{ inputs.words }}
    agent: shouter
    input: ${{ item }}
outputs:
  lengths: ${{ steps.lengths.output }}
  shouted: ${{ steps.shout.output }}
)y";

Result<json::value> Strlen(const json::value& args) {
  const auto* s = args.as_object().if_contains("s");
  if (!s || !s->is_string())
    return Status(Code::kInvalidArgument, "s must be a string", "tool_error");
  return json::value(static_cast<int64_t>(s->get_string().size()));
}

TEST(BatonTest, LoadsTextAndRunsOnTheMemoryStore) {
  auto b = OpenBaton();
  auto wf = b->LoadText(kSimWorkflow, "hello.yaml");
  ASSERT_TRUE(wf.ok()) << wf.status().ToString();
  EXPECT_EQ((*wf)->name, "hello");
  auto r = b->Run(*wf, json::object{{"who", "ada"}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->summary().at("outputs").at("greeting"), "hello ada");
  EXPECT_TRUE(r->summary().at("outputs").at("said").is_string());
  EXPECT_EQ(r->summary().at("run_id"), json::string(r->run_id));
}

TEST(BatonTest, LoadErrorListsEveryDiagnostic) {
  auto b = OpenBaton();
  auto wf = b->LoadText(R"y(baton: 1
name: broken
models:
  m: { provider: sim }
agents:
  writer: { model: m }
steps:
  - id: a
    agent: writr
    input: ${{ inputs.topik }}
  - id: b
    neds: [a]
    set: { x: 1 }
)y",
                        "broken.yaml");
  ASSERT_FALSE(wf.ok());
  EXPECT_EQ(wf.error().code(), Code::kInvalidArgument);
  const std::string& msg = wf.error().message();
  EXPECT_NE(msg.find("broken.yaml does not load (3 errors):"), std::string::npos) << msg;
  EXPECT_NE(msg.find("broken.yaml:9:12: error: step 'a' uses unknown agent 'writr' (did you mean "
                     "'writer'?)"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("unknown input 'topik'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("broken.yaml:12:5: error: unknown key 'neds' (did you mean 'needs'?)"),
            std::string::npos)
      << msg;
}

TEST(BatonTest, LoadsFilesAndNamesThemInErrors) {
  TempDir dir;
  auto b = OpenBaton();
  std::string path = dir.File("hello.yaml");
  { std::ofstream(path) << kSimWorkflow; }
  auto wf = b->LoadFile(path);
  ASSERT_TRUE(wf.ok()) << wf.status().ToString();
  auto r = b->Run(*wf);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->summary().at("outputs").at("greeting"), "hello world");

  auto missing = b->LoadFile(dir.File("nope.yaml"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), Code::kNotFound);
  EXPECT_NE(missing.error().message().find("nope.yaml"), std::string::npos);

  { std::ofstream(dir.File("bad.yaml")) << "baton: 1\nname: x\n"; }
  auto bad = b->LoadFile(dir.File("bad.yaml"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find(dir.File("bad.yaml") +
                                       ":1:1: error: the workflow is missing required key 'steps'"),
            std::string::npos)
      << bad.error().message();
}

TEST(BatonTest, RunsWithRegisteredToolAndProvider) {
  auto b = OpenBaton({.store = ":memory:", .threads = 2});
  std::atomic<int> model_calls{0};
  std::atomic<int> tool_calls{0};
  ASSERT_TRUE(b->RegisterTool("strlen", [&](const json::value& args) {
                 ++tool_calls;
                 return Strlen(args);
               }).ok());
  ASSERT_TRUE(b->RegisterProvider("echo", EchoFactory(&model_calls)).ok());
  auto wf = b->LoadText(kCustomWorkflow, "custom.yaml");
  ASSERT_TRUE(wf.ok()) << wf.status().ToString();
  auto r = b->Run(*wf, json::object{{"words", json::array{"ab", "cde", "f"}}});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
  EXPECT_EQ(r->summary().at("outputs").at("lengths"), (json::array{2, 3, 1}));
  EXPECT_EQ(r->summary().at("outputs").at("shouted"), (json::array{"AB", "CDE", "F"}));
  EXPECT_EQ(tool_calls.load(), 3);
  EXPECT_EQ(model_calls.load(), 3);
  EXPECT_EQ(r->summary().at("usage").at("input_tokens").to_number<int64_t>(), 9);

  auto events = b->Events(r->run_id);
  ASSERT_TRUE(events.ok());
  int tool_events = 0;
  int model_events = 0;
  for (const auto& e : *events) {
    if (e.type == core::EventType::kToolCalled) {
      ++tool_events;
      EXPECT_EQ(e.data.at("tool"), "strlen");
    }
    if (e.type == core::EventType::kModelCalled) {
      ++model_events;
      EXPECT_EQ(e.data.at("provider"), "echo");
    }
  }
  EXPECT_EQ(tool_events, 3);
  EXPECT_EQ(model_events, 3);
}

TEST(BatonTest, ToolFailureFailsTheRunAsAValue) {
  auto b = OpenBaton();
  ASSERT_TRUE(b->RegisterTool("strlen", Strlen).ok());
  auto wf = b->LoadText(R"y(
baton: 1
name: bad-call
steps:
  - { id: s, call: strlen, with: { s: 3 } }
)y",
                        "bad.yaml");
  ASSERT_TRUE(wf.ok()) << wf.status().ToString();
  auto r = b->Run(*wf);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, core::RunStatus::kFailed);
  EXPECT_EQ(r->summary().at("error").at("type"), "tool_error") << ToJson(r->summary());
  EXPECT_NE(ToJson(r->summary()).find("s must be a string"), std::string::npos);
}

TEST(BatonTest, UnregisteredNamesAreLoadErrors) {
  auto b = OpenBaton();
  auto wf = b->LoadText(kCustomWorkflow, "custom.yaml");
  ASSERT_FALSE(wf.ok());
  const std::string& msg = wf.error().message();
  EXPECT_NE(msg.find("echo"), std::string::npos) << msg;
  EXPECT_NE(msg.find("strlen"), std::string::npos) << msg;
}

TEST(BatonTest, OptionsAProviderRefusesAreLoadErrors) {
  auto b = OpenBaton();
  ASSERT_TRUE(
      b->RegisterProvider(
           "picky",
           [](const core::ModelConfig& config) -> Result<std::unique_ptr<providers::ChatModel>> {
             if (config.options.contains("temperature")) {
               return InvalidArgument("picky models take no temperature");
             }
             return std::unique_ptr<providers::ChatModel>(new EchoModel(nullptr));
           })
          .ok());
  const char* yaml = R"y(baton: 1
name: picky
models:
  p: { provider: picky, model: p1, temperature: 0.2 }
steps:
  - { id: s, llm: hi }
)y";
  auto wf = b->LoadText(yaml, "picky.yaml");
  ASSERT_FALSE(wf.ok());
  EXPECT_EQ(wf.error().code(), Code::kInvalidArgument);
  EXPECT_NE(wf.error().message().find(
                "picky.yaml:4:3: error: model 'p': picky models take no temperature"),
            std::string::npos)
      << wf.error().message();
}

TEST(BatonTest, RegistrationChecksNamesAndEndsWithTheFirstRun) {
  auto b = OpenBaton();
  ASSERT_TRUE(b->RegisterTool("strlen", Strlen).ok());
  EXPECT_EQ(b->RegisterTool("strlen", Strlen).code(), Code::kAlreadyExists);
  EXPECT_EQ(b->RegisterTool("", Strlen).code(), Code::kInvalidArgument);
  EXPECT_EQ(b->RegisterTool("empty", Baton::ToolFunction()).code(), Code::kInvalidArgument);
  EXPECT_EQ(b->RegisterTool(nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(b->RegisterProvider("sim", EchoFactory(nullptr)).code(), Code::kAlreadyExists);
  EXPECT_EQ(b->RegisterProvider("echo", nullptr).code(), Code::kInvalidArgument);

  auto wf = b->LoadText(kSimWorkflow, "hello.yaml");
  ASSERT_TRUE(wf.ok());
  ASSERT_TRUE(b->Run(*wf).ok());
  Status late_tool = b->RegisterTool("later", Strlen);
  EXPECT_EQ(late_tool.code(), Code::kFailedPrecondition) << late_tool.ToString();
  EXPECT_EQ(b->RegisterProvider("echo", EchoFactory(nullptr)).code(), Code::kFailedPrecondition);
  // The refused tool is not known to the loader either.
  auto uses_later =
      b->LoadText("baton: 1\nname: l\nsteps:\n  - { id: s, call: later }\n", "l.yaml");
  EXPECT_FALSE(uses_later.ok());
}

TEST(BatonTest, ListenersSeeEveryDurableEventInJournalOrder) {
  auto b = OpenBaton({.store = ":memory:", .threads = 2});
  std::mutex mu;
  std::vector<std::pair<std::string, uint64_t>> seen;
  b->OnEvent([&](const std::string& run_id, const core::Event& e) {
    std::lock_guard lock(mu);
    seen.emplace_back(run_id, e.seq);
  });
  std::atomic<int> second{0};
  b->OnEvent([&](const std::string&, const core::Event&) { ++second; });
  auto wf = b->LoadText(kSimWorkflow, "hello.yaml");
  ASSERT_TRUE(wf.ok());
  auto r = b->Run(*wf);
  ASSERT_TRUE(r.ok());

  auto events = b->Events(r->run_id);
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_GE(events->size(), 4u);
  EXPECT_EQ(events->front().type, core::EventType::kRunStarted);
  EXPECT_EQ(events->back().type, core::EventType::kRunFinished);
  bool memory_written = false;
  for (size_t i = 0; i < events->size(); ++i) {
    EXPECT_EQ((*events)[i].seq, i + 1);
    if ((*events)[i].type == core::EventType::kMemoryWritten) {
      memory_written = true;
      EXPECT_EQ((*events)[i].data.at("key"), "greeting");
    }
  }
  EXPECT_TRUE(memory_written);
  // Run() returns after the listener saw the last event.
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), events->size());
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].first, r->run_id);
    EXPECT_EQ(seen[i].second, i + 1);
  }
  EXPECT_EQ(second.load(), static_cast<int>(events->size()));
  EXPECT_EQ(b->Events("no-such-run").status().code(), Code::kNotFound);
}

TEST(BatonTest, StartAndWaitAndWaitAgainFromTheJournal) {
  auto b = OpenBaton();
  auto wf = b->LoadText(kSimWorkflow, "hello.yaml");
  ASSERT_TRUE(wf.ok());
  auto bad_inputs = b->Start(*wf, json::object{{"who", 7}});
  ASSERT_FALSE(bad_inputs.ok());
  EXPECT_EQ(bad_inputs.error().code(), Code::kInvalidArgument);
  EXPECT_NE(bad_inputs.error().message().find("who"), std::string::npos);

  auto id = b->Start(*wf, json::object{{"who", "bo"}});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  auto first = b->Wait(*id);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->status, core::RunStatus::kSucceeded);
  // A finished run is summarized from its journal, the same as when it finished.
  auto again = b->Wait(*id);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->status, core::RunStatus::kSucceeded);
  EXPECT_EQ(ToJson(again->summary().at("outputs")), ToJson(first->summary().at("outputs")));
  EXPECT_EQ(b->Wait("no-such-run").status().code(), Code::kNotFound);
}

TEST(BatonTest, ResumeOfAFinishedRunFails) {
  auto b = OpenBaton();
  auto wf = b->LoadText(kSimWorkflow, "hello.yaml");
  ASSERT_TRUE(wf.ok());
  auto r = b->Run(*wf);
  ASSERT_TRUE(r.ok());
  auto resumed = b->Resume(r->run_id);
  ASSERT_FALSE(resumed.ok());
  EXPECT_EQ(resumed.error().code(), Code::kFailedPrecondition);
  EXPECT_NE(resumed.error().message().find("already finished"), std::string::npos);
  EXPECT_EQ(b->Resume("no-such-run").status().code(), Code::kNotFound);
}

// A run cut short after its first step (as a killed process leaves it) is resumed by another
// Baton on the same journal: the stored workflow loads with that Baton's own tool and provider,
// and the finished step is not executed again.
TEST(BatonTest, ResumesAnInterruptedRunWithTheStoredWorkflow) {
  TempDir dir;
  std::string db = dir.File("runs.db");
  const char* yaml = R"y(
baton: 1
name: two-steps
models:
  e: { provider: echo, model: echo-1 }
steps:
  - { id: first, call: strlen, with: { s: abcd } }
  - { id: second, llm: "n=${{ steps.first.output }}" }
outputs:
  n: ${{ steps.first.output }}
  said: ${{ steps.second.output }}
)y";
  std::string finished_id;
  std::vector<core::Event> events;
  {
    auto b = OpenBaton({.store = db});
    std::atomic<int> calls{0};
    ASSERT_TRUE(b->RegisterTool("strlen", Strlen).ok());
    ASSERT_TRUE(b->RegisterProvider("echo", EchoFactory(&calls)).ok());
    auto wf = b->LoadText(yaml, "two.yaml");
    ASSERT_TRUE(wf.ok()) << wf.status().ToString();
    auto r = b->Run(*wf);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, core::RunStatus::kSucceeded) << ToJson(r->summary());
    finished_id = r->run_id;
    auto e = b->Events(finished_id);
    ASSERT_TRUE(e.ok());
    events = *e;
  }
  // Copy the journal up to the first step's success into a run that no process owns.
  std::string cut_id;
  {
    auto store = store::OpenSqliteStore(db);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto rec = (*store)->GetRun(finished_id);
    ASSERT_TRUE(rec.ok());
    store::RunRecord cut = *rec;
    cut.id = finished_id + "-cut";
    cut.status = core::RunStatus::kRunning;
    cut.outputs = nullptr;
    cut.owner_pid = 0;
    cut.last_seq = 0;
    ASSERT_TRUE((*store)->CreateRun(cut).ok());
    std::vector<core::Event> prefix;
    for (const auto& e : events) {
      prefix.push_back(e);
      if (e.type == core::EventType::kStepSucceeded && e.step == "first") break;
    }
    ASSERT_EQ(prefix.back().type, core::EventType::kStepSucceeded);
    ASSERT_TRUE((*store)->AppendSync(cut.id, prefix).ok());
    cut_id = cut.id;
  }
  auto b = OpenBaton({.store = db});
  std::atomic<int> tool_calls{0};
  std::atomic<int> model_calls{0};
  ASSERT_TRUE(b->RegisterTool("strlen", [&](const json::value& args) {
                 ++tool_calls;
                 return Strlen(args);
               }).ok());
  ASSERT_TRUE(b->RegisterProvider("echo", EchoFactory(&model_calls)).ok());
  auto resumed = b->Resume(cut_id);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_EQ(resumed->status, core::RunStatus::kSucceeded) << ToJson(resumed->summary());
  EXPECT_EQ(resumed->summary().at("outputs").at("n"), 4);
  EXPECT_EQ(resumed->summary().at("outputs").at("said"), "N=4");
  EXPECT_EQ(tool_calls.load(), 0);  // `first` succeeded before the cut
  EXPECT_EQ(model_calls.load(), 1);
}

TEST(BatonTest, OpenRejectsBadOptions) {
  EXPECT_EQ(Baton::Open({.store = ":memory:", .threads = 0}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Baton::Open({.store = ":memory:", .max_concurrency = 0}).status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace baton
