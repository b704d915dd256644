#include "dsl/config.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dsl/build_context.hpp"
#include "dsl/builder.hpp"
#include "dsl/yaml_document.hpp"

namespace baton::dsl {
namespace {

bool HasErrors(const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds) {
    if (d.severity == "error") return true;
  }
  return false;
}

}  // namespace

void ProjectConfig::ApplyDefaults(core::ModelConfig& model) const {
  if (auto p = providers.find(model.provider); p != providers.end()) {
    for (const auto& kv : p->second) {
      if (!model.options.contains(kv.key())) model.options[kv.key()] = kv.value();
    }
  }
  if (!model.options.contains("price")) {
    if (auto p = prices.find(model.model); p != prices.end()) model.options["price"] = p->second;
  }
}

ConfigResult LoadConfigText(std::string_view text, const std::string& file_name) {
  ConfigResult result;
  try {
    YamlDocument doc = YamlDocument::Parse(text, file_name, result.diagnostics);
    if (HasErrors(result.diagnostics)) {
      SortDiagnostics(result.diagnostics);
      return result;
    }
    Reporter reporter(doc, file_name, result.diagnostics);
    BuildOutput out = BuildConfig(doc.root(), reporter);
    auto config = std::make_shared<ProjectConfig>();
    config->files.push_back(file_name);
    for (auto& [name, model] : out.workflow.models) {
      model.file = file_name;
      config->models.emplace(name, std::move(model));
    }
    // Fallbacks may only name models of the same file (a workflow cannot reach into config
    // models' chains otherwise).
    for (const NameRef& ref : out.refs) {
      if (ref.kind == NameRef::Kind::kModel && !config->models.count(ref.name)) {
        reporter.AtValue(ref.pointer,
                         fmt::format("{} uses unknown model '{}'", ref.owner, ref.name));
      }
    }
    config->providers = std::move(out.config_providers);
    config->prices = std::move(out.config_prices);
    config->daily_usd = out.workflow.budget.daily_usd;
    if (!HasErrors(result.diagnostics)) result.config = std::move(config);
  } catch (const std::exception& e) {
    result.diagnostics.push_back(
        {file_name, 1, 1, "error", fmt::format("internal error while loading: {}", e.what())});
  }
  SortDiagnostics(result.diagnostics);
  return result;
}

std::vector<std::string> ConfigFiles() {
  std::vector<std::string> files;
  std::string user_dir;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    user_dir = std::string(xdg) + "/baton";
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    user_dir = std::string(home) + "/.config/baton";
  }
  std::error_code ec;
  if (!user_dir.empty() && std::filesystem::is_regular_file(user_dir + "/config.yaml", ec)) {
    files.push_back(user_dir + "/config.yaml");
  }
  if (std::filesystem::is_regular_file("baton.yaml", ec)) files.emplace_back("baton.yaml");
  return files;
}

ConfigResult LoadConfigFiles(const std::vector<std::string>& files) {
  ConfigResult merged;
  auto config = std::make_shared<ProjectConfig>();
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      merged.diagnostics.push_back(
          {file, 0, 0, "error", fmt::format("cannot open file: {}", std::strerror(errno))});
      continue;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    ConfigResult one = LoadConfigText(buf.str(), file);
    merged.diagnostics.insert(merged.diagnostics.end(), one.diagnostics.begin(),
                              one.diagnostics.end());
    if (!one.config) continue;
    config->files.push_back(file);
    for (const auto& [k, v] : one.config->models) config->models.insert_or_assign(k, v);
    for (const auto& [k, v] : one.config->providers) config->providers.insert_or_assign(k, v);
    for (const auto& [k, v] : one.config->prices) config->prices.insert_or_assign(k, v);
    if (one.config->daily_usd) config->daily_usd = one.config->daily_usd;
  }
  if (!HasErrors(merged.diagnostics)) merged.config = std::move(config);
  return merged;
}

}  // namespace baton::dsl
