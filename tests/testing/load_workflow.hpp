#pragma once

// Loads a workflow from YAML text for a test, recording a test failure with the loader's
// diagnostics when it does not load (the result is then null).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/workflow.hpp"
#include "dsl/loader.hpp"

namespace baton::test_util {

inline std::shared_ptr<const core::Workflow> LoadWorkflowOrFail(const std::string& yaml) {
  auto r = dsl::LoadWorkflowText(yaml, "test.yaml");
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  EXPECT_TRUE(r.workflow) << diags;
  return r.workflow;
}

}  // namespace baton::test_util
