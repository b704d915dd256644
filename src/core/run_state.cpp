#include "core/run_state.hpp"

#include <limits>

namespace baton::core {
namespace {

int64_t IntField(const json::object& o, std::string_view key, int64_t def = 0) {
  const auto* v = o.if_contains(key);
  if (!v) return def;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return def;
}

}  // namespace

std::string_view StepStatusName(StepStatus s) {
  switch (s) {
    case StepStatus::kPending:
      return "pending";
    case StepStatus::kRunning:
      return "running";
    case StepStatus::kSucceeded:
      return "succeeded";
    case StepStatus::kFailed:
      return "failed";
    case StepStatus::kSkipped:
      return "skipped";
    case StepStatus::kCancelled:
      return "cancelled";
  }
  return "unknown";
}

void UsageTotals::Add(const json::object& usage) {
  input_tokens += IntField(usage, "input_tokens");
  output_tokens += IntField(usage, "output_tokens");
  if (const auto* c = usage.if_contains("cost_usd")) {
    if (c->is_double()) cost_usd += c->get_double();
    if (c->is_int64()) cost_usd += static_cast<double>(c->get_int64());
  }
}

json::object UsageTotals::ToJson() const {
  json::object o;
  o["input_tokens"] = input_tokens;
  o["output_tokens"] = output_tokens;
  o["cost_usd"] = cost_usd;
  return o;
}

RunState::RunState(std::shared_ptr<const Workflow> workflow, std::string run_id)
    : workflow_(std::move(workflow)), run_id_(std::move(run_id)), budget_(workflow_->budget) {
  steps_.resize(workflow_->steps.size());
  for (size_t i = 0; i < steps_.size(); ++i) {
    steps_[i].pending_needs = static_cast<int>(workflow_->needs_idx[i].size());
  }
  steps_view_ = json::object();
  memory_ = json::object();
  workflow_view_ = json::object{{"name", workflow_->name}};
  inputs_value_ = json::object();
  env_ = json::object();
}

void RunState::UpdateStepView(int i, json::value output) {
  const auto& st = steps_[static_cast<size_t>(i)];
  json::object v(steps_view_.storage());
  v.reserve(5);
  v.emplace("status", StepStatusName(st.status));
  v.emplace("output", std::move(output));
  v.emplace("attempts", st.attempts);
  if (!st.error.empty()) v.emplace("error", st.error);
  if (!st.usage.empty()) v.emplace("usage", st.usage.ToJson());
  steps_view_.get_object()[workflow_->steps[static_cast<size_t>(i)].id] = std::move(v);
}

const json::value& RunState::StepOutput(int i) const {
  static const json::value kNull;
  const auto* v = steps_view_.get_object().if_contains(workflow_->steps[static_cast<size_t>(i)].id);
  if (!v) return kNull;
  const auto* out = v->get_object().if_contains("output");
  return out ? *out : kNull;
}

void RunState::FinishStep(int i, StepStatus status, int64_t time_ms, json::value output) {
  auto& st = steps_[static_cast<size_t>(i)];
  if (st.status == StepStatus::kRunning) {
    for (size_t k = 0; k < active_.size(); ++k) {
      if (active_[k] == i) {
        active_.erase(active_.begin() + static_cast<std::ptrdiff_t>(k));
        break;
      }
    }
  }
  const Step& step = workflow_->steps[static_cast<size_t>(i)];
  if (step.parent < 0 && !step.is_compensation) ++finished_steps_;
  st.status = status;
  st.finished_ms = time_ms;
  if (status == StepStatus::kSkipped || status == StepStatus::kCancelled) {
    // Keep what an earlier loop iteration produced visible.
    const json::value& prev = StepOutput(i);
    UpdateStepView(i, prev);
  } else {
    UpdateStepView(i, std::move(output));
  }
  // After a failure or a cancellation nothing that needs the step starts: a top-level failure
  // ends the run, and inside a block the container cancels the rest of the block.
  bool unblocks = status != StepStatus::kFailed && status != StepStatus::kCancelled;
  for (int d : workflow_->dependents[static_cast<size_t>(i)]) {
    auto& ds = steps_[static_cast<size_t>(d)];
    if (--ds.pending_needs == 0 && ds.status == StepStatus::kPending && unblocks) {
      ready_.push_back(d);
    }
  }
  if (step.parent >= 0 && !step.is_compensation) {  // a compensation runs after its block
    auto& ps = steps_[static_cast<size_t>(step.parent)];
    auto b = static_cast<size_t>(step.block);
    if (b < ps.blocks.size() && ps.blocks[b] == StepState::BlockState::kRunning) {
      --ps.block_left[b];
      if (status == StepStatus::kFailed && ps.block_error[b].empty()) {
        ps.block_error[b] = st.error;
        ps.block_error[b]["step"] = step.id;
      }
      settle_.push_back(step.parent);
    }
  }
}

namespace {

// The steps nested directly in container `step`, over all its blocks.
std::vector<int> Children(const Step& step) {
  std::vector<int> out;
  for (size_t b = 0; b < BlockCount(step.kind); ++b) {
    const auto& steps = BlockAt(step.kind, b).steps;
    out.insert(out.end(), steps.begin(), steps.end());
  }
  return out;
}

}  // namespace

void RunState::ResetStep(int i) {
  for (int child : Children(workflow_->steps[static_cast<size_t>(i)])) ResetStep(child);
  auto& st = steps_[static_cast<size_t>(i)];
  StepState fresh;
  fresh.usage = st.usage;
  fresh.model_calls = st.model_calls;
  fresh.confidence_n = st.confidence_n;
  fresh.confidence_sum = st.confidence_sum;
  fresh.blocks.assign(st.blocks.size(), StepState::BlockState::kIdle);
  fresh.block_left.assign(st.blocks.size(), 0);
  fresh.block_error.assign(st.blocks.size(), {});
  st = std::move(fresh);
  st.pending_needs = static_cast<int>(workflow_->needs_idx[static_cast<size_t>(i)].size());
  const json::value prev = StepOutput(i);
  UpdateStepView(i, prev);
}

void RunState::ActivateBlock(int c, int b, int64_t time_ms) {
  const Step& container = workflow_->steps[static_cast<size_t>(c)];
  auto& cs = steps_[static_cast<size_t>(c)];
  size_t nblocks = BlockCount(container.kind);
  if (cs.blocks.size() != nblocks) {
    cs.blocks.assign(nblocks, StepState::BlockState::kIdle);
    cs.block_left.assign(nblocks, 0);
    cs.block_error.assign(nblocks, {});
  }
  if (b < 0 || static_cast<size_t>(b) >= nblocks) return;
  auto bi = static_cast<size_t>(b);
  const Block& block = BlockAt(container.kind, bi);
  cs.blocks[bi] = StepState::BlockState::kRunning;
  cs.block_left[bi] = static_cast<int>(block.steps.size());
  cs.block_error[bi].clear();
  if (cs.status == StepStatus::kPending) {
    cs.status = StepStatus::kRunning;
    cs.started_ms = time_ms;
    active_.push_back(c);
  }
  for (int child : block.steps) {
    ResetStep(child);
    if (steps_[static_cast<size_t>(child)].pending_needs == 0) ready_.push_back(child);
  }
  if (block.steps.empty()) settle_.push_back(c);
}

void RunState::Apply(const Event& e) {
  last_seq_ = e.seq;
  int si = e.step.empty() ? -1 : workflow_->StepIndex(e.step);
  StepState* st = si >= 0 ? &steps_[static_cast<size_t>(si)] : nullptr;
  waits_.Fold(e);
  saga_.Fold(*workflow_, e, si);
  auto instance = [&]() -> InstanceState& {
    size_t idx = e.item >= 0 ? static_cast<size_t>(e.item) : 0;
    if (st->instances.size() <= idx) st->instances.resize(idx + 1);
    return st->instances[idx];
  };

  switch (e.type) {
    case EventType::kRunStarted: {
      status_ = RunStatus::kRunning;
      started_ms_ = e.time_ms;
      if (const auto* sim = e.data.if_contains("sim"); sim && sim->is_bool()) {
        uses_sim_ = sim->get_bool();
      }
      if (const auto* in = e.data.if_contains("inputs"); in && in->is_object()) {
        inputs_ = in->get_object();
        inputs_value_ = inputs_;
      }
      json::object run{{"id", run_id_}, {"started_at", FormatTimestamp(e.time_ms)}};
      if (const auto* wd = e.data.if_contains("workdir")) run["workdir"] = *wd;
      if (const auto* env = e.data.if_contains("env"); env && env->is_object()) env_ = *env;
      run_view_ = std::move(run);
      ready_.clear();
      for (int i : workflow_->top_level) {
        if (steps_[static_cast<size_t>(i)].pending_needs == 0) ready_.push_back(i);
      }
      break;
    }
    case EventType::kFanOut: {
      if (!st) break;
      st->fanned_out = true;
      if (const auto* items = e.data.if_contains("items"); items && items->is_array()) {
        st->items = items->get_array();
      }
      st->instances.assign(st->items.size(), InstanceState{});
      st->waiting_retries = 0;
      if (st->status == StepStatus::kPending) active_.push_back(si);
      st->status = StepStatus::kRunning;
      st->started_ms = e.time_ms;
      break;
    }
    case EventType::kStepStarted: {
      if (!st) break;
      if (IsContainer(workflow_->steps[static_cast<size_t>(si)].kind)) {
        // A container has no instance of its own: its children run.
        if (st->status == StepStatus::kPending) {
          active_.push_back(si);
          st->status = StepStatus::kRunning;
          st->started_ms = e.time_ms;
          st->attempts = 1;
          UpdateStepView(si, StepOutput(si));
        }
        break;
      }
      InstanceState& in = instance();
      if (!in.waiting_retry) {
        ++st->running;
        if (e.item >= 0 && e.item >= st->next_item) st->next_item = e.item + 1;
      } else {
        --st->waiting_retries;
      }
      in.waiting_retry = false;
      in.status = StepStatus::kRunning;
      in.attempts = e.attempt;
      in.started_ms = e.time_ms;
      ++st->attempts;
      ++running_instances_;
      if (st->status == StepStatus::kPending) {
        active_.push_back(si);
        st->status = StepStatus::kRunning;
        st->started_ms = e.time_ms;
        UpdateStepView(si, nullptr);
      }
      break;
    }
    case EventType::kRetryScheduled: {
      if (!st) break;
      InstanceState& in = instance();
      if (!in.waiting_retry) ++st->waiting_retries;
      in.waiting_retry = true;
      in.status = StepStatus::kPending;
      // A paused instance waits for run_resumed, not for a time.
      in.retry_at_ms = e.data.contains("paused") ? std::numeric_limits<int64_t>::max()
                                                 : e.time_ms + IntField(e.data, "delay_ms");
      if (const auto* err = e.data.if_contains("error"); err && err->is_object()) {
        in.error = err->get_object();
      }
      --running_instances_;
      break;
    }
    case EventType::kStepSucceeded: {
      if (!st) break;
      if (IsContainer(workflow_->steps[static_cast<size_t>(si)].kind)) {
        const auto* out = e.data.if_contains("output");
        FinishStep(si, StepStatus::kSucceeded, e.time_ms, out ? *out : json::value());
        break;
      }
      const auto* out = e.data.if_contains("output");
      bool item_level = e.item >= 0;
      bool instance_level = item_level || !st->fanned_out;
      if (instance_level) {
        InstanceState& in = instance();
        if (in.status == StepStatus::kRunning) {
          --running_instances_;
          --st->running;
        }
        in.status = StepStatus::kSucceeded;
        if (item_level) in.output = out ? *out : json::value();  // kept for the fan-in
        if (in.attempts == 0) {  // inline steps (set) record no step_started
          in.attempts = 1;
          ++st->attempts;
        }
        ++st->done;
      }
      if (!item_level) {
        json::value output;
        if (out) {
          output = *out;
        } else if (st->fanned_out) {
          json::array arr;
          arr.reserve(st->instances.size());
          for (const auto& in : st->instances) arr.push_back(in.output);
          output = std::move(arr);
        }
        if (const auto* c = e.data.if_contains("caught"); c && c->is_object()) {
          st->error = c->get_object();
        }
        FinishStep(si, StepStatus::kSucceeded, e.time_ms, std::move(output));
      }
      break;
    }
    case EventType::kStepFailed: {
      if (!st) break;
      json::object err;
      if (const auto* x = e.data.if_contains("error"); x && x->is_object()) err = x->get_object();
      if (IsContainer(workflow_->steps[static_cast<size_t>(si)].kind)) {
        if (st->status == StepStatus::kPending) {
          st->status = StepStatus::kRunning;  // failed while starting (a bad case condition)
          active_.push_back(si);
        }
        st->error = err;
        if (failed_step_ < 0 && workflow_->steps[static_cast<size_t>(si)].parent < 0) {
          failed_step_ = si;
          error_ = err;
          if (!error_.contains("step")) error_["step"] = e.step;
        }
        FinishStep(si, StepStatus::kFailed, e.time_ms);
        break;
      }
      bool item_level = e.item >= 0;
      if (item_level || !st->fanned_out) {
        InstanceState& in = instance();
        if (in.status == StepStatus::kRunning) {
          --running_instances_;
          --st->running;
        } else if (in.waiting_retry) {
          --st->running;
        }
        if (in.waiting_retry) --st->waiting_retries;
        in.waiting_retry = false;
        in.status = StepStatus::kFailed;
        in.error = err;
        ++st->done;
      }
      if (!item_level) {
        st->error = err;
        const Step& failed = workflow_->steps[static_cast<size_t>(si)];
        if (failed_step_ < 0 && failed.parent < 0 && !failed.is_compensation) {
          failed_step_ = si;
          error_ = err;
          error_["step"] = e.step;
        }
        FinishStep(si, StepStatus::kFailed, e.time_ms);
      }
      break;
    }
    case EventType::kStepSkipped: {
      if (!st) break;
      FinishStep(si, StepStatus::kSkipped, e.time_ms);
      break;
    }
    case EventType::kMemoryWritten: {
      const auto* key = e.data.if_contains("key");
      if (!key || !key->is_string()) break;
      auto& mem = memory_.get_object();
      if (const auto* v = e.data.if_contains("value")) {
        mem[key->get_string()] = *v;
      } else if (const auto* from = e.data.if_contains("from_step"); from && from->is_string()) {
        int fi = workflow_->StepIndex(from->get_string());
        if (fi >= 0) mem[key->get_string()] = StepOutput(fi);
      }
      break;
    }
    case EventType::kModelCalled:
    case EventType::kToolCalled: {
      if (const auto* u = e.data.if_contains("usage"); u && u->is_object()) {
        usage_.Add(u->get_object());
        if (st) st->usage.Add(u->get_object());
      }
      if (st && e.type == EventType::kModelCalled) {
        ++st->model_calls;
        if (const auto* c = e.data.if_contains("confidence"); c && c->is_number()) {
          ++st->confidence_n;
          st->confidence_sum += c->to_number<double>();
        }
      }
      break;
    }
    case EventType::kRunCancelRequested:
      if (!cancel_requested_) {
        cancel_requested_ = true;
        if (const auto* r = e.data.if_contains("reason"); r && r->is_string()) {
          cancel_reason_ = r->get_string();
        }
        if (const auto* err = e.data.if_contains("error"); err && err->is_object()) {
          cancel_error_ = err->get_object();
        }
      }
      break;
    case EventType::kNeedsAttention:
    case EventType::kModelDelta:
      break;
    // Pattern events: folded by the patterns that record them (see decider and docs/events.md).
    case EventType::kStepCancelled: {
      if (!st) break;
      for (auto& in : st->instances) {
        if (in.status == StepStatus::kRunning) --running_instances_;
        if (in.status == StepStatus::kRunning || in.waiting_retry)
          in.status = StepStatus::kCancelled;
        in.waiting_retry = false;
      }
      st->running = 0;
      st->waiting_retries = 0;
      if (const auto* r = e.data.if_contains("reason"); r && r->is_string()) {
        st->error = json::object{{"type", "cancelled"}, {"message", r->get_string()}};
      }
      FinishStep(si, StepStatus::kCancelled, e.time_ms);
      break;
    }
    case EventType::kBranchStarted:
      if (st) ActivateBlock(si, static_cast<int>(IntField(e.data, "block", -1)), e.time_ms);
      break;
    case EventType::kIterationStarted:
      if (st) {
        st->iteration = static_cast<int>(IntField(e.data, "iteration", 1));
        ActivateBlock(si, 0, e.time_ms);
      }
      break;
    case EventType::kBranchFinished: {
      if (!st) break;
      auto b = static_cast<size_t>(IntField(e.data, "block", -1));
      if (b >= st->blocks.size()) break;
      const auto* status = e.data.if_contains("status");
      std::string_view s = status && status->is_string() ? std::string_view(status->get_string())
                                                         : std::string_view("succeeded");
      st->blocks[b] = s == "succeeded" ? StepState::BlockState::kSucceeded
                      : s == "failed"  ? StepState::BlockState::kFailed
                                       : StepState::BlockState::kCancelled;
      break;
    }
    case EventType::kIterationFinished: {
      if (!st) break;
      const auto* fp = e.data.if_contains("fingerprint");
      st->fingerprints.emplace_back(fp && fp->is_string() ? std::string(fp->get_string()) : "");
      const auto* score = e.data.if_contains("score");
      st->scores.push_back(score && score->is_number() ? std::optional(score->to_number<double>())
                                                       : std::nullopt);
      if (!st->blocks.empty()) {
        const auto* status = e.data.if_contains("status");
        bool failed = status && status->is_string() && status->get_string() == "failed";
        st->blocks[0] = failed ? StepState::BlockState::kFailed : StepState::BlockState::kSucceeded;
      }
      break;
    }
    case EventType::kParticipantAnswered:
    case EventType::kConsensusDecided:
    case EventType::kCompensationStarted:
    case EventType::kApprovalRequested:
    case EventType::kApprovalGiven:
    case EventType::kEventEmitted:
    case EventType::kWaitStarted:
    case EventType::kEventReceived:
    case EventType::kRouteChosen:
      break;
    case EventType::kPlanCreated:
    case EventType::kPlanRejected:
      if (st) ApplyPlan(si, e);  // plan.cpp
      break;
    case EventType::kChildRunStarted:  // sub-workflow: the run a resumed attempt re-attaches to
      if (const auto* id = e.data.if_contains("run_id"); st && id && id->is_string()) {
        instance().child_run = id->get_string();
      }
      break;
    case EventType::kRunPaused:
      paused_ = true;
      status_ = RunStatus::kPaused;
      if (const auto* err = e.data.if_contains("error"); err && err->is_object()) {
        pause_error_ = err->get_object();
      }
      break;
    case EventType::kRunResumed: {
      paused_ = false;
      status_ = RunStatus::kRunning;
      pause_error_.clear();
      if (const auto* b = e.data.if_contains("budget"); b && b->is_object()) {
        const json::object& raise = b->get_object();
        if (const auto* c = raise.if_contains("max_cost_usd"); c && c->is_number()) {
          budget_.max_cost_usd = c->to_number<double>();
        }
        if (const auto* t = raise.if_contains("max_tokens"); t && t->is_int64()) {
          budget_.max_tokens = t->get_int64();
        }
        if (const auto* d = raise.if_contains("daily_usd"); d && d->is_number()) {
          budget_.daily_usd = d->to_number<double>();
        }
      }
      for (StepState& step : steps_) {
        for (InstanceState& in : step.instances) {
          if (in.waiting_retry && in.retry_at_ms == std::numeric_limits<int64_t>::max()) {
            in.retry_at_ms = e.time_ms;
          }
        }
      }
      break;
    }
    case EventType::kRunFinished: {
      finished_ms_ = e.time_ms;
      if (const auto* s = e.data.if_contains("status"); s && s->is_string()) {
        if (auto rs = RunStatusFromName(s->get_string())) status_ = *rs;
      }
      if (const auto* o = e.data.if_contains("outputs")) outputs_ = *o;
      if (const auto* err = e.data.if_contains("error"); err && err->is_object()) {
        error_ = err->get_object();
      }
      break;
    }
  }
}

}  // namespace baton::core
