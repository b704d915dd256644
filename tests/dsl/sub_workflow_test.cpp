// `workflow:` steps in the loader: children load with their parent (relative to the parent's
// file), problems are reported at the parent's step with file:line:col, cycles are named, and
// `read_file` (resume) replaces the disk.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>

#include "dsl/loader.hpp"

namespace baton::dsl {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string Errors(const LoadResult& r) {
  std::string out;
  for (const auto& d : r.diagnostics) {
    if (d.severity == "error") out += FormatDiagnostic(d) + "\n";
  }
  return out;
}

class SubWorkflowLoad : public ::testing::Test {
 protected:
  SubWorkflowLoad() {
    std::random_device rd;
    dir_ = fs::temp_directory_path() / ("baton-subwf-" + std::to_string(rd()));
    fs::create_directories(dir_ / "lib");
  }
  ~SubWorkflowLoad() override { fs::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p.string();
  }
  fs::path dir_;
};

constexpr const char* kChild = R"(baton: 1
name: child
inputs:
  topic: { type: string }
  depth: { type: integer, default: 2 }
steps:
  - { id: echo, set: { said: "${{ inputs.topic }}" } }
outputs:
  said: ${{ steps.echo.output.said }}
)";

TEST_F(SubWorkflowLoad, ChildLoadsRelativeToTheParentFile) {
  Write("lib/child.yaml", kChild);
  std::string parent = Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - id: sub
    workflow: lib/child.yaml
    with: { topic: tides }
outputs:
  said: ${{ steps.sub.output.said }}
)");
  LoadResult r = LoadWorkflowFile(parent);
  ASSERT_TRUE(r.workflow) << Errors(r);
  const auto& w = std::get<core::WorkflowStep>(r.workflow->steps[0].kind);
  EXPECT_EQ(w.path, "lib/child.yaml");
  EXPECT_EQ(w.file, (dir_ / "lib/child.yaml").string());
  ASSERT_TRUE(w.workflow);
  EXPECT_EQ(w.workflow->name, "child");
  EXPECT_EQ(w.source, kChild);
  EXPECT_EQ(std::string(w.with.raw().at("topic").as_string()), "tides");
}

TEST_F(SubWorkflowLoad, MissingFileIsAnErrorAtTheStep) {
  std::string parent = Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - id: sub
    workflow: lib/nowhere.yaml
)");
  LoadResult r = LoadWorkflowFile(parent);
  EXPECT_FALSE(r.workflow);
  EXPECT_THAT(Errors(r), HasSubstr(parent +
                                   ":5:15: error: step 'sub': workflow 'lib/nowhere.yaml' "
                                   "does not load: cannot read " +
                                   (dir_ / "lib/nowhere.yaml").string()));
}

TEST_F(SubWorkflowLoad, ErrorsInsideTheChildNameBothFiles) {
  std::string child =
      Write("lib/child.yaml", "baton: 7\nname: child\nsteps:\n  - { id: a, set: { v: 1 } }\n");
  std::string parent = Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - { id: sub, workflow: lib/child.yaml }
)");
  LoadResult r = LoadWorkflowFile(parent);
  EXPECT_FALSE(r.workflow);
  std::string errors = Errors(r);
  EXPECT_THAT(errors, HasSubstr(parent +
                                ":4:26: error: step 'sub': workflow 'lib/child.yaml' does "
                                "not load: " +
                                child + ":1:8: error: unsupported language version 7"));
  EXPECT_THAT(errors, HasSubstr("\n" + child + ":1:8: error: unsupported language version 7"));
}

TEST_F(SubWorkflowLoad, DirectSelfInclusionIsACycle) {
  std::string self = Write("self.yaml", R"(baton: 1
name: self
steps:
  - { id: again, workflow: self.yaml }
)");
  LoadResult r = LoadWorkflowFile(self);
  EXPECT_FALSE(r.workflow);
  EXPECT_THAT(Errors(r), HasSubstr(self +
                                   ":4:28: error: step 'again': workflow 'self.yaml' "
                                   "includes itself: " +
                                   self + " -> " + self));
}

