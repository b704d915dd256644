#include "simserver/stats.hpp"

#include <boost/json.hpp>
#include <map>

namespace baton::simserver {
namespace {

constexpr size_t kMaxRecords = 100'000;

json::object RecordJson(const RequestRecord& r) {
  json::object o;
  o["seq"] = r.seq;
  o["time_ms"] = r.time_ms;
  o["elapsed_ms"] = r.elapsed_ms;
  o["protocol"] = r.protocol;
  o["path"] = r.path;
  o["model"] = r.model;
  o["key_fp"] = r.key_fp.empty() ? json::value(nullptr) : json::value(r.key_fp);
  o["status"] = r.status;
  o["stream"] = r.stream;
  o["fault"] = r.fault.empty() ? json::value(nullptr) : json::value(r.fault);
  o["outcome"] = r.outcome.empty() ? json::value("ok") : json::value(r.outcome);
  o["input_tokens"] = r.input_tokens;
  o["output_tokens"] = r.output_tokens;
  return o;
}

}  // namespace

int64_t StatsLog::Record(RequestRecord record) {
  std::lock_guard lock(mu_);
  record.seq = next_seq_++;
  records_.push_back(std::move(record));
  if (records_.size() > kMaxRecords) records_.pop_front();
  return records_.back().seq;
}

json::value StatsLog::ToJson(int64_t since) const {
  std::lock_guard lock(mu_);
  json::array list;
  std::map<int, int64_t> by_status;
  for (const auto& r : records_) {
    ++by_status[r.status];
    if (r.seq > since) list.push_back(RecordJson(r));
  }
  json::object counts;
  for (const auto& [status, n] : by_status) counts[std::to_string(status)] = n;
  json::object out;
  out["requests"] = std::move(list);
  out["total"] = next_seq_ - 1;
  out["by_status"] = std::move(counts);
  return out;
}

void StatsLog::Clear() {
  std::lock_guard lock(mu_);
  records_.clear();
}

int64_t StatsLog::total() const {
  std::lock_guard lock(mu_);
  return next_seq_ - 1;
}

}  // namespace baton::simserver
