// The in-memory store: the journal of tests and of the engine's in-memory mode. Nothing
// survives the process. Append completes inline on the caller's thread (the callback runs before
// Append returns), so "durable" here means "visible to every later read".

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "base/hash.hpp"
#include "store/sequence.hpp"
#include "store/store.hpp"

namespace baton::store {
namespace {

struct RunEntry {
  RunRecord record;
  std::vector<core::Event> events;
};

void ApplyUpdate(RunUpdate& update, RunRecord& run) {
  if (update.status) run.status = *update.status;
  if (update.outputs) run.outputs = std::move(*update.outputs);
  if (update.error) run.error = std::move(*update.error);
  if (update.usage) run.usage = std::move(*update.usage);
  if (update.owner_pid) run.owner_pid = *update.owner_pid;
  if (update.owner_host) run.owner_host = std::move(*update.owner_host);
}

class MemoryStore final : public Store {
 public:
  Status CreateRun(const RunRecord& run) override {
    if (run.id.empty()) return InvalidArgument("run id is empty");
    std::lock_guard lock(mu_);
    auto [it, inserted] = runs_.try_emplace(run.id);
    if (!inserted) return {Code::kAlreadyExists, "run " + run.id + " already exists"};
    it->second.record = run;
    it->second.record.last_seq = 0;  // a new run has no events yet
    return Status::Ok();
  }

  void Append(std::string run_id, std::vector<core::Event> events, std::optional<RunUpdate> update,
              AppendCallback done) override {
    Status status = ApplyAppend(run_id, events, update);
    if (done) done(std::move(status));
  }

  Result<std::vector<core::Event>> ReadEvents(std::string_view run_id, uint64_t after_seq,
                                              size_t limit) override {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return NotFound("run " + std::string(run_id) + " not found");
    const std::vector<core::Event>& all = it->second.events;
    // Seqs are dense from 1, so event `seq` sits at index seq - 1.
    size_t begin = static_cast<size_t>(std::min<uint64_t>(after_seq, all.size()));
    size_t end = all.size();
    if (limit > 0 && end - begin > limit) end = begin + limit;
    return std::vector<core::Event>(all.begin() + static_cast<std::ptrdiff_t>(begin),
                                    all.begin() + static_cast<std::ptrdiff_t>(end));
  }

  Result<RunRecord> GetRun(std::string_view id_or_prefix) override {
    if (id_or_prefix.empty()) return InvalidArgument("run id is empty");
    std::lock_guard lock(mu_);
    auto it = runs_.lower_bound(id_or_prefix);
    if (it == runs_.end() || !it->first.starts_with(id_or_prefix)) {
      return NotFound("no run matches '" + std::string(id_or_prefix) + "'");
    }
    if (it->first != id_or_prefix) {
      auto next = std::next(it);
      if (next != runs_.end() && next->first.starts_with(id_or_prefix)) {
        return InvalidArgument("run id prefix '" + std::string(id_or_prefix) + "' is ambiguous");
      }
    }
    return it->second.record;
  }

  Result<std::vector<RunRecord>> ListRuns(const RunFilter& filter) override {
    std::vector<const RunRecord*> matches;
    std::lock_guard lock(mu_);
    for (const auto& [id, entry] : runs_) {
      const RunRecord& run = entry.record;
      if (filter.status && run.status != *filter.status) continue;
      if (!filter.workflow_name.empty() && run.workflow_name != filter.workflow_name) continue;
      matches.push_back(&run);
    }
    auto newer = [](const RunRecord* a, const RunRecord* b) {
      if (a->created_ms != b->created_ms) return a->created_ms > b->created_ms;
      return a->id > b->id;
    };
    size_t n = filter.limit > 0 ? std::min(filter.limit, matches.size()) : matches.size();
    std::partial_sort(matches.begin(), matches.begin() + static_cast<std::ptrdiff_t>(n),
                      matches.end(), newer);
    std::vector<RunRecord> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) out.push_back(*matches[i]);
    return out;
  }

  Status RequestCancel(std::string_view run_id) override {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return NotFound("run " + std::string(run_id) + " not found");
    it->second.record.cancel_requested = true;
    return Status::Ok();
  }

  Result<bool> IsCancelRequested(std::string_view run_id) override {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return NotFound("run " + std::string(run_id) + " not found");
    return it->second.record.cancel_requested;
  }

