#include "providers/admission/response_cache.hpp"

#include <boost/json.hpp>

#include "base/hash.hpp"
#include "base/json.hpp"

namespace baton::providers::admission {

// ---- MemoryResponseCache ----------------------------------------------------------------------

MemoryResponseCache::MemoryResponseCache(size_t max_bytes, const Clock& clock)
    : max_bytes_(max_bytes), clock_(clock) {}

void MemoryResponseCache::EraseLocked(std::list<Entry>::iterator it) {
  bytes_ -= it->key.size() + it->value.size() + kEntryOverhead;
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

std::optional<std::string> MemoryResponseCache::Get(std::string_view key) {
  std::lock_guard lock(mu_);
  auto found = index_.find(key);
  if (found == index_.end()) return std::nullopt;
  auto it = found->second;
  if (clock_.NowMillis() >= it->expires_ms) {
    EraseLocked(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it);
  return it->value;
}

void MemoryResponseCache::Put(std::string_view key, std::string value, Millis ttl) {
  size_t size = key.size() + value.size() + kEntryOverhead;
  std::lock_guard lock(mu_);
  if (auto found = index_.find(key); found != index_.end()) EraseLocked(found->second);
  if (size > max_bytes_ || ttl.count() <= 0) return;
  while (bytes_ + size > max_bytes_ && !lru_.empty()) EraseLocked(std::prev(lru_.end()));
  lru_.push_front(Entry{std::string(key), std::move(value), clock_.NowMillis() + ttl.count()});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += size;
}

size_t MemoryResponseCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t MemoryResponseCache::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

// ---- keys and the stored form -----------------------------------------------------------------

namespace {

json::value ToolCallsJson(const std::vector<ToolCall>& calls) {
  json::array out;
  for (const auto& c : calls) {
    out.push_back(json::object{{"id", c.id}, {"name", c.name}, {"arguments", c.arguments}});
  }
  return out;
}

std::vector<ToolCall> ToolCallsFrom(const json::value* v) {
  std::vector<ToolCall> out;
  if (v == nullptr || !v->is_array()) return out;
  for (const auto& e : v->get_array()) {
    const json::object* o = e.if_object();
    if (o == nullptr) continue;
    ToolCall c;
    if (auto* s = o->if_contains("id"); s && s->is_string()) c.id = s->get_string();
    if (auto* s = o->if_contains("name"); s && s->is_string()) c.name = s->get_string();
    if (auto* s = o->if_contains("arguments"); s && s->is_string()) c.arguments = s->get_string();
    out.push_back(std::move(c));
  }
  return out;
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->get_string()) : std::string();
}

int64_t IntField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->get_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->get_double());
  return 0;
}

}  // namespace

std::string ResponseCacheKey(const ChatRequest& request, std::string_view provider,
                             std::string_view endpoint) {
  json::array messages;
  for (const auto& m : request.messages) {
    json::object o{{"role", m.role}, {"content", m.content}};
    if (!m.tool_calls.empty()) o["tool_calls"] = ToolCallsJson(m.tool_calls);
    if (!m.tool_call_id.empty()) o["tool_call_id"] = m.tool_call_id;
    if (!m.tool_name.empty()) o["tool_name"] = m.tool_name;
    if (m.native) {
      o["native"] = *m.native;
      o["native_protocol"] = m.native_protocol;
    }
    messages.push_back(std::move(o));
  }
  json::array tools;
  for (const auto& t : request.tools) {
    tools.push_back(json::object{
        {"name", t.name}, {"description", t.description}, {"parameters", t.parameters}});
  }
  json::object key{{"v", 1},
                   {"provider", provider},
                   {"endpoint", endpoint},
                   {"model", request.model},
                   {"messages", std::move(messages)},
                   {"tools", std::move(tools)},
                   {"tool_choice", request.tool_choice}};
  if (request.output_schema) key["output_schema"] = *request.output_schema;
  if (request.temperature) key["temperature"] = *request.temperature;
  if (request.max_tokens) key["max_tokens"] = *request.max_tokens;
  return Sha256Hex(CanonicalJson(key));
}

std::string EncodeCachedResponse(const ChatResponse& r) {
  json::object o{{"text", r.text},
                 {"reasoning", r.reasoning},
                 {"finish_reason", r.finish_reason},
                 {"tool_calls", ToolCallsJson(r.tool_calls)},
                 {"provider", r.provider},
                 {"model", r.model},
                 {"request_id", r.request_id},
                 {"usage", json::object{{"input_tokens", r.usage.input_tokens},
                                        {"output_tokens", r.usage.output_tokens},
                                        {"cached_tokens", r.usage.cached_tokens},
                                        {"reasoning_tokens", r.usage.reasoning_tokens},
                                        {"cost_usd", r.usage.cost_usd}}}};
  if (r.structured) o["structured"] = *r.structured;
  if (r.native) {
    o["native"] = *r.native;
    o["native_protocol"] = r.native_protocol;
  }
  return ToJson(o);
}

Result<ChatResponse> DecodeCachedResponse(std::string_view text) {
  auto parsed = ParseJson(text);
  if (!parsed.ok() || !parsed->is_object()) {
    return InvalidArgument("response cache: stored value is not a response");
  }
  const json::object& o = parsed->get_object();
  ChatResponse r;
  r.text = StringField(o, "text");
  r.reasoning = StringField(o, "reasoning");
  r.finish_reason = StringField(o, "finish_reason");
  r.tool_calls = ToolCallsFrom(o.if_contains("tool_calls"));
  r.provider = StringField(o, "provider");
  r.model = StringField(o, "model");
  r.request_id = StringField(o, "request_id");
  if (const json::value* s = o.if_contains("structured")) r.structured = *s;
  if (const json::value* n = o.if_contains("native")) {
    r.native = *n;
    r.native_protocol = StringField(o, "native_protocol");
  }
  if (const json::value* u = o.if_contains("usage"); u && u->is_object()) {
    const json::object& uo = u->get_object();
    r.usage.input_tokens = IntField(uo, "input_tokens");
    r.usage.output_tokens = IntField(uo, "output_tokens");
    r.usage.cached_tokens = IntField(uo, "cached_tokens");
    r.usage.reasoning_tokens = IntField(uo, "reasoning_tokens");
    if (const json::value* c = uo.if_contains("cost_usd"); c && c->is_number()) {
      r.usage.cost_usd = c->to_number<double>();
    }
  }
  return r;
}

}  // namespace baton::providers::admission
