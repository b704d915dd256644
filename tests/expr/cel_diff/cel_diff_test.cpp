// Differential test: baton's expression evaluator against a reference CEL implementation
// (@marcbachmann/cel-js, run under node as a child process) over generated expressions. Every
// expression must give the same value, or an error on both sides. For baton, "error" includes
// problems found by the static Check, as `baton validate` rejects those before any run.

#include <gtest/gtest.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "expr/expr.hpp"
#include "expr/value.hpp"
#include "generator.hpp"

namespace baton::expr {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kSeed = 20240611;
constexpr int kGenerated = 2500;

std::string CanonicalDouble(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof(buf), d, std::chars_format::scientific);
  std::string s(buf, res.ptr);
  // "1.5e-07" -> "1.5e-7", as JavaScript's toExponential() writes it.
  size_t e = s.find('e');
  char sign = s[e + 1];
  int exp = std::abs(std::atoi(s.c_str() + e + 2));
  return s.substr(0, e) + "e" + sign + std::to_string(exp);
}

// Must match canonical() in cel_eval.mjs.
std::string Canonical(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return v.get_bool() ? "true" : "false";
    case json::kind::int64:
      return std::to_string(v.get_int64());
    case json::kind::uint64:
      return std::to_string(v.get_uint64());
    case json::kind::double_:
      return "d:" + CanonicalDouble(v.get_double());
    case json::kind::string: {
      std::string out;
      AppendQuoted(v.get_string(), &out);
      return out;
    }
    case json::kind::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ",";
        first = false;
        out += Canonical(e);
      }
      return out + "]";
    }
    case json::kind::object: {
      std::vector<std::pair<std::string, std::string>> parts;
      for (const auto& kv : v.get_object()) {
        parts.emplace_back(Canonical(json::string(kv.key())), Canonical(kv.value()));
      }
      std::sort(parts.begin(), parts.end());
      std::string out = "{";
      for (size_t i = 0; i < parts.size(); ++i) {
        if (i) out += ",";
        out += parts[i].first + ":" + parts[i].second;
      }
      return out + "}";
    }
  }
  return "?";
}

struct Outcome {
  bool error = false;
  std::string text;  // canonical value, or the error message
};

Outcome Baton(const std::string& source, const Env& env, const Scope& scope) {
  Result<Expression> e = Expression::Parse(source);
  if (!e.ok()) return {true, e.error().message()};
  std::vector<ExprError> problems = e->Check(scope);
  if (!problems.empty()) return {true, "check: " + problems[0].message};
  Result<json::value> v = e->Evaluate(env);
  if (!v.ok()) return {true, v.error().message()};
  return {false, Canonical(*v)};
}

TEST(CelDiffTest, CanonicalFormsAgreeOnDoubles) {
  EXPECT_EQ(CanonicalDouble(5.0), "5e+0");
  EXPECT_EQ(CanonicalDouble(1.5e-7), "1.5e-7");
  EXPECT_EQ(CanonicalDouble(-0.0), "-0e+0");
  EXPECT_EQ(CanonicalDouble(1e21), "1e+21");
}

TEST(CelDiffTest, GeneratorIsDeterministic) {
  EXPECT_EQ(cel_diff::GenerateExpressions(7, 50), cel_diff::GenerateExpressions(7, 50));
  EXPECT_NE(cel_diff::GenerateExpressions(7, 50), cel_diff::GenerateExpressions(8, 50));
}

TEST(CelDiffTest, SameResultsAsReferenceCel) {
  ASSERT_EQ(std::system("command -v node >/dev/null 2>&1"), 0) << "node is not on PATH";
  const fs::path peers = fs::path(BATON_SOURCE_DIR) / "tests/peers";
  ASSERT_TRUE(fs::exists(peers / "node_modules/@marcbachmann/cel-js/package.json"))
      << "test peers missing: run scripts/install-deps (npm ci in tests/peers)";
  const fs::path script = fs::path(BATON_SOURCE_DIR) / "tests/expr/cel_diff/cel_eval.mjs";

  std::vector<std::string> exprs = cel_diff::GenerateExpressions(kSeed, kGenerated);
  ASSERT_GE(exprs.size(), 2000u);

  const fs::path dir = fs::path(::testing::TempDir()) / "baton_cel_diff";
  fs::create_directories(dir);
  const fs::path in = dir / "in.jsonl", out = dir / "out.jsonl", err = dir / "err.txt";
  {
    std::ofstream f(in);
    std::string bindings = cel_diff::BindingsJson();
    std::replace(bindings.begin(), bindings.end(), '\n', ' ');
    f << bindings << "\n";
    for (const auto& e : exprs) {
      std::string q;
      AppendQuoted(e, &q);
      f << q << "\n";
    }
  }
  std::string cmd = "node '" + script.string() + "' '" + peers.string() + "' '" + in.string() +
                    "' > '" + out.string() + "' 2> '" + err.string() + "'";
  int rc = std::system(cmd.c_str());
  std::ifstream errf(err);
  std::stringstream errtext;
  errtext << errf.rdbuf();
  ASSERT_EQ(rc, 0) << "node failed: " << errtext.str();

  std::ifstream outf(out);
  std::vector<Outcome> cel;
  for (std::string line; std::getline(outf, line);) {
    Result<json::value> v = ParseJson(line);
    ASSERT_TRUE(v.ok()) << line;
    const auto& obj = v->as_object();
    if (obj.contains("error")) {
      cel.push_back({true, std::string(obj.at("error").as_string())});
    } else {
      cel.push_back({false, std::string(obj.at("value").as_string())});
    }
  }
  ASSERT_EQ(cel.size(), exprs.size());

  Result<json::value> bindings = ParseJson(cel_diff::BindingsJson());
  ASSERT_TRUE(bindings.ok());
  ObjectEnv env(bindings->as_object());
  Scope scope{cel_diff::BindingNames()};

  int values = 0, errors = 0, mismatches = 0;
  std::string report;
  for (size_t k = 0; k < exprs.size(); ++k) {
    Outcome b = Baton(exprs[k], env, scope);
    const Outcome& c = cel[k];
    bool same = b.error == c.error && (b.error || b.text == c.text);
    if (!same) {
      if (++mismatches <= 40) {
        report += "  " + exprs[k] + "\n    baton: " + (b.error ? "error: " : "") + b.text +
                  "\n    cel:   " + (c.error ? "error: " : "") + c.text + "\n";
      }
    } else if (b.error) {
      ++errors;
    } else {
      ++values;
    }
  }
  EXPECT_EQ(mismatches, 0) << mismatches << " of " << exprs.size()
                           << " expressions differ (first 40):\n"
                           << report;
  // The corpus must exercise both outcomes, or the comparison proves little.
  EXPECT_GT(values, static_cast<int>(exprs.size()) / 3);
  EXPECT_GT(errors, 100);
}

}  // namespace
}  // namespace baton::expr
