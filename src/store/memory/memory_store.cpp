// The in-memory store: the journal of tests and of the engine's in-memory mode. Nothing
// survives the process. Append completes inline on the caller's thread (the callback runs before
// Append returns), so "durable" here means "visible to every later read".

#include <algorithm>
#include <iterator>
#include <map>
#include <mutex>
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

 private:
  Status ApplyAppend(const std::string& run_id, std::vector<core::Event>& events,
                     std::optional<RunUpdate>& update) {
    std::lock_guard lock(mu_);
    auto it = runs_.find(run_id);
    if (it == runs_.end()) return NotFound("run " + run_id + " not found");
    RunEntry& entry = it->second;
    BATON_RETURN_IF_ERROR(CheckSequence(run_id, entry.record.last_seq, events));
    if (!events.empty()) {
      entry.record.last_seq = events.back().seq;
      entry.record.updated_ms = std::max(entry.record.updated_ms, events.back().time_ms);
      entry.events.insert(entry.events.end(), std::make_move_iterator(events.begin()),
                          std::make_move_iterator(events.end()));
    }
    if (update) {
      for (const SpendDelta& d : update->spend) spend_[d.day + '\n' + d.scope] += d.usd;
      ApplyUpdate(*update, entry.record);
    }
    return Status::Ok();
  }

  std::mutex mu_;
  std::map<std::string, RunEntry, std::less<>> runs_;  // ordered for prefix lookup
  std::unordered_map<std::string, std::string> blobs_;
  std::unordered_map<std::string, double> spend_;                           // "day\nscope" -> usd
  std::unordered_map<std::string, std::pair<std::string, int64_t>> cache_;  // -> value, expiry
};

}  // namespace

std::unique_ptr<Store> NewMemoryStore() { return std::make_unique<MemoryStore>(); }

}  // namespace baton::store
