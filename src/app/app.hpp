#pragma once

// The composition root: turns configuration into a store, registries and an engine, and holds
// the few policies shared by the CLI and the C++ library (where runs are stored, how a run's
// workflow is recovered for resume, whether a run's process is still alive).

#include <memory>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "core/workflow.hpp"
#include "dsl/loader.hpp"
#include "providers/admission/hub.hpp"
#include "providers/admission/response_cache.hpp"
#include "providers/registry.hpp"
#include "store/store.hpp"
#include "tools/tool.hpp"

namespace baton::app {

inline constexpr const char* kDefaultStorePath = ".baton/baton.db";

struct StoreConfig {
  std::string path = kDefaultStorePath;  // ":memory:" = in-memory store
  bool synchronous_full = true;          // false: synchronous=NORMAL
};

Result<std::unique_ptr<store::Store>> OpenStore(const StoreConfig& config);

// Model and tool registries with everything built in registered, and the configuration files'
// settings (dsl/config.hpp) the loader and the engine apply.
struct Registries {
  Registries();
  // Shared by every model: rate limits, breakers, retry budgets and the response cache.
  std::shared_ptr<providers::admission::AdmissionHub> admission;
  providers::ModelRegistry models;
  tools::ToolRegistry tools;
  std::shared_ptr<const dsl::ProjectConfig> config;  // null until LoadConfig succeeds

  // What the loader needs to know of them: registered tools and providers.
  dsl::LoadOptions LoadOptions() const;
};

// The admission chain's response cache kept in the journal, so a cached reply survives the
// process (`cache: true` on a model). Thread-safe; `store` and `clock` must outlive it.
class StoreResponseCache final : public providers::admission::ResponseCache {
 public:
  StoreResponseCache(store::Store& store, const Clock& clock) : store_(store), clock_(clock) {}
  std::optional<std::string> Get(std::string_view key) override;
  void Put(std::string_view key, std::string value, Millis ttl) override;

 private:
  store::Store& store_;
  const Clock& clock_;
};

// Points `registries`' admission hub at the journal's response cache for as long as it lives,
// then back at an in-memory one.
class ScopedStoreCache {
 public:
  ScopedStoreCache(Registries& registries, store::Store& store);
  ~ScopedStoreCache();
  ScopedStoreCache(const ScopedStoreCache&) = delete;
  ScopedStoreCache& operator=(const ScopedStoreCache&) = delete;

 private:
  Registries& registries_;
  std::shared_ptr<providers::admission::ResponseCache> previous_;
};

// Reads the configuration files: $BATON_CONFIG alone when set, else dsl::ConfigFiles(). Returns
// their diagnostics; sets registries.config when there is no error.
std::vector<dsl::Diagnostic> LoadConfig(Registries& registries);

// Creates each of the workflow's models once to check their provider options (e.g. the sim
// provider's `sim:` block, its replies_file). No network is used. Returns one diagnostic per
// model that cannot be created, at the model's position.
std::vector<dsl::Diagnostic> CheckModels(const core::Workflow& workflow,
                                         const Registries& registries);

// Models of `workflow` that are not `provider: sim` but run on the sim provider because their
// key is missing and they say `offline: sim`.
std::vector<std::string> OfflineModels(const core::Workflow& workflow,
                                       const Registries& registries);

// `options` reading the files of `workflow:` steps from the texts stored with `run` (the
// `sources` of its run_started), so they load as they were when it started. `store` must
// outlive the use of the returned options.
dsl::LoadOptions WithRunSources(store::Store& store, const store::RunRecord& run,
                                dsl::LoadOptions options);

// The workflow a run was started with, from the source stored with it.
Result<std::shared_ptr<const core::Workflow>> LoadRunWorkflow(store::Store& store,
                                                              const store::RunRecord& run,
                                                              const dsl::LoadOptions& options);

// True when the run's owner process is alive on this host.
bool OwnerAlive(const store::RunRecord& run);

// The status to show: "interrupted" for a running run whose process is gone.
core::RunStatus EffectiveStatus(const store::RunRecord& run);

// Finishes an interrupted run as cancelled directly in the journal (no process owns it).
Status CancelOrphanedRun(store::Store& store, const store::RunRecord& run, int64_t now_ms);

// Reads a whole file.
Result<std::string> ReadFile(const std::string& path);

}  // namespace baton::app