  Result<double> DailySpend(std::string_view day, std::string_view scope) override {
    std::lock_guard lock(mu_);
    auto it = spend_.find(std::string(day) + '\n' + std::string(scope));
    return it == spend_.end() ? 0.0 : it->second;
  }

  Result<std::optional<std::string>> GetCached(std::string_view key, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    auto it = cache_.find(std::string(key));
    if (it == cache_.end() || it->second.second <= now_ms) return std::optional<std::string>();
    return std::optional<std::string>(it->second.first);
  }

  Status PutCached(std::string_view key, std::string_view value, int64_t now_ms,
                   int64_t expires_ms) override {
    std::lock_guard lock(mu_);
    std::erase_if(cache_, [now_ms](const auto& kv) { return kv.second.second <= now_ms; });
    cache_[std::string(key)] = {std::string(value), expires_ms};
    return Status::Ok();
  }

  Result<std::string> PutBlob(std::string_view bytes) override {
    std::string hash = Sha256Hex(bytes);
    std::lock_guard lock(mu_);
    blobs_.try_emplace(hash, bytes);
    return hash;
  }

  Result<std::string> GetBlob(std::string_view hash) override {
    std::lock_guard lock(mu_);
    auto it = blobs_.find(std::string(hash));
    if (it == blobs_.end()) return NotFound("blob " + std::string(hash) + " not found");
    return it->second;
  }

  // Appends complete inline, so every earlier Append has already completed.
  Status Flush() override { return Status::Ok(); }

  // ---- Waits and the event bus.

  Result<int64_t> PostSignal(std::string_view run_id, json::object data, int64_t now_ms) override {
    std::lock_guard lock(mu_);
    if (!runs_.contains(run_id)) return NotFound("run " + std::string(run_id) + " not found");
    int64_t id = ++last_signal_;
    signals_[id] = Signal{id, std::string(run_id), std::move(data), now_ms};
    return id;
  }

  Result<std::vector<Signal>> ReadSignals(std::string_view run_id) override {
    std::lock_guard lock(mu_);
    if (!runs_.contains(run_id)) return NotFound("run " + std::string(run_id) + " not found");
    std::vector<Signal> out;
    for (const auto& [id, signal] : signals_) {
      if (signal.run_id == run_id) out.push_back(signal);
    }
    return out;
  }

  Result<bool> ClaimRun(std::string_view run_id, int64_t expected_pid,
                        std::string_view expected_host, int64_t pid,
                        std::string_view host) override {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return NotFound("run " + std::string(run_id) + " not found");
    RunRecord& run = it->second.record;
    if (core::IsTerminal(run.status) || run.owner_pid != expected_pid ||
        (expected_pid != 0 && run.owner_host != expected_host)) {
      return false;
    }
    run.owner_pid = pid;
    run.owner_host = host;
    if (run.status == core::RunStatus::kWaiting) run.status = core::RunStatus::kRunning;
    return true;
  }

  Result<std::vector<std::string>> PublishEvent(const BusEvent& event) override {
    std::lock_guard lock(mu_);
    return Publish(event);
  }

  Result<std::vector<BusEvent>> ListEvents(const EventFilter& filter) override {
    std::lock_guard lock(mu_);
    std::vector<BusEvent> out;
    for (auto it = bus_.rbegin(); it != bus_.rend(); ++it) {
      if (!filter.name.empty() && it->name != filter.name) continue;
      if (filter.triggers_pending && it->triggers_done) continue;
      out.push_back(*it);
      if (filter.limit > 0 && out.size() >= filter.limit) break;
    }
    return out;
  }

  Status MarkTriggersDone(std::string_view event_id) override {
    std::lock_guard lock(mu_);
    for (auto& e : bus_) {
      if (e.id == event_id) {
        e.triggers_done = true;
        return Status::Ok();
      }
    }
    return NotFound("event " + std::string(event_id) + " not found");
  }

  Result<std::vector<std::string>> SubscribedRuns(std::string_view event) override {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [key, name] : subscriptions_) {
      if (name == event && (out.empty() || out.back() != std::get<0>(key))) {
        out.push_back(std::get<0>(key));
      }
    }
    return out;
  }

  Status PutTrigger(const TriggerRecord& trigger) override {
    std::lock_guard lock(mu_);
    triggers_[{trigger.workflow, trigger.event}] = trigger;
    return Status::Ok();
  }

