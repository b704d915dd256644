#include "baton/baton.hpp"

#include <fmt/format.h>

#include <map>
#include <mutex>
#include <utility>

#include "app/app.hpp"
#include "dsl/loader.hpp"
#include "store/store.hpp"

namespace baton {
namespace {

// One error for a workflow that does not load: a header line, then one line per diagnostic.
Status LoadError(const std::string& name, const std::vector<dsl::Diagnostic>& diagnostics) {
  size_t errors = 0;
  for (const auto& d : diagnostics) errors += d.severity == "error" ? 1 : 0;
  std::string msg =
      fmt::format("{} does not load ({} error{}):", name, errors, errors == 1 ? "" : "s");
  for (const auto& d : diagnostics) msg += "\n" + dsl::FormatDiagnostic(d);
  return InvalidArgument(std::move(msg));
}

}  // namespace

// Everything a Baton owns. Declaration order is destruction order reversed: the engine goes
// first, cancelling and joining its runs while the registries and the store still exist.
struct Baton::Impl {
  Impl(Options o, std::unique_ptr<store::Store> s)
      : options(std::move(o)),
        store(std::move(s)),
        listeners(std::make_shared<const std::vector<runtime::EventListener>>()) {}

  // A loaded workflow's source, kept while the workflow is alive so Start can store it.
  struct Source {
    std::weak_ptr<const core::Workflow> workflow;
    std::string text;
    std::string name;
  };

  // What the loader needs to know of the registries.
  dsl::LoadOptions LoadOptions() const {
    std::lock_guard lock(mu);
    return registries.LoadOptions();
  }
  // The engine, created on first use (which ends registration).
  runtime::Engine& GetEngine();
  // The workflow stored with `run`, loaded with this Baton's registries.
  Result<std::shared_ptr<const core::Workflow>> LoadRunWorkflow(const store::RunRecord& run);
  // Calls every listener; on an engine thread.
  void Dispatch(const std::string& run_id, const core::Event& event) const;

  const Options options;
  const std::unique_ptr<store::Store> store;
  mutable std::mutex mu;  // guards registries during registration, engine, sources, listeners
  app::Registries registries;
  std::map<const core::Workflow*, Source> sources;
  std::shared_ptr<const std::vector<runtime::EventListener>> listeners;
  std::unique_ptr<runtime::Engine> engine;
};

Result<std::unique_ptr<Baton>> Baton::Open(Options options) {
  if (options.threads < 1) return InvalidArgument("Options::threads must be at least 1");
  if (options.max_concurrency < 1) {
    return InvalidArgument("Options::max_concurrency must be at least 1");
  }
  BATON_ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store,
                         app::OpenStore({options.store, options.synchronous_full}));
  return std::unique_ptr<Baton>(
      new Baton(std::make_unique<Impl>(std::move(options), std::move(store))));
}

