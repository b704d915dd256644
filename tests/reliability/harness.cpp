#include "harness.hpp"

#include <dirent.h>
#include <gtest/gtest.h>

#include "dsl/loader.hpp"
#include "providers/sim/sim_model.hpp"
#include "simserver/faults.hpp"

namespace baton::reliability {

std::unique_ptr<simserver::SimServer> StartSim(simserver::SimServerOptions options,
                                               std::string_view sim_json) {
  if (!sim_json.empty()) {
    auto parsed = ParseJson(sim_json);
    if (!parsed.ok()) {
      ADD_FAILURE() << "sim options: " << parsed.error().ToString();
      return nullptr;
    }
    auto sim = providers::sim::ParseSimOptions(*parsed);
    if (!sim.ok()) {
      ADD_FAILURE() << "sim options: " << sim.error().ToString();
      return nullptr;
    }
    options.sim = std::move(sim).value();
  }
  options.host = "127.0.0.1";
  options.port = 0;
  auto server = simserver::SimServer::Start(std::move(options));
  if (!server.ok()) {
    ADD_FAILURE() << "sim-server: " << server.error().ToString();
    return nullptr;
  }
  return std::move(server).value();
}

void AddFaults(simserver::SimServer& server, const std::vector<std::string>& specs) {
  std::vector<simserver::Fault> faults;
  for (const auto& spec : specs) {
    auto f = simserver::ParseFaultSpec(spec);
    if (!f.ok()) {
      ADD_FAILURE() << "fault '" << spec << "': " << f.error().ToString();
      continue;
    }
    faults.push_back(std::move(f).value());
  }
  server.faults().Add(std::move(faults));
}

std::vector<Request> Requests(simserver::SimServer& server) {
  std::vector<Request> out;
  json::value stats = server.stats().ToJson();
  for (const auto& v : stats.at("requests").as_array()) {
    const auto& o = v.as_object();
    Request r;
    r.seq = o.at("seq").to_number<int64_t>();
    r.time_ms = o.at("time_ms").to_number<int64_t>();
    r.elapsed_ms = o.at("elapsed_ms").to_number<int64_t>();
    if (const auto* m = o.if_contains("model"); m && m->is_string()) r.model = m->get_string();
    if (const auto* k = o.if_contains("key_fp"); k && k->is_string()) r.key_fp = k->get_string();
    r.status = o.at("status").to_number<int>();
    if (const auto* s = o.if_contains("stream"); s && s->is_bool()) r.stream = s->get_bool();
    if (const auto* f = o.if_contains("fault"); f && f->is_string()) r.fault = f->get_string();
    if (const auto* c = o.if_contains("outcome"); c && c->is_string()) r.outcome = c->get_string();
    out.push_back(std::move(r));
  }
  return out;
}

Host::Host(runtime::EngineOptions options)
    : registries_(std::make_unique<app::Registries>()), store_(store::NewMemoryStore()) {
  engine_ =
      std::make_unique<runtime::Engine>(*store_, registries_->models, registries_->tools, options);
}

Host::~Host() { Shutdown(); }

void Host::Shutdown() {
  engine_.reset();
  registries_.reset();
}

std::shared_ptr<const core::Workflow> Host::Load(std::string yaml, const std::string& server_url) {
  for (size_t at = yaml.find("SERVER"); at != std::string::npos;
       at = yaml.find("SERVER", at + server_url.size())) {
    yaml.replace(at, 6, server_url);
  }
  auto r = dsl::LoadWorkflowText(yaml, "reliability.yaml", registries_->LoadOptions());
  std::string diags;
  for (const auto& d : r.diagnostics) diags += dsl::FormatDiagnostic(d) + "\n";
  if (!r.workflow) ADD_FAILURE() << diags;
  return r.workflow;
}

std::string Host::Start(std::shared_ptr<const core::Workflow> workflow, json::object inputs) {
  if (!workflow) return "";
  runtime::RunOptions options;
  options.inputs = std::move(inputs);
  auto id = engine_->Start(std::move(workflow), std::move(options));
  if (!id.ok()) {
    ADD_FAILURE() << "start: " << id.error().ToString();
    return "";
  }
  return *id;
}

runtime::RunResult Host::Wait(const std::string& run_id) {
  if (run_id.empty()) return {};
  auto r = engine_->Wait(run_id);
  if (!r.ok()) {
    ADD_FAILURE() << "wait: " << r.error().ToString();
    return {};
  }
  return *r;
}

std::vector<core::Event> Host::Events(const std::string& run_id) {
  auto events = store_->ReadEvents(run_id);
  if (!events.ok()) {
    ADD_FAILURE() << "events: " << events.error().ToString();
    return {};
  }
  return *events;
}

std::vector<const core::Event*> OfType(const std::vector<core::Event>& events,
                                       core::EventType type) {
  std::vector<const core::Event*> out;
  for (const auto& e : events) {
    if (e.type == type) out.push_back(&e);
  }
  return out;
}

const json::object* CallError(const std::vector<core::Event>& events, const core::Event& e) {
  for (const auto& c : events) {
    if (c.type != core::EventType::kModelCalled || c.step != e.step || c.item != e.item ||
        c.attempt != e.attempt) {
      continue;
    }
    const auto* err = c.data.if_contains("error");
    return err == nullptr ? nullptr : err->if_object();
  }
  return nullptr;
}

int OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

const json::value& StepOutput(const runtime::RunResult& result, std::string_view step) {
  static const json::value kNull;
  const auto* steps = result.summary().if_contains("steps");
  if (steps == nullptr || !steps->is_object()) return kNull;
  const auto* s = steps->get_object().if_contains(step);
  if (s == nullptr || !s->is_object()) return kNull;
  const auto* out = s->get_object().if_contains("output");
  return out == nullptr ? kNull : *out;
}

}  // namespace baton::reliability
