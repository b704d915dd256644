// Runs the official JSON Schema Test Suite (draft 2020-12) in place from
// ../shared/data/json-schema-test-suite: every case of the required directory, plus the optional
// files listed in kOptionalFiles. Remote references (http://localhost:1234/...) are served from
// the suite's remotes/ directory through a Registry; nothing touches the network.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "schema/validator.hpp"

namespace baton::schema {
namespace {

namespace fs = std::filesystem;

const fs::path kSuiteDir = fs::path(BATON_SOURCE_DIR "/../shared/data/json-schema-test-suite");
const fs::path kTestsDir = kSuiteDir / "tests" / "draft2020-12";

// Cases of the required directory that are not run, keyed "file|group|case", with the reason.
// Empty: every required case passes.
const std::map<std::string, std::string> kSkips = {};

// Optional files whose every case is also required to pass. The other optional files test
// features the validator deliberately does not have: format assertion (format-assertion.json,
// format/*: format is an annotation only), draft-07 semantics when a subschema's $schema names an
// older draft (cross-draft.json), and the pre-2020 "dependencies" keyword
// (dependencies-compatibility.json).
const std::vector<std::string> kOptionalFiles = {
    "optional/anchor.json",
    "optional/bignum.json",
    "optional/dynamicRef.json",
    "optional/ecmascript-regex.json",
    "optional/float-overflow.json",
    "optional/id.json",
    "optional/no-schema.json",
    "optional/non-bmp-regex.json",
    "optional/refOfUnknownKeyword.json",
    "optional/unknownKeyword.json",
};

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const Registry& Remotes() {
  static const Registry* const kRegistry = [] {
    auto* registry = new Registry();
    const fs::path remotes = kSuiteDir / "remotes";
    if (!fs::is_directory(remotes)) return registry;
    for (const auto& e : fs::recursive_directory_iterator(remotes)) {
      if (!e.is_regular_file() || e.path().extension() != ".json") continue;
      Result<json::value> doc = ParseJson(ReadFile(e.path()));
      if (!doc.ok()) continue;
      std::string rel = fs::relative(e.path(), remotes).generic_string();
      registry->Add("http://localhost:1234/" + rel, std::move(*doc));
    }
    return registry;
  }();
  return *kRegistry;
}

std::vector<std::string> SuiteFiles() {
  std::vector<std::string> files;
  if (fs::is_directory(kTestsDir)) {
    for (const auto& e : fs::directory_iterator(kTestsDir)) {
      if (e.is_regular_file() && e.path().extension() == ".json") {
        files.push_back(e.path().filename().string());
      }
    }
  }
  std::sort(files.begin(), files.end());
  for (const std::string& f : kOptionalFiles) files.push_back(f);
  if (files.size() == kOptionalFiles.size()) files = {"missing"};
  return files;
}

struct Totals {
  int passed = 0;
  int failed = 0;
  int skipped = 0;
};

Totals& GrandTotals() {
  static Totals totals;
  return totals;
}

class TestSuiteTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TestSuiteTest, AllCasesPass) {
  const std::string& file = GetParam();
  if (file == "missing") {
    GTEST_SKIP() << "JSON Schema Test Suite not found at " << kTestsDir;
  }
  Result<json::value> doc = ParseJson(ReadFile(kTestsDir / file));
  ASSERT_TRUE(doc.ok()) << file << ": " << doc.status().ToString();
  ASSERT_TRUE(doc->is_array());
  Totals totals;
  for (const json::value& group : doc->get_array()) {
    std::string group_name(group.at("description").get_string());
    Result<Schema> schema = Schema::Compile(group.at("schema"), Remotes());
    for (const json::value& test : group.at("tests").get_array()) {
      std::string case_name(test.at("description").get_string());
      std::string key = fmt::format("{}|{}|{}", file, group_name, case_name);
      if (kSkips.count(key) != 0) {
        ++totals.skipped;
        continue;
      }
      if (!schema.ok()) {
        ++totals.failed;
        ADD_FAILURE() << key << ": schema did not compile: " << schema.status().ToString();
        continue;
      }
      const json::value& data = test.at("data");
      bool expected = test.at("valid").get_bool();
      bool valid = schema->IsValid(data);
      std::vector<ValidationError> errors = schema->Validate(data);
      if (valid == expected && errors.empty() == expected) {
        ++totals.passed;
      } else {
        ++totals.failed;
        ADD_FAILURE() << key << ": expected " << (expected ? "valid" : "invalid")
                      << ", IsValid=" << valid << ", errors:\n"
                      << FormatErrors(errors) << "\ninstance: " << ToJson(data);
      }
    }
  }
  GrandTotals().passed += totals.passed;
  GrandTotals().failed += totals.failed;
  GrandTotals().skipped += totals.skipped;
  std::printf("[ suite    ] %s: %d passed, %d failed, %d skipped\n", file.c_str(), totals.passed,
              totals.failed, totals.skipped);
  EXPECT_GT(totals.passed, 0);
  EXPECT_EQ(totals.failed, 0);
}

std::string ParamName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name;
  for (char c : info.param) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
      name.push_back(c);
    } else if (c == '.') {
      break;
    } else {
      name.push_back('_');
    }
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Draft202012, TestSuiteTest, ::testing::ValuesIn(SuiteFiles()), ParamName);

// Prints the totals when the whole binary runs (ctest runs one test per process).
class TotalsPrinter : public ::testing::Environment {
 public:
  void TearDown() override {
    const Totals& t = GrandTotals();
    if (t.passed + t.failed + t.skipped > 0) {
      std::printf("[ suite    ] draft2020-12 total: %d passed, %d failed, %d skipped\n", t.passed,
                  t.failed, t.skipped);
    }
  }
};

const auto* const kTotalsPrinter = ::testing::AddGlobalTestEnvironment(new TotalsPrinter());

}  // namespace
}  // namespace baton::schema
