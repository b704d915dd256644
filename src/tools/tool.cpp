#include "tools/tool.hpp"

#include <fmt/format.h>

#include <exception>
#include <utility>

namespace baton::tools {

FunctionTool::FunctionTool(std::string name, Function fn)
    : name_(std::move(name)), fn_(std::move(fn)) {}

// The context is named although unused: GCC 12 mishandles unnamed by-value coroutine parameters.
boost::asio::awaitable<Result<json::value>> FunctionTool::Call(json::value args, ToolContext ctx) {
  (void)ctx;
  if (!fn_) {
    co_return Status(Code::kFailedPrecondition, fmt::format("tool '{}' has no function", name_),
                     "tool_error");
  }
  try {
    co_return fn_(args);
  } catch (const std::exception& e) {
    co_return Status(Code::kInternal, fmt::format("tool '{}' threw: {}", name_, e.what()),
                     "tool_error");
  } catch (...) {
    co_return Status(Code::kInternal,
                     fmt::format("tool '{}' threw a non-standard exception", name_), "tool_error");
  }
}

Status ToolRegistry::Register(std::unique_ptr<Tool> tool) {
  if (tool == nullptr) return InvalidArgument("cannot register a null tool");
  std::string name(tool->name());
  if (name.empty()) return InvalidArgument("cannot register a tool with an empty name");
  if (tools_.contains(name)) {
    return Status(Code::kAlreadyExists, fmt::format("tool '{}' is already registered", name));
  }
  tools_.emplace(std::move(name), std::move(tool));
  return Status::Ok();
}

Tool* ToolRegistry::Find(std::string_view name) const {
  auto it = tools_.find(name);
  return it == tools_.end() ? nullptr : it->second.get();
}

std::vector<std::string> ToolRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(tools_.size());
  for (const auto& [name, tool] : tools_) names.push_back(name);
  return names;
}

}  // namespace baton::tools
