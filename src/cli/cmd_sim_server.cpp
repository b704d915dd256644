// `baton sim-server`: the sim model over the OpenAI, Anthropic and Gemini wire protocols
// (docs/sim-server.md). Registered by AddSimServerCommand(); runs from the subcommand's
// callback and ends the process with its exit code.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "cli/cli.hpp"
#include "dsl/yaml_document.hpp"
#include "providers/sim/sim_model.hpp"
#include "simserver/sim_server.hpp"

namespace baton::cli {
namespace {

struct SimServerArgs {
  std::string host = "127.0.0.1";
  int port = 8089;
  std::string latency;
  std::optional<uint64_t> seed;
  std::string config;
  std::string api_key;
  int64_t rpm = 0;
  int64_t tpm = 0;
  std::vector<std::string> faults;
  int threads = 2;
};

// The `sim:` options: from --config (a file holding a `sim:` block, or the block itself), with
// --seed and --latency on top.
std::optional<providers::sim::SimOptions> LoadSimOptions(const SimServerArgs& args) {
  json::object sim;
  if (!args.config.empty()) {
    std::ifstream in(args.config, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "error: cannot read %s\n", args.config.c_str());
      return std::nullopt;
    }
    std::stringstream text;
    text << in.rdbuf();
    std::vector<dsl::Diagnostic> diagnostics;
    dsl::YamlDocument doc = dsl::YamlDocument::Parse(text.str(), args.config, diagnostics);
    bool failed = false;
    for (const auto& d : diagnostics) {
      std::fprintf(stderr, "%s\n", dsl::FormatDiagnostic(d).c_str());
      failed = failed || d.severity == "error";
    }
    if (failed) return std::nullopt;
    const json::value& root = doc.root();
    const json::value* block = &root;
    if (const json::object* o = root.if_object(); o != nullptr && o->contains("sim")) {
      block = &o->at("sim");
    }
    if (!block->is_null() && !block->is_object()) {
      std::fprintf(stderr, "error: %s: expected the sim options as a mapping\n",
                   args.config.c_str());
      return std::nullopt;
    }
    if (block->is_object()) sim = block->get_object();
  }
  if (args.seed) sim["seed"] = *args.seed;
  if (!args.latency.empty()) sim["latency"] = args.latency;
  auto options = providers::sim::ParseSimOptions(sim);
  if (!options.ok()) {
    std::fprintf(stderr, "error: %s\n", options.error().message().c_str());
    return std::nullopt;
  }
  return std::move(options).value();
}

int RunSimServer(const SimServerArgs& args) {
  // Before any thread exists: only this thread takes SIGINT/SIGTERM, through sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  simserver::SimServerOptions options;
  options.host = args.host;
  if (args.port < 0 || args.port > 65535) {
    std::fprintf(stderr, "error: --port must be 0..65535\n");
    return kExitUsage;
  }
  options.port = static_cast<uint16_t>(args.port);
  options.threads = args.threads;
  options.api_key = args.api_key;
  options.rpm = args.rpm;
  options.tpm = args.tpm;
  auto sim = LoadSimOptions(args);
  if (!sim) return kExitUsage;
  options.sim = std::move(*sim);
  for (const auto& spec : args.faults) {
    auto fault = simserver::ParseFaultSpec(spec);
    if (!fault.ok()) {
      std::fprintf(stderr, "error: --fault '%s': %s\n", spec.c_str(),
                   fault.error().message().c_str());
      return kExitUsage;
    }
    options.faults.push_back(std::move(fault).value());
  }

  auto server = simserver::SimServer::Start(std::move(options));
  if (!server.ok()) {
    std::fprintf(stderr, "error: %s\n", server.error().message().c_str());
    return kExitError;
  }
  std::string url = (*server)->url();
  std::printf("sim-server listening on %s\n", url.c_str());
  std::fflush(stdout);
  std::fprintf(stderr,
               "  OpenAI     base URL %s/v1\n"
               "  Anthropic  base URL %s\n"
               "  Gemini     base URL %s (v1beta)\n"
               "  control    %s/_sim/faults, %s/_sim/stats\n"
               "Ctrl-C stops it.\n",
               url.c_str(), url.c_str(), url.c_str(), url.c_str(), url.c_str());

  int sig = 0;
  sigwait(&signals, &sig);
  std::fprintf(stderr, "sim-server: stopping\n");
  (*server)->Stop();
  return kExitOk;
}

}  // namespace

void AddSimServerCommand(CLI::App& app) {
  auto args = std::make_shared<SimServerArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sim-server", "serve the sim model over the OpenAI, Anthropic and Gemini wire protocols");
  cmd->add_option("--port", args->port, "port to listen on (0: any free port)")
      ->capture_default_str();
  cmd->add_option("--host", args->host, "address to bind (0.0.0.0 for every interface)")
      ->capture_default_str();
  cmd->add_option("--latency", args->latency, "reply latency, e.g. 50ms (overrides --config)");
  cmd->add_option("--seed", args->seed, "seed of the sim model (overrides --config)");
  cmd->add_option("--config", args->config,
                  "YAML/JSON file with the sim options (a workflow's `sim:` block)");
  cmd->add_option("--api-key", args->api_key,
                  "accept only this API key (others get the protocol's auth error)");
  cmd->add_option("--rpm", args->rpm, "per-key requests per minute (429 beyond)");
  cmd->add_option("--tpm", args->tpm, "per-key tokens per minute (429 beyond)");
  cmd->add_option("--fault", args->faults,
                  "a fault to inject, e.g. '429,count=2' or 'stall-headers,protocol=openai' "
                  "(repeatable; see docs/sim-server.md)");
  cmd->add_option("--threads", args->threads, "server threads")->capture_default_str();
  cmd->callback([args] {
    int code = RunSimServer(*args);
    std::fflush(stdout);
    std::fflush(stderr);
    std::exit(code);
  });
}

}  // namespace baton::cli
