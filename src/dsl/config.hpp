#pragma once

// baton's configuration files: named models every workflow may use, provider-level defaults
// (base URL, key variable, limits, headers), price overrides and the daily budget. Read from
// `baton.yaml` in the project (current directory), then the user's config file
// ($XDG_CONFIG_HOME/baton/config.yaml, else ~/.config/baton/config.yaml); the project wins.
// Keys never live here: a model names the environment variable that holds its key.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/json.hpp"
#include "core/workflow.hpp"
#include "dsl/diagnostic.hpp"

namespace baton::dsl {

struct ProjectConfig {
  std::vector<std::string> files;                   // the files it was read from
  std::map<std::string, core::ModelConfig> models;  // `models:`; ModelConfig::file is set
  std::map<std::string, json::object> providers;    // provider -> default model options
  std::map<std::string, json::value> prices;        // provider model id -> price override
  std::optional<double> daily_usd;                  // `budget: { daily_usd }`

  // Fills what `model` leaves unset from the defaults of its provider and the price table.
  void ApplyDefaults(core::ModelConfig& model) const;
};

struct ConfigResult {
  std::shared_ptr<const ProjectConfig> config;  // null when any diagnostic is an error
  std::vector<Diagnostic> diagnostics;
};

// Parses one config file's text; diagnostics name `file_name`.
ConfigResult LoadConfigText(std::string_view text, const std::string& file_name);

// The config files that exist, in the order they apply (user first, project last).
std::vector<std::string> ConfigFiles();

// Reads and merges `files` (later files override earlier ones, per model/provider/price).
// Errors of every file are reported together.
ConfigResult LoadConfigFiles(const std::vector<std::string>& files);

}  // namespace baton::dsl
