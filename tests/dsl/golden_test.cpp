// Golden diagnostics: every tests/dsl/bad/<name>.yaml must produce exactly the lines of
// <name>.expected (file named "<name>.yaml"); every tests/dsl/good/* must load cleanly.
// Set BATON_UPDATE_GOLDEN=1 to rewrite the .expected files (then review the diff).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dsl/loader.hpp"

namespace baton::dsl {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<fs::path> FilesIn(const fs::path& dir, const std::vector<std::string>& exts) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    std::string ext = e.path().extension().string();
    if (std::find(exts.begin(), exts.end(), ext) != exts.end()) out.push_back(e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GoldenTest, BadWorkflowsGiveExactDiagnostics) {
  fs::path dir = fs::path(BATON_SOURCE_DIR) / "tests/dsl/bad";
  std::vector<fs::path> files = FilesIn(dir, {".yaml"});
  ASSERT_GE(files.size(), 20u);
  bool update = std::getenv("BATON_UPDATE_GOLDEN") != nullptr;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    LoadResult r = LoadWorkflowText(ReadFile(path), path.filename().string());
    std::string got;
    for (const auto& d : r.diagnostics) got += FormatDiagnostic(d) + "\n";
    fs::path expected_path = path;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << got;
      continue;
    }
    EXPECT_EQ(r.workflow, nullptr);
    EXPECT_FALSE(got.empty());
    EXPECT_EQ(got, ReadFile(expected_path));
  }
}

TEST(GoldenTest, GoodWorkflowsLoadCleanly) {
  fs::path dir = fs::path(BATON_SOURCE_DIR) / "tests/dsl/good";
  std::vector<fs::path> files = FilesIn(dir, {".yaml", ".json"});
  ASSERT_GE(files.size(), 4u);
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    LoadResult r = LoadWorkflowFile(path.string());
    for (const auto& d : r.diagnostics) {
      if (d.severity == "error") ADD_FAILURE() << FormatDiagnostic(d);
    }
    ASSERT_NE(r.workflow, nullptr);
    EXPECT_FALSE(r.workflow->steps.empty());
    EXPECT_EQ(r.workflow->step_index.size(), r.workflow->steps.size());
  }
}

}  // namespace
}  // namespace baton::dsl
