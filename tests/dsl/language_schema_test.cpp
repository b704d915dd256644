// docs/baton.schema.json is the JSON Schema of the language that editors use for completion. It
// must accept every workflow the loader accepts (every example and every good test workflow),
// and reject what the loader rejects for its shape, so that the published schema stays in step
// with the code.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "dsl/loader.hpp"
#include "dsl/yaml_document.hpp"
#include "schema/validator.hpp"

namespace baton::dsl {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

schema::Schema LanguageSchema() {
  auto doc = ParseJson(Read(fs::path(BATON_SOURCE_DIR) / "docs/baton.schema.json"));
  EXPECT_TRUE(doc.ok());
  auto compiled = schema::Schema::Compile(*doc);
  EXPECT_TRUE(compiled.ok()) << compiled.status().ToString();
  return std::move(compiled).value();
}

json::value AsJson(const std::string& text, const std::string& name) {
  std::vector<Diagnostic> diags;
  YamlDocument doc = YamlDocument::Parse(text, name, diags);
  EXPECT_TRUE(diags.empty()) << name;
  return doc.root();
}

TEST(LanguageSchemaTest, AcceptsEveryWorkflowTheLoaderAccepts) {
  schema::Schema language = LanguageSchema();
  int checked = 0;
  for (const char* dir : {"examples", "tests/dsl/good", "tests/crash"}) {
    for (const auto& e : fs::directory_iterator(fs::path(BATON_SOURCE_DIR) / dir)) {
      std::string ext = e.path().extension();
      if (ext != ".yaml" && ext != ".json") continue;
      if (e.path().filename() == "inputs.json" || e.path().filename() == "scripted_replies.json") {
        continue;  // data files beside the examples, not workflows
      }
      std::string text = Read(e.path());
      ASSERT_TRUE(LoadWorkflowText(text, e.path().string()).workflow) << e.path();
      auto errors = language.Validate(AsJson(text, e.path().string()));
      EXPECT_TRUE(errors.empty()) << e.path() << ":\n" << schema::FormatErrors(errors);
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(LanguageSchemaTest, RejectsUnknownKeysAndWrongTypes) {
  schema::Schema language = LanguageSchema();
  const char* bad[] = {
      "baton: 1\nname: x\nstesp: []\n",  // unknown top-level key
      "baton: 1\nname: x\nsteps:\n  - { id: a, set: { v: 1 }, nede: [] }\n",  // unknown step key
      "baton: 1\nname: x\nsteps:\n  - { id: a, set: { v: 1 }, max_parallel: many }\n",
      "baton: 1\nname: x\ntools:\n  t: { exec: { argv: \"ls -l\" } }\nsteps: []\n",  // no shell
  };
  for (const char* text : bad) {
    EXPECT_FALSE(LoadWorkflowText(text, "bad.yaml").workflow) << text;
    EXPECT_FALSE(language.IsValid(AsJson(text, "bad.yaml"))) << text;
  }
}

}  // namespace
}  // namespace baton::dsl