Baton::Baton(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Baton::~Baton() = default;

Status Baton::RegisterTool(std::string name, ToolFunction function) {
  if (!function) return InvalidArgument(fmt::format("tool '{}': empty function", name));
  return RegisterTool(std::make_unique<tools::FunctionTool>(std::move(name), std::move(function)));
}

Status Baton::RegisterTool(std::unique_ptr<tools::Tool> tool) {
  std::lock_guard lock(impl_->mu);
  if (impl_->engine) {
    return FailedPrecondition("tools must be registered before the first run starts");
  }
  return impl_->registries.tools.Register(std::move(tool));
}

Status Baton::RegisterProvider(std::string name, providers::ModelFactory factory) {
  std::lock_guard lock(impl_->mu);
  if (impl_->engine) {
    return FailedPrecondition("providers must be registered before the first run starts");
  }
  return impl_->registries.models.Register(std::move(name), std::move(factory));
}

Result<std::shared_ptr<const core::Workflow>> Baton::LoadFile(const std::string& path) {
  BATON_ASSIGN_OR_RETURN(std::string text, app::ReadFile(path));
  return LoadText(text, path);
}

Result<std::shared_ptr<const core::Workflow>> Baton::LoadText(std::string_view text,
                                                              const std::string& name) {
  dsl::LoadResult loaded = dsl::LoadWorkflowText(text, name, impl_->LoadOptions());
  if (!loaded.workflow) return LoadError(name, loaded.diagnostics);
  std::lock_guard lock(impl_->mu);
  // As `baton validate` does: every model is created once, so bad provider options are
  // diagnostics now rather than step failures later.
  std::vector<dsl::Diagnostic> model_errors = app::CheckModels(*loaded.workflow, impl_->registries);
  if (!model_errors.empty()) return LoadError(name, model_errors);
  auto& sources = impl_->sources;
  for (auto it = sources.begin(); it != sources.end();) {
    it = it->second.workflow.expired() ? sources.erase(it) : std::next(it);
  }
  sources[loaded.workflow.get()] = Impl::Source{loaded.workflow, std::string(text), name};
  return loaded.workflow;
}

void Baton::OnEvent(runtime::EventListener listener) {
  if (!listener) return;
  std::lock_guard lock(impl_->mu);
  auto next = std::make_shared<std::vector<runtime::EventListener>>(*impl_->listeners);
  next->push_back(std::move(listener));
  impl_->listeners = std::move(next);
}

void Baton::Impl::Dispatch(const std::string& run_id, const core::Event& event) const {
  std::shared_ptr<const std::vector<runtime::EventListener>> current;
  {
    std::lock_guard lock(mu);
    current = listeners;
  }
  for (const auto& l : *current) l(run_id, event);
}

runtime::Engine& Baton::Impl::GetEngine() {
  std::lock_guard lock(mu);
  if (!engine) {
    runtime::EngineOptions engine_options;
    engine_options.threads = options.threads;
    engine_options.max_concurrency = options.max_concurrency;
    engine = std::make_unique<runtime::Engine>(*store, registries.models, registries.tools,
                                               engine_options);
    engine->SetListener(
        [this](const std::string& run_id, const core::Event& event) { Dispatch(run_id, event); });
  }
  return *engine;
}

Result<std::string> Baton::Start(std::shared_ptr<const core::Workflow> workflow,
                                 json::object inputs) {
  if (!workflow) return InvalidArgument("Start: no workflow");
  runtime::RunOptions run;
  run.inputs = std::move(inputs);
  {
    std::lock_guard lock(impl_->mu);
    auto it = impl_->sources.find(workflow.get());
    if (it != impl_->sources.end() && it->second.workflow.lock() == workflow) {
      run.workflow_source = it->second.text;
      run.workflow_file = it->second.name;
    }
  }
  return impl_->GetEngine().Start(std::move(workflow), std::move(run));
}

Result<std::shared_ptr<const core::Workflow>> Baton::Impl::LoadRunWorkflow(
    const store::RunRecord& run) {
  std::string source;
  if (!run.workflow_blob.empty()) {
    BATON_ASSIGN_OR_RETURN(source, store->GetBlob(run.workflow_blob));
  } else if (!run.workflow_file.empty()) {
    BATON_ASSIGN_OR_RETURN(source, app::ReadFile(run.workflow_file));
  } else {
    return FailedPrecondition(fmt::format(
        "run {} has no stored workflow (it was started with a workflow not loaded by a Baton)",
        run.id));
  }
  dsl::LoadResult loaded = dsl::LoadWorkflowText(source, run.workflow_file,
                                                 app::WithRunSources(*store, run, LoadOptions()));
  if (!loaded.workflow) {
    return FailedPrecondition(
        LoadError(fmt::format("the workflow stored with run {}", run.id), loaded.diagnostics)
            .message());
  }
  return loaded.workflow;
}

Result<runtime::RunResult> Baton::Wait(const std::string& run_id) {
  store::Store& store = *impl_->store;
  BATON_ASSIGN_OR_RETURN(store::RunRecord rec, store.GetRun(run_id));
  runtime::Engine* engine;
  {
    std::lock_guard lock(impl_->mu);
    engine = impl_->engine.get();
  }
  if (engine) {
    auto waited = engine->Wait(rec.id);
    if (waited.ok() || waited.error().code() != Code::kNotFound) return waited;
    // Not executing here (any more): read the journal again, it may have finished meanwhile.
    BATON_ASSIGN_OR_RETURN(rec, store.GetRun(rec.id));
  }
  if (!core::IsTerminal(rec.status)) {
    return FailedPrecondition(
        fmt::format("run {} is {} but not executing in this process; Resume() continues it", rec.id,
                    core::RunStatusName(app::EffectiveStatus(rec))));
  }
  BATON_ASSIGN_OR_RETURN(auto workflow, impl_->LoadRunWorkflow(rec));
  BATON_ASSIGN_OR_RETURN(std::vector<core::Event> events, store.ReadEvents(rec.id));
  runtime::RunResult result;
  result.run_id = rec.id;
  result.status = rec.status;
  result.set_summary(runtime::SummarizeRun(*workflow, rec.id, events));
  return result;
}

Result<runtime::RunResult> Baton::Run(std::shared_ptr<const core::Workflow> workflow,
                                      json::object inputs) {
  BATON_ASSIGN_OR_RETURN(std::string id, Start(std::move(workflow), std::move(inputs)));
  return impl_->GetEngine().Wait(id);
}

Result<runtime::RunResult> Baton::Resume(const std::string& run_id) {
  BATON_ASSIGN_OR_RETURN(store::RunRecord rec, impl_->store->GetRun(run_id));
  if (core::IsTerminal(rec.status)) {
    return FailedPrecondition(fmt::format("run {} already finished ({}); nothing to resume", rec.id,
                                          core::RunStatusName(rec.status)));
  }
  if (app::OwnerAlive(rec)) {
    return FailedPrecondition(
        fmt::format("run {} is still being executed by process {}", rec.id, rec.owner_pid));
  }
  BATON_ASSIGN_OR_RETURN(auto workflow, impl_->LoadRunWorkflow(rec));
  runtime::Engine& engine = impl_->GetEngine();
  BATON_RETURN_IF_ERROR(engine.Resume(std::move(workflow), rec.id));
  return engine.Wait(rec.id);
}

bool Baton::Cancel(const std::string& run_id) {
  std::lock_guard lock(impl_->mu);
  return impl_->engine && impl_->engine->Cancel(run_id);
}

Result<std::vector<core::Event>> Baton::Events(const std::string& run_id) {
  BATON_ASSIGN_OR_RETURN(store::RunRecord rec, impl_->store->GetRun(run_id));
  return impl_->store->ReadEvents(rec.id);
}

}  // namespace baton
