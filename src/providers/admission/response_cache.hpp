#pragma once

// The opt-in response cache: successful model responses stored under a key derived from the
// canonical request, served again with cache_hit = true and cost 0. ResponseCache is the storage
// interface (an in-memory LRU here; a persistent one can implement the same two calls).

#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/clock.hpp"
#include "base/status.hpp"
#include "providers/chat_model.hpp"

namespace baton::providers::admission {

// Key -> opaque value with a time to live. Implementations are safe to call concurrently from
// any thread; failures of the storage are swallowed (a miss, or a value not stored).
class ResponseCache {
 public:
  virtual ~ResponseCache() = default;
  // The value stored under `key` when present and not expired.
  virtual std::optional<std::string> Get(std::string_view key) = 0;
  // Stores `value` under `key` until `ttl` from now, replacing an older value. May decline to
  // store it (e.g. larger than the cache).
  virtual void Put(std::string_view key, std::string value, Millis ttl) = 0;
};

// An LRU bounded by the bytes of its keys and values (plus a small per-entry overhead); expiry
// read through the injected clock, which must outlive the cache. Thread-safe.
class MemoryResponseCache final : public ResponseCache {
 public:
  static constexpr size_t kEntryOverhead = 64;

  MemoryResponseCache(size_t max_bytes, const Clock& clock);

  std::optional<std::string> Get(std::string_view key) override;
  void Put(std::string_view key, std::string value, Millis ttl) override;

  size_t bytes() const;
  size_t entries() const;

 private:
  struct Entry {
    std::string key;
    std::string value;
    int64_t expires_ms;
  };
  void EraseLocked(std::list<Entry>::iterator it);

  const size_t max_bytes_;
  const Clock& clock_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into lru_
  size_t bytes_ = 0;
};

// The cache key of `request` as sent to `provider` at `endpoint`: SHA-256 (hex) of the canonical
// JSON of the model id, provider, endpoint, messages (with tool calls and native turns), tools,
// tool_choice, output_schema, temperature and max_tokens. Run/step ids, agent, item, attempt and
// the stream sink are not part of it, so the same logical request from another run hits.
std::string ResponseCacheKey(const ChatRequest& request, std::string_view provider,
                             std::string_view endpoint);

// The stored form of a response (everything but limits, cache_hit and notes).
std::string EncodeCachedResponse(const ChatResponse& response);
// Fails with kInvalidArgument when `text` is not a stored response.
Result<ChatResponse> DecodeCachedResponse(std::string_view text);

}  // namespace baton::providers::admission
