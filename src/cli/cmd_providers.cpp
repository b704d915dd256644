// `baton providers list` and `baton providers check`: what providers baton knows, and whether
// each configured model answers. Keys are reported as set or unset, never shown.

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>

#include "app/app.hpp"
#include "base/json.hpp"
#include "cli/cli.hpp"
#include "dsl/loader.hpp"
#include "providers/http_providers.hpp"
#include "providers/registry.hpp"

namespace baton::cli {
namespace {

namespace asio = boost::asio;

void Print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

std::string KeyState(std::string_view env) {
  if (env.empty()) return "-";
  const char* v = std::getenv(std::string(env).c_str());
  return fmt::format("{} ({})", env, v && *v ? "set" : "unset");
}

struct Probe {
  std::string name;
  const core::ModelConfig* config = nullptr;
  Status status;
  int64_t ms = 0;
  int64_t tokens = 0;
  std::string reply;
};

asio::awaitable<void> RunProbe(providers::ChatModel* model, Probe* probe) {
  providers::ChatRequest req;
  req.model = probe->config->model;
  req.messages.push_back({"user", "Reply with the single word OK."});
  req.max_tokens = 16;
  req.step_id = "providers-check";
  auto t0 = std::chrono::steady_clock::now();
  auto reply = co_await model->Complete(req);
  probe->ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  if (!reply.ok()) {
    probe->status = reply.error();
    co_return;
  }
  probe->tokens = reply->usage.input_tokens + reply->usage.output_tokens;
  probe->reply = reply->text.substr(0, 40);
}

}  // namespace

int ProvidersListCommand() {
  Print(
      fmt::format("{:<12} {:<10} {:<44} {}\n", "PROVIDER", "PROTOCOL", "DEFAULT BASE URL", "KEY"));
  Print(fmt::format("{:<12} {:<10} {:<44} {}\n", "sim", "-", "(built in, no network)", "-"));
  for (const auto& p : providers::HttpProviderPresets()) {
    Print(fmt::format("{:<12} {:<10} {:<44} {}\n", p.name, p.protocol, p.base_url,
                      KeyState(p.api_key_env)));
  }
  return kExitOk;
}

int ProvidersCheckCommand(const CommonOptions& common, const std::string& workflow_file) {
  app::Registries registries;
  if (!ReportConfig(registries)) return kExitValidation;
  std::map<std::string, core::ModelConfig> models;
  std::shared_ptr<const core::Workflow> wf;
  if (!workflow_file.empty()) {
    dsl::LoadResult loaded = dsl::LoadWorkflowFile(workflow_file, registries.LoadOptions());
    for (const auto& d : loaded.diagnostics) {
      std::fprintf(stderr, "%s\n", dsl::FormatDiagnostic(d).c_str());
    }
    if (!loaded.workflow) return kExitValidation;
    wf = loaded.workflow;
    models = wf->models;
  }
  for (const auto& [name, config] : registries.config->models) {
    if (!models.count(name)) {
      core::ModelConfig c = config;
      registries.config->ApplyDefaults(c);
      models.emplace(name, std::move(c));
    }
  }
  if (models.empty()) {
    std::fprintf(stderr,
                 "no models to check: name them in baton.yaml (models:) or pass a workflow file\n");
    return kExitUsage;
  }
  std::vector<Probe> probes;
  std::vector<std::unique_ptr<providers::ChatModel>> owned;
  for (const auto& [name, config] : models) {
    Probe p;
    p.name = name;
    p.config = &config;
    probes.push_back(std::move(p));
  }
  asio::io_context io;
  std::vector<std::future<void>> pending;
  for (auto& p : probes) {
    auto model = registries.models.Create(*p.config);
    if (!model.ok()) {
      p.status = model.error();
      continue;
    }
    owned.push_back(std::move(model).value());
    pending.push_back(asio::co_spawn(io, RunProbe(owned.back().get(), &p), asio::use_future));
  }
  io.run();
  for (auto& f : pending) f.get();

  int failed = 0;
  json::array out;
  for (const auto& p : probes) {
    std::string base;
    if (const auto* b = p.config->options.if_contains("base_url"); b && b->is_string()) {
      base = b->get_string();
    }
    if (!p.status.ok()) ++failed;
    json::object o{{"model", p.name},
                   {"provider", p.config->provider},
                   {"model_id", p.config->model},
                   {"ok", p.status.ok()},
                   {"duration_ms", p.ms}};
    if (!base.empty()) o["base_url"] = base;
    if (!p.status.ok()) {
      o["error"] = json::object{{"type", p.status.ErrorType()}, {"message", p.status.message()}};
    }
    out.push_back(std::move(o));
  }
  if (common.output == OutputFormat::kJson) {
    Print(PrettyJson(out) + "\n");
  } else {
    Print(fmt::format("{:<16} {:<11} {:<28} {}\n", "MODEL", "PROVIDER", "MODEL ID", "RESULT"));
    for (const auto& p : probes) {
      std::string result = p.status.ok()
                               ? fmt::format("ok · {} ms · {} tokens", p.ms, p.tokens)
                               : fmt::format("{}: {}", p.status.ErrorType(), p.status.message());
      Print(fmt::format("{:<16} {:<11} {:<28} {}\n", p.name, p.config->provider, p.config->model,
                        result));
    }
  }
  return failed == 0 ? kExitOk : kExitError;
}

}  // namespace baton::cli
