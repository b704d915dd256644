#pragma once

// The tool interface: what agents and `call:` steps invoke. Built-in tools (exec, http, ...),
// MCP tools and library users' own tools all implement Tool; the runtime finds them by name in a
// ToolRegistry.

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.hpp"
#include "base/status.hpp"

namespace baton::tools {

// Where a call comes from. Copied into every call; the tool may keep it.
struct ToolContext {
  std::string run_id;
  std::string step_id;
  int32_t item = -1;    // index in the step's for_each, -1 when not fanned out
  int32_t attempt = 1;  // 1-based attempt number of the step
  std::string workdir;  // the run's working directory ("" when none)
};

// A named operation taking JSON arguments and producing a JSON value.
//
// Call() runs on the awaiting coroutine's executor and may be called concurrently for different
// calls; implementations guard their own shared state. A failure is a non-ok Result whose
// Status::ErrorType() is the workflow error word (normally "tool_error"; "timeout" and
// "cancelled" where they apply). Call() must not throw, and should honour cancellation of the
// awaiting coroutine when it runs long.
class Tool {
 public:
  virtual ~Tool() = default;
  virtual std::string_view name() const = 0;
  virtual boost::asio::awaitable<Result<json::value>> Call(json::value args, ToolContext ctx) = 0;
};

// Adapts a synchronous function into a Tool, for library users. The function runs inline on the
// awaiting coroutine's thread (keep it short); it may be called concurrently from several
// threads when the executor is multi-threaded. An exception escaping it becomes kInternal with
// type "tool_error".
class FunctionTool final : public Tool {
 public:
  using Function = std::function<Result<json::value>(const json::value&)>;

  FunctionTool(std::string name, Function fn);

  std::string_view name() const override { return name_; }
  boost::asio::awaitable<Result<json::value>> Call(json::value args, ToolContext ctx) override;

 private:
  const std::string name_;
  const Function fn_;
};

// Owns tools by name. Register() is for setup, before any concurrent use; afterwards Find() and
// Names() may be called from any thread.
class ToolRegistry {
 public:
  // Takes ownership. kInvalidArgument for a null tool or an empty name; kAlreadyExists when a
  // tool of that name is registered (the new one is discarded).
  Status Register(std::unique_ptr<Tool> tool);

  // The tool called `name`, or nullptr. The pointer lives as long as the registry.
  Tool* Find(std::string_view name) const;

  // Registered names in ascending order.
  std::vector<std::string> Names() const;

  size_t size() const { return tools_.size(); }

 private:
  std::map<std::string, std::unique_ptr<Tool>, std::less<>> tools_;
};

}  // namespace baton::tools