TEST_F(SubWorkflowLoad, IndirectCycleIsNamedInEveryFileOnIt) {
  std::string a = Write("a.yaml", R"(baton: 1
name: a
steps:
  - { id: to_b, workflow: lib/b.yaml }
)");
  std::string b = Write("lib/b.yaml", R"(baton: 1
name: b
steps:
  - { id: to_a, workflow: ../a.yaml }
)");
  LoadResult r = LoadWorkflowFile(a);
  EXPECT_FALSE(r.workflow);
  std::string errors = Errors(r);
  std::string cycle = a + " -> " + b + " -> " + a;
  // Where the cycle closes (in b.yaml), and at the parent's step, which names it too.
  EXPECT_THAT(errors, HasSubstr(b +
                                ":4:27: error: step 'to_a': workflow '../a.yaml' includes "
                                "itself: " +
                                cycle));
  EXPECT_THAT(errors, HasSubstr(a + ":4:27: error: step 'to_b': workflow 'lib/b.yaml' does not "
                                    "load: "));
  EXPECT_THAT(errors, HasSubstr("includes itself: " + cycle + "\n"));
}

TEST_F(SubWorkflowLoad, SharedChildIsNotACycle) {
  Write("lib/child.yaml", kChild);
  std::string parent = Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - { id: one, workflow: lib/child.yaml, with: { topic: a } }
  - { id: two, workflow: ./lib/../lib/child.yaml, with: { topic: b } }
)");
  LoadResult r = LoadWorkflowFile(parent);
  ASSERT_TRUE(r.workflow) << Errors(r);
  const auto& one = std::get<core::WorkflowStep>(r.workflow->steps[0].kind);
  const auto& two = std::get<core::WorkflowStep>(r.workflow->steps[1].kind);
  EXPECT_EQ(one.file, two.file);
  EXPECT_EQ(one.workflow, two.workflow);  // read and loaded once
}

TEST_F(SubWorkflowLoad, WithIsCheckedAgainstTheChildsInputs) {
  Write("lib/child.yaml", kChild);
  std::string parent = Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - id: typo
    workflow: lib/child.yaml
    with: { topik: x }
  - { id: none, workflow: lib/child.yaml }
  - { id: dynamic, workflow: lib/child.yaml, with: "${{ steps.typo.output }}" }
)");
  LoadResult r = LoadWorkflowFile(parent);
  EXPECT_FALSE(r.workflow);
  std::string errors = Errors(r);
  EXPECT_THAT(errors, HasSubstr(parent + ":6:13: error: step 'typo': workflow 'child' has no "
                                         "input 'topik' (did you mean 'topic'?)"));
  EXPECT_THAT(errors, HasSubstr(parent + ":6:5: error: step 'typo': workflow 'child' needs input "
                                         "'topic' in 'with'"));
  EXPECT_THAT(errors, HasSubstr(parent + ":7:17: error: step 'none': workflow 'child' needs input "
                                         "'topic': give it in 'with'"));
  EXPECT_THAT(errors, ::testing::Not(HasSubstr("'dynamic'")));
}

TEST_F(SubWorkflowLoad, WithExpressionsAreCheckedInTheParentsScope) {
  Write("lib/child.yaml", kChild);
  std::string parent = Write("parent.yaml", R"(baton: 1
name: parent
steps:
  - { id: sub, workflow: lib/child.yaml, with: { topic: "${{ steps.nope.output }}" } }
)");
  LoadResult r = LoadWorkflowFile(parent);
  EXPECT_FALSE(r.workflow);
  EXPECT_THAT(Errors(r), HasSubstr("unknown step 'nope'"));
}

TEST_F(SubWorkflowLoad, ReadFileReplacesTheDisk) {
  // Resume: the texts stored with the run, even when the files have changed or gone.
  std::map<std::string, std::string> stored = {{"flows/lib/child.yaml", kChild}};
  LoadOptions options;
  std::vector<std::string> asked;
  options.read_file = [&](const std::string& path) -> Result<std::string> {
    asked.push_back(path);
    auto it = stored.find(path);
    if (it == stored.end()) return NotFound("not stored");
    return it->second;
  };
  LoadResult r = LoadWorkflowText(R"(baton: 1
name: parent
steps:
  - { id: sub, workflow: lib/child.yaml, with: { topic: x } }
)",
                                  "flows/parent.yaml", options);
  ASSERT_TRUE(r.workflow) << Errors(r);
  EXPECT_EQ(asked, std::vector<std::string>{"flows/lib/child.yaml"});
  EXPECT_EQ(std::get<core::WorkflowStep>(r.workflow->steps[0].kind).workflow->name, "child");
}

TEST_F(SubWorkflowLoad, WorkflowToolsStayUnsupported) {
  LoadResult r = LoadWorkflowText(R"(baton: 1
name: parent
tools:
  child: { workflow: lib/child.yaml }
steps:
  - { id: a, set: { v: 1 } }
)",
                                  "parent.yaml");
  EXPECT_FALSE(r.workflow);
  EXPECT_THAT(Errors(r), HasSubstr("tool kind 'workflow' is not supported"));
}

}  // namespace
}  // namespace baton::dsl
