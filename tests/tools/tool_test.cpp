#include "tools/tool.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>

namespace baton::tools {
namespace {

namespace asio = boost::asio;

Result<json::value> CallTool(Tool& tool, json::value args) {
  asio::io_context io;
  std::optional<Result<json::value>> out;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        // A named context: GCC 12 miscompiles aggregate temporaries inside co_await expressions.
        ToolContext ctx{.run_id = "r", .step_id = "s"};
        out = co_await tool.Call(std::move(args), std::move(ctx));
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  return std::move(out).value();
}

std::unique_ptr<Tool> Adder(std::string name) {
  return std::make_unique<FunctionTool>(std::move(name), [](const json::value& args) {
    const auto& obj = args.as_object();
    return Result<json::value>(obj.at("a").as_int64() + obj.at("b").as_int64());
  });
}

TEST(FunctionToolTest, CallsTheFunction) {
  auto tool = Adder("add");
  EXPECT_EQ(tool->name(), "add");
  Result<json::value> r = CallTool(*tool, json::parse(R"({"a": 2, "b": 40})"));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, json::value(42));
}

TEST(FunctionToolTest, PassesErrorsThrough) {
  FunctionTool tool("fails", [](const json::value&) -> Result<json::value> {
    return Status(Code::kNotFound, "no such record", "tool_error");
  });
  Result<json::value> r = CallTool(tool, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kNotFound);
  EXPECT_EQ(r.error().ErrorType(), "tool_error");
}

TEST(FunctionToolTest, ExceptionBecomesToolError) {
  FunctionTool tool("throws", [](const json::value&) -> Result<json::value> {
    throw std::runtime_error("boom");
  });
  Result<json::value> r = CallTool(tool, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kInternal);
  EXPECT_EQ(r.error().ErrorType(), "tool_error");
  EXPECT_NE(r.error().message().find("boom"), std::string::npos);
  EXPECT_NE(r.error().message().find("throws"), std::string::npos);
}

TEST(FunctionToolTest, EmptyFunctionFails) {
  FunctionTool tool("empty", nullptr);
  Result<json::value> r = CallTool(tool, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), Code::kFailedPrecondition);
}

TEST(ToolRegistryTest, RegisterAndFind) {
  ToolRegistry registry;
  ASSERT_TRUE(registry.Register(Adder("b")).ok());
  ASSERT_TRUE(registry.Register(Adder("a")).ok());
  EXPECT_EQ(registry.size(), 2u);
  Tool* a = registry.Find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->name(), "a");
  EXPECT_EQ(registry.Find("missing"), nullptr);
  EXPECT_EQ(registry.Names(), (std::vector<std::string>{"a", "b"}));
  Result<json::value> r = CallTool(*registry.Find("b"), json::parse(R"({"a": 1, "b": 1})"));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, json::value(2));
}

TEST(ToolRegistryTest, DuplicateNameIsRejectedAndOriginalKept) {
  ToolRegistry registry;
  Tool* first = nullptr;
  {
    auto tool = Adder("x");
    first = tool.get();
    ASSERT_TRUE(registry.Register(std::move(tool)).ok());
  }
  Status st = registry.Register(Adder("x"));
  EXPECT_EQ(st.code(), Code::kAlreadyExists);
  EXPECT_NE(st.message().find("'x'"), std::string::npos);
  EXPECT_EQ(registry.Find("x"), first);
  EXPECT_EQ(registry.size(), 1u);
}

TEST(ToolRegistryTest, RejectsNullAndUnnamed) {
  ToolRegistry registry;
  EXPECT_EQ(registry.Register(nullptr).code(), Code::kInvalidArgument);
  EXPECT_EQ(registry.Register(Adder("")).code(), Code::kInvalidArgument);
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
}  // namespace baton::tools
