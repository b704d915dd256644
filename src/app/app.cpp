#include "app/app.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace baton::app {

Result<std::unique_ptr<store::Store>> OpenStore(const StoreConfig& config) {
  if (config.path == ":memory:") return store::NewMemoryStore();
  store::SqliteOptions options;
  options.synchronous_full = config.synchronous_full;
  return store::OpenSqliteStore(config.path, options);
}

Registries::Registries() : admission(std::make_shared<providers::admission::AdmissionHub>()) {
  providers::RegisterBuiltinProviders(models, admission);
}

dsl::LoadOptions Registries::LoadOptions() const {
  dsl::LoadOptions options;
  options.host_tools = tools.Names();
  options.providers = models.Providers();
  options.config = config;
  return options;
}

std::optional<std::string> StoreResponseCache::Get(std::string_view key) {
  auto got = store_.GetCached(key, clock_.NowMillis());
  if (!got.ok()) return std::nullopt;
  return *got;
}

void StoreResponseCache::Put(std::string_view key, std::string value, Millis ttl) {
  int64_t now = clock_.NowMillis();
  (void)store_.PutCached(key, value, now, now + ttl.count());
}

ScopedStoreCache::ScopedStoreCache(Registries& registries, store::Store& store)
    : registries_(registries), previous_(registries.admission->cache()) {
  registries_.admission->SetCache(
      std::make_shared<StoreResponseCache>(store, registries.admission->clock()));
}

ScopedStoreCache::~ScopedStoreCache() { registries_.admission->SetCache(previous_); }

std::vector<dsl::Diagnostic> LoadConfig(Registries& registries) {
  std::vector<std::string> files;
  if (const char* path = std::getenv("BATON_CONFIG"); path && *path) {
    files.emplace_back(path);
  } else {
    files = dsl::ConfigFiles();
  }
  dsl::ConfigResult r = dsl::LoadConfigFiles(files);
  registries.config = r.config;
  return r.diagnostics;
}

std::vector<dsl::Diagnostic> CheckModels(const core::Workflow& workflow,
                                         const Registries& registries) {
  std::vector<dsl::Diagnostic> out;
  for (const auto& [name, config] : workflow.models) {
    if (!registries.models.Contains(config.provider)) continue;  // the loader reports it
    auto model = registries.models.Create(config);
    if (!model.ok()) {
      out.push_back({config.file.empty() ? workflow.file : config.file, config.loc.line,
                     config.loc.col, "error",
                     fmt::format("model '{}': {}", name, model.error().message())});
    }
  }
  return out;
}

std::vector<std::string> OfflineModels(const core::Workflow& workflow,
                                       const Registries& registries) {
  std::vector<std::string> out;
  for (const auto& [name, config] : workflow.models) {
    if (config.provider == "sim" || !config.options.contains("offline")) continue;
    auto model = registries.models.Create(config);
    if (model.ok() && (*model)->provider() == "sim") out.push_back(name);
  }
  return out;
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound(fmt::format("cannot read {}: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

dsl::LoadOptions WithRunSources(store::Store& store, const store::RunRecord& run,
                                dsl::LoadOptions options) {
  auto first = store.ReadEvents(run.id, 0, 1);
  if (!first.ok() || first->empty()) return options;
  const auto* s = first->front().data.if_contains("sources");
  if (!s || !s->is_object()) return options;
  options.read_file = [&store, sources = s->get_object()](const std::string& path) {
    const auto* hash = sources.if_contains(path);
    if (hash && hash->is_string()) return store.GetBlob(hash->get_string());
    return ReadFile(path);
  };
  return options;
}

Result<std::shared_ptr<const core::Workflow>> LoadRunWorkflow(store::Store& store,
                                                              const store::RunRecord& run,
                                                              const dsl::LoadOptions& options) {
  std::string source;
  if (!run.workflow_blob.empty()) {
    BATON_ASSIGN_OR_RETURN(source, store.GetBlob(run.workflow_blob));
  } else {
    BATON_ASSIGN_OR_RETURN(source, ReadFile(run.workflow_file));
  }
  dsl::LoadResult loaded =
      dsl::LoadWorkflowText(source, run.workflow_file, WithRunSources(store, run, options));
  if (!loaded.workflow) {
    std::string msg = "the workflow stored with the run no longer loads";
    for (const auto& d : loaded.diagnostics) msg += "\n" + dsl::FormatDiagnostic(d);
    return FailedPrecondition(msg);
  }
  return loaded.workflow;
}

bool OwnerAlive(const store::RunRecord& run) {
  if (run.owner_pid <= 0) return false;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  if (!run.owner_host.empty() && run.owner_host != host) return true;  // cannot tell: assume alive
  if (run.owner_pid == getpid()) return true;
  return kill(static_cast<pid_t>(run.owner_pid), 0) == 0 || errno == EPERM;
}

core::RunStatus EffectiveStatus(const store::RunRecord& run) {
  if ((run.status == core::RunStatus::kRunning || run.status == core::RunStatus::kPending) &&
      !OwnerAlive(run)) {
    return core::RunStatus::kInterrupted;
  }
  return run.status;
}

Status CancelOrphanedRun(store::Store& store, const store::RunRecord& run, int64_t now_ms) {
  core::Event req;
  req.seq = run.last_seq + 1;
  req.type = core::EventType::kRunCancelRequested;
  req.time_ms = now_ms;
  req.data["reason"] = "user";
  core::Event fin;
  fin.seq = run.last_seq + 2;
  fin.type = core::EventType::kRunFinished;
  fin.time_ms = now_ms;
  fin.data["status"] = "cancelled";
  fin.data["error"] = json::object{{"type", "cancelled"}, {"message", "the run was cancelled"}};
  store::RunUpdate update;
  update.status = core::RunStatus::kCancelled;
  update.error = "cancelled: the run was cancelled";
  update.owner_pid = 0;
  return store.AppendSync(run.id, {req, fin}, update);
}

}  // namespace baton::app