  Result<std::vector<TriggerRecord>> ListTriggers(std::string_view event) override {
    std::lock_guard lock(mu_);
    std::vector<TriggerRecord> out;
    for (const auto& [key, t] : triggers_) {
      if (event.empty() || t.event == event) out.push_back(t);
    }
    return out;
  }

  Result<int> RemoveTriggers(std::string_view workflow) override {
    std::lock_guard lock(mu_);
    return static_cast<int>(
        std::erase_if(triggers_, [&](const auto& kv) { return kv.first.first == workflow; }));
  }

 private:
  Status ApplyAppend(const std::string& run_id, std::vector<core::Event>& events,
                     std::optional<RunUpdate>& update) {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return NotFound("run " + run_id + " not found");
    RunEntry& entry = it->second;
    BATON_RETURN_IF_ERROR(CheckSequence(run_id, entry.record.last_seq, events));
    if (update) {
      for (const BusEvent& e : update->publish) {
        auto taken = [&](const BusEvent& b) { return b.id == e.id; };
        if (std::any_of(bus_.begin(), bus_.end(), taken)) {
          return FailedPrecondition("event id " + e.id + " is already taken");
        }
      }
    }
    if (!events.empty()) {
      entry.record.last_seq = events.back().seq;
      entry.record.updated_ms = std::max(entry.record.updated_ms, events.back().time_ms);
      entry.events.insert(entry.events.end(), std::make_move_iterator(events.begin()),
                          std::make_move_iterator(events.end()));
    }
    if (update) {
      for (const SpendDelta& d : update->spend) spend_[d.day + '\n' + d.scope] += d.usd;
      ApplyUpdate(*update, entry.record);
      ApplyWaits(run_id, *update, events.empty() ? 0 : events.back().time_ms);
      if (core::IsTerminal(entry.record.status)) {
        std::erase_if(subscriptions_,
                      [&](const auto& kv) { return std::get<0>(kv.first) == run_id; });
      }
    }
    return Status::Ok();
  }

  // The inbox, subscription and bus parts of an append (under mu_).
  void ApplyWaits(const std::string& run_id, const RunUpdate& update, int64_t now_ms) {
    for (int64_t id : update.consume_signals) {
      auto it = signals_.find(id);
      if (it != signals_.end() && it->second.run_id == run_id) signals_.erase(it);
    }
    for (const auto& [step, item] : update.unsubscribe) subscriptions_.erase({run_id, step, item});
    for (const Subscription& s : update.subscribe) {
      subscriptions_[{run_id, s.step, s.item}] = s.event;
    }
    for (const BusEvent& e : update.publish) {
      BusEvent copy = e;
      if (copy.time_ms == 0) copy.time_ms = now_ms;
      (void)Publish(copy);
    }
  }

  // Records `event` and delivers it to the subscribed runs (under mu_).
  Result<std::vector<std::string>> Publish(const BusEvent& event) {
    for (const BusEvent& b : bus_) {
      if (b.id == event.id) {
        return Status(Code::kAlreadyExists, "event " + event.id + " already exists");
      }
    }
    BusEvent e = event;
    e.triggers_done = std::none_of(triggers_.begin(), triggers_.end(),
                                   [&](const auto& kv) { return kv.second.event == e.name; });
    std::vector<std::string> delivered;
    for (const auto& [key, name] : subscriptions_) {
      const std::string& run = std::get<0>(key);
      if (name != e.name || (!delivered.empty() && delivered.back() == run)) continue;
      delivered.push_back(run);
      int64_t id = ++last_signal_;
      json::object data{{"kind", "event"}, {"id", e.id}, {"event", e.name}, {"data", e.data}};
      signals_[id] = Signal{id, run, std::move(data), e.time_ms};
    }
    bus_.push_back(std::move(e));
    return delivered;
  }

  std::mutex mu_;
  std::map<std::string, RunEntry, std::less<>> runs_;  // ordered for prefix lookup
  std::unordered_map<std::string, std::string> blobs_;
  std::unordered_map<std::string, double> spend_;                           // "day\nscope" -> usd
  std::unordered_map<std::string, std::pair<std::string, int64_t>> cache_;  // -> value, expiry
  int64_t last_signal_ = 0;
  std::map<int64_t, Signal> signals_;  // unconsumed
  std::map<std::tuple<std::string, std::string, int32_t>, std::string> subscriptions_;  // -> event
  std::vector<BusEvent> bus_;                                              // oldest first
  std::map<std::pair<std::string, std::string>, TriggerRecord> triggers_;  // (workflow, event)
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace baton::store
