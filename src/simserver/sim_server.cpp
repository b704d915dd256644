#include "simserver/sim_server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "base/hash.hpp"
#include "base/text.hpp"
#include "http/server.hpp"
#include "providers/pricing.hpp"
#include "simserver/capture.hpp"
#include "simserver/limiter.hpp"
#include "simserver/protocol.hpp"

namespace baton::simserver {

namespace asio = boost::asio;
using providers::ChatRequest;
using providers::ChatResponse;
using providers::sim::SimModel;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// Waits `d`; false when the wait was cancelled (client gone, server stopping).
asio::awaitable<bool> Sleep(Millis d) {
  if (d.count() <= 0) co_return true;
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  auto [ec] = co_await timer.async_wait(kUseTuple);
  co_return !ec;
}

// Waits until cancelled: a stalled reply ends only when the client or the server gives up.
asio::awaitable<void> Hang() {
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           asio::steady_timer::time_point::max());
  co_await timer.async_wait(kUseTuple);
}

struct Route {
  enum class Kind { kGenerate, kModels, kModel, kCountTokens, kControl, kHealth, kNotFound };
  Kind kind = Kind::kNotFound;
  Protocol protocol = Protocol::kOpenAi;
  std::string model;
  bool stream = false;
};

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

Route Resolve(const http::ServerRequest& r) {
  Route route;
  std::string_view path = r.path;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  bool get = r.method == "GET";
  bool post = r.method == "POST";
  bool anthropic_headers = !r.header("anthropic-version").empty() || !r.header("x-api-key").empty();
  route.protocol = anthropic_headers ? Protocol::kAnthropic : Protocol::kOpenAi;
  using K = Route::Kind;
  if (path == "/_sim" || StartsWith(path, "/_sim/")) {
    route.kind = K::kControl;
    return route;
  }
  if ((path == "/" || path == "/healthz") && get) {
    route.kind = K::kHealth;
    return route;
  }
  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    route.protocol = Protocol::kOpenAi;
    if (post) route.kind = K::kGenerate;
    return route;
  }
  if (path == "/v1/messages" || path == "/v1/messages/count_tokens") {
    route.protocol = Protocol::kAnthropic;
    if (post) route.kind = path.ends_with("count_tokens") ? K::kCountTokens : K::kGenerate;
    return route;
  }
  // Gemini: /{version}/models/{model}:{method}
  for (std::string_view version : {"/v1beta/models", "/v1/models", "/v1alpha/models"}) {
    if (!StartsWith(path, version)) continue;
    std::string_view rest = path.substr(version.size());
    bool gemini_version = version != "/v1/models";
    if (rest.empty()) {
      if (get) {
        route.kind = K::kModels;
        if (gemini_version) route.protocol = Protocol::kGemini;
      }
      return route;
    }
    if (rest.front() != '/') break;
    rest.remove_prefix(1);
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) {
      if (get) {
        route.kind = K::kModel;
        route.model = std::string(rest);
        if (gemini_version) route.protocol = Protocol::kGemini;
      }
      return route;
    }
    route.protocol = Protocol::kGemini;
    route.model = std::string(rest.substr(0, colon));
    std::string_view method = rest.substr(colon + 1);
    if (!post) return route;
    if (method == "generateContent") {
      route.kind = K::kGenerate;
    } else if (method == "streamGenerateContent") {
      route.kind = K::kGenerate;
      route.stream = true;
    } else if (method == "countTokens") {
      route.kind = K::kCountTokens;
    }
    return route;
  }
  if (StartsWith(path, "/v1beta") || StartsWith(path, "/v1alpha"))
    route.protocol = Protocol::kGemini;
  return route;
}

std::string JsonContentType(Protocol p) {
  return p == Protocol::kGemini ? "application/json; charset=UTF-8" : "application/json";
}

int64_t Tokens(size_t chars, double tokens_per_char) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(chars) * tokens_per_char));
}

size_t MessageChars(const providers::Message& m) {
  size_t n = Utf8Length(m.content);
  for (const auto& c : m.tool_calls) n += Utf8Length(c.name) + Utf8Length(c.arguments);
  return n;
}

uint64_t MessageHash(const providers::Message& m, uint64_t h) {
  h = Fnv1a64(m.role, h);
  h = Fnv1a64(std::string_view("\0", 1), h);
  h = Fnv1a64(m.content, h);
  for (const auto& c : m.tool_calls) {
    h = Fnv1a64(c.name, Fnv1a64(std::string_view("\x1e", 1), h));
    h = Fnv1a64(c.arguments, h);
  }
  return Fnv1a64(std::string_view("\x1f", 1), h);
}

// Identity of a request for counting attempts: the same conversation, schema and tools.
uint64_t RequestHash(const ChatRequest& r) {
  uint64_t h = Fnv1a64(r.model);
  for (const auto& m : r.messages) h = MessageHash(m, h);
  if (r.output_schema) h = Fnv1a64(CanonicalJson(*r.output_schema), h);
  for (const auto& t : r.tools) h = Fnv1a64(t.name, h);
  return Fnv1a64(r.tool_choice, h);
}

std::string Hex(uint64_t a, uint64_t b, size_t digits) {
  return fmt::format("{:016x}{:016x}", a, b).substr(0, digits);
}

std::string DefaultMessage(Protocol p, const WireError& e, std::string_view model) {
  std::string_view k = e.kind;
  std::string m;
  if (k == "rate_limited") {
    m = p == Protocol::kOpenAi
            ? fmt::format("Rate limit reached for {} on {} per min. Please try again later.", model,
                          e.limited_by.empty() ? "requests" : e.limited_by)
        : p == Protocol::kAnthropic
            ? "This request would exceed the rate limit for your organization. Please try again "
              "later."
            : "Resource has been exhausted (e.g. check quota).";
  } else if (k == "quota_exhausted") {
    m = p == Protocol::kAnthropic
            ? "You have reached your specified API usage limits."
            : "You exceeded your current quota, please check your plan and billing details.";
  } else if (k == "overloaded") {
    m = p == Protocol::kAnthropic ? "Overloaded"
                                  : "The model is overloaded. Please try again later.";
  } else if (k == "server_error") {
    m = p == Protocol::kOpenAi
            ? "The server had an error while processing your request. Sorry about that!"
        : p == Protocol::kAnthropic ? "Internal server error"
                                    : "An internal error has occurred. Please retry.";
  } else if (k == "timeout") {
    m = p == Protocol::kGemini ? "Deadline expired before operation could complete."
                               : "Request timed out.";
  } else if (k == "context_length") {
    m = p == Protocol::kOpenAi
            ? "This model's maximum context length has been exceeded. Please reduce the length "
              "of the messages."
        : p == Protocol::kAnthropic ? "prompt is too long"
                                    : "The input token count exceeds the maximum number of "
                                      "tokens allowed.";
  } else if (k == "not_found") {
    m = fmt::format("The model `{}` does not exist or you do not have access to it.", model);
  } else {
    m = fmt::format("{} (status {})", k, e.status);
  }
  return m + " (injected by baton sim-server)";
}

bool IsRetryableStatus(int status) { return status == 429 || status == 503 || status == 529; }

}  // namespace

// ---- the server --------------------------------------------------------------------------------

class SimServer::Impl {
 public:
  explicit Impl(SimServerOptions options)
      : options_(std::move(options)),
        clock_(options_.clock ? *options_.clock : SystemClock::Get()),
        faults_(clock_),
        limiter_(options_.rpm, options_.tpm, clock_),
        plain_("sim-small", WithReasoning(options_.sim, false), providers::Price{}),
        thinking_("sim-small", WithReasoning(options_.sim, true), providers::Price{}),
        seed_state_(options_.sim.seed ^ 0x5eedULL) {
    if (!options_.faults.empty()) faults_.Add(options_.faults);
  }

  Status Listen() {
    http::Server::Options o;
    o.host = options_.host;
    o.port = options_.port;
    o.threads = std::max(1, options_.threads);
    o.max_header_bytes = options_.max_header_bytes;
    o.max_body_bytes = options_.max_body_bytes;
    o.stop_grace = options_.stop_grace;
    o.error_renderer = [this](const http::ServerRequest& r, int status, std::string message) {
      return RenderServerError(r, status, std::move(message));
    };
    auto server =
        http::Server::Start(std::move(o), [this](http::ServerRequest r, http::ResponseWriter w) {
          return Handle(std::move(r), std::move(w));
        });
    if (!server.ok()) return server.error();
    server_ = std::move(server).value();
    return Status::Ok();
  }

  void Stop() {
    if (server_) server_->Stop();
  }

  const std::string& host() const { return options_.host; }
  uint16_t port() const { return server_ ? server_->port() : 0; }
  FaultSet& faults() { return faults_; }
  StatsLog& stats() { return stats_; }
  RequestCapture& captures() { return captures_; }
  size_t Connections() const { return server_ ? server_->Connections() : 0; }

 private:
  // Everything a reply needs once the model has answered.
  struct Reply {
    Protocol protocol = Protocol::kOpenAi;
    ChatResponse response;
    ReplyContext ctx;
    std::vector<http::Header> headers;
    std::optional<Fault> fault;
    Millis latency{0};
    RequestRecord record;
    std::chrono::steady_clock::time_point start;
  };

  static providers::sim::SimOptions WithReasoning(providers::sim::SimOptions o, bool on) {
    o.reasoning = on;
    return o;
  }

  asio::awaitable<void> Handle(http::ServerRequest request, http::ResponseWriter writer);
  asio::awaitable<void> Generate(http::ServerRequest request, http::ResponseWriter writer,
                                 Route route);
  asio::awaitable<void> SendWhole(http::ResponseWriter writer, Reply reply);
  asio::awaitable<void> SendStream(http::ResponseWriter writer, Reply reply);
  asio::awaitable<void> SendError(http::ResponseWriter writer, Protocol protocol, WireError error,
                                  std::string request_id, std::vector<http::Header> extra,
                                  RequestRecord record,
                                  std::chrono::steady_clock::time_point start);

  http::ServerResponse Control(const http::ServerRequest& r);
  http::ServerResponse Simple(const http::ServerRequest& r, const Route& route);
  http::ServerResponse RenderServerError(const http::ServerRequest& r, int status,
                                         std::string message) const;
  std::optional<WireError> CheckAuth(const WireProtocol& wire, std::string_view key) const;
  WireError FaultError(Protocol p, const Fault& f, std::string_view model) const;

  void Record(RequestRecord record, int status, std::chrono::steady_clock::time_point start) {
    record.status = status;
    record.elapsed_ms =
        std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start).count();
    stats_.Record(std::move(record));
  }

  std::pair<uint64_t, uint64_t> NextRandom() {
    uint64_t s = seed_state_.fetch_add(0x9e3779b97f4a7c15ULL);
    uint64_t a = SplitMix64(s);
    uint64_t b = SplitMix64(s);
    return {a, b};
  }

  std::string NewId(std::string_view prefix, size_t digits) {
    auto [a, b] = NextRandom();
    return fmt::format("{}{}", prefix, Hex(a, b, digits));
  }

  // 1 for a request not seen before; n for its n-th verbatim repetition.
  int32_t NextAttempt(const ChatRequest& r) {
    uint64_t h = RequestHash(r);
    std::lock_guard lock(mu_);
    if (attempts_.size() > 200'000) attempts_.clear();
    return ++attempts_[h];
  }

  void UndoAttempt(const ChatRequest& r) {
    uint64_t h = RequestHash(r);
    std::lock_guard lock(mu_);
    auto it = attempts_.find(h);
    if (it != attempts_.end() && --it->second <= 0) attempts_.erase(it);
  }

  // Prompt tokens of the longest prefix of the conversation seen before (a cache hit).
  int64_t CachedTokens(const ChatRequest& r, int64_t input_tokens) {
    std::vector<uint64_t> prefix;
    uint64_t h = Fnv1a64(r.model);
    for (const auto& m : r.messages) {
      h = MessageHash(m, h);
      prefix.push_back(h);
    }
    size_t hit = 0;
    {
      std::lock_guard lock(mu_);
      for (size_t k = prefix.size(); k > 0; --k) {
        if (seen_.count(prefix[k - 1]) != 0) {
          hit = k;
          break;
        }
      }
      if (seen_.size() > 200'000) seen_.clear();
      if (!prefix.empty()) seen_.insert(prefix.back());
    }
    size_t chars = 0;
    for (size_t k = 0; k < hit; ++k) chars += MessageChars(r.messages[k]);
    return std::min(Tokens(chars, options_.sim.tokens_per_char), input_tokens);
  }

  int64_t InputTokens(const ChatRequest& r) const {
    size_t chars = 0;
    for (const auto& m : r.messages) chars += MessageChars(m);
    return Tokens(chars, options_.sim.tokens_per_char);
  }

  std::string Signature(const ChatRequest& r) const {
    uint64_t state = RequestHash(r) ^ options_.sim.seed;
    std::string bytes;
    for (int i = 0; i < 6; ++i) {
      uint64_t v = SplitMix64(state);
      bytes.append(reinterpret_cast<const char*>(&v), sizeof v);
    }
    return "sim" + Base64(bytes);
  }

  SimServerOptions options_;
  const Clock& clock_;
  FaultSet faults_;
  StatsLog stats_;
  RequestCapture captures_;
  KeyLimiter limiter_;
  SimModel plain_;
  SimModel thinking_;
  std::atomic<uint64_t> seed_state_;
  std::mutex mu_;
  std::unordered_map<uint64_t, int32_t> attempts_;
  std::unordered_set<uint64_t> seen_;
  std::unique_ptr<http::Server> server_;  // last: stopped and destroyed first
};

http::ServerResponse SimServer::Impl::RenderServerError(const http::ServerRequest& r, int status,
                                                        std::string message) const {
  Route route = Resolve(r);
  WireError e;
  e.status = status;
  e.kind = std::string(KindForStatus(status));
  e.message = std::move(message);
  return Wire(route.protocol).Error(e, "req_sim_server");
}

std::optional<WireError> SimServer::Impl::CheckAuth(const WireProtocol& wire,
                                                    std::string_view key) const {
  if (options_.api_key.empty() || key == options_.api_key) return std::nullopt;
  WireError e;
  e.kind = "auth";
  e.status = wire.StatusFor("auth");
  e.message = wire.AuthMessage();
  return e;
}

WireError SimServer::Impl::FaultError(Protocol p, const Fault& f, std::string_view model) const {
  const WireProtocol& wire = Wire(p);
  WireError e;
  if (f.status != 0) {
    e.status = f.status;
    e.kind = f.error.empty() ? std::string(KindForStatus(f.status)) : f.error;
  } else {
    e.kind = f.error;
    e.status = wire.StatusFor(e.kind);
  }
  if (f.retry_after) {
    e.retry_after_ms = f.retry_after->count();
  } else if (IsRetryableStatus(e.status) && e.kind != "quota_exhausted") {
    e.retry_after_ms = 1000;
  }
  e.message = f.message.empty() ? DefaultMessage(p, e, model) : f.message;
  return e;
}

asio::awaitable<void> SimServer::Impl::SendError(http::ResponseWriter writer, Protocol protocol,
                                                 WireError error, std::string request_id,
                                                 std::vector<http::Header> extra,
                                                 RequestRecord record,
                                                 std::chrono::steady_clock::time_point start) {
  http::ServerResponse response = Wire(protocol).Error(error, request_id);
  for (auto& h : extra) response.headers.push_back(std::move(h));
  Record(std::move(record), response.status, start);
  co_await writer.Send(std::move(response));
}

asio::awaitable<void> SimServer::Impl::Handle(http::ServerRequest request,
                                              http::ResponseWriter writer) {
  Route route = Resolve(request);
  if (route.kind != Route::Kind::kControl && route.kind != Route::Kind::kHealth) {
    captures_.Add(request, KeyFingerprint(Wire(route.protocol).ApiKey(request)));
  }
  switch (route.kind) {
    case Route::Kind::kGenerate:
      co_await Generate(std::move(request), std::move(writer), std::move(route));
      co_return;
    case Route::Kind::kControl: {
      http::ServerResponse response = Control(request);
      co_await writer.Send(std::move(response));
      co_return;
    }
    default: {
      http::ServerResponse response = Simple(request, route);
      co_await writer.Send(std::move(response));
      co_return;
    }
  }
}

http::ServerResponse SimServer::Impl::Simple(const http::ServerRequest& r, const Route& route) {
  const WireProtocol& wire = Wire(route.protocol);
  std::string request_id = NewId("req_", 24);
  if (route.kind == Route::Kind::kHealth) {
    json::object o;
    o["ok"] = true;
    o["service"] = "baton sim-server";
    o["protocols"] = json::array{"openai", "anthropic", "gemini"};
    return {200, {{"content-type", "application/json"}}, ToJson(o)};
  }
  if (route.kind == Route::Kind::kNotFound) {
    WireError e;
    e.status = 404;
    e.kind = "not_found";
    e.message = fmt::format("Invalid URL ({} {})", r.method, r.path);
    return wire.Error(e, request_id);
  }
  if (auto auth = CheckAuth(wire, wire.ApiKey(r))) return wire.Error(*auth, request_id);
  int64_t created = clock_.NowMillis() / 1000;
  std::vector<http::Header> headers = {{"content-type", JsonContentType(route.protocol)}};
  switch (route.kind) {
    case Route::Kind::kModels:
      return {200, headers, wire.ModelList(options_.models, created)};
    case Route::Kind::kModel: {
      std::string_view model = route.model;
      if (StartsWith(model, "models/")) model.remove_prefix(7);
      return {200, headers, wire.ModelInfo(model, created)};
    }
    case Route::Kind::kCountTokens: {
      auto decoded = wire.Decode(r, route.model, false);
      if (!decoded.ok()) {
        WireError e;
        e.status = 400;
        e.kind = "invalid_request";
        e.message = decoded.error().message();
        return wire.Error(e, request_id);
      }
      return {200, headers, wire.TokenCount(InputTokens(decoded->request))};
    }
    default:
      return {500, headers, "{}"};
  }
}

asio::awaitable<void> SimServer::Impl::Generate(http::ServerRequest request,
                                                http::ResponseWriter writer, Route route) {
  auto start = std::chrono::steady_clock::now();
  const WireProtocol& wire = Wire(route.protocol);
  std::string request_id = NewId("req_", 24);
  RequestRecord record;
  record.time_ms = clock_.NowMillis();
  record.protocol = std::string(wire.name());
  record.path = request.path;
  record.model = route.model;
  record.stream = route.stream;
  std::string key = wire.ApiKey(request);
  record.key_fp = KeyFingerprint(key);

  if (auto auth = CheckAuth(wire, key)) {
    co_await SendError(writer, route.protocol, std::move(*auth), request_id, {}, record, start);
    co_return;
  }
  auto decoded = wire.Decode(request, route.model, route.stream);
  if (!decoded.ok()) {
    WireError e;
    e.status = 400;
    e.kind = "invalid_request";
    e.message = decoded.error().message();
    co_await SendError(writer, route.protocol, std::move(e), request_id, {}, record, start);
    co_return;
  }
  DecodedCall call = std::move(decoded).value();
  record.model = call.request.model;
  record.stream = call.stream;

  // The fault for this request: the header's, else the first registered one that matches.
  std::optional<Fault> fault;
  if (std::string_view spec = request.header("x-sim-fault"); !spec.empty()) {
    auto parsed = ParseFaultSpec(spec);
    if (!parsed.ok()) {
      WireError e;
      e.status = 400;
      e.kind = "invalid_request";
      e.message = fmt::format("x-sim-fault: {}", parsed.error().message());
      co_await SendError(writer, route.protocol, std::move(e), request_id, {}, record, start);
      co_return;
    }
    fault = std::move(parsed).value();
  } else {
    fault = faults_.Take(route.protocol, call.request.model, record.key_fp);
  }
  if (fault) record.fault = FormatFault(*fault);
  if (fault && fault->kind == Fault::Kind::kDisconnect) {
    record.outcome = "disconnect";
    Record(std::move(record), 0, start);
    writer.Abort();
    co_return;
  }
  if (fault && fault->kind == Fault::Kind::kStatus && (fault->n < 0 || !call.stream)) {
    WireError e = FaultError(route.protocol, *fault, call.request.model);
    co_await SendError(writer, route.protocol, std::move(e), request_id, {}, record, start);
    co_return;
  }

  bool thinking = call.thinking.value_or(options_.sim.reasoning);
  const SimModel& model = thinking ? thinking_ : plain_;
  call.request.attempt = NextAttempt(call.request);
  Result<ChatResponse> result = model.Respond(call.request);
  Millis latency = model.LatencyFor(call.request);

  std::vector<http::Header> limit_headers;
  if (limiter_.enabled()) {
    int64_t cost = result.ok() ? result->usage.input_tokens + result->usage.output_tokens
                               : InputTokens(call.request);
    KeyLimiter::Decision d = limiter_.Admit(record.key_fp, cost);
    wire.AddLimitHeaders(d.snapshot, limit_headers);
    if (!d.allowed) {
      UndoAttempt(call.request);  // refused before the model saw it: not an attempt
      WireError e;
      e.status = 429;
      e.kind = "rate_limited";
      e.limited_by = d.limited_by;
      e.retry_after_ms = std::max<int64_t>(d.retry_after_ms, 1);
      e.message = fmt::format(
          "Rate limit reached for {} on {} per min: Limit {}, Requested {}. Please try again in "
          "{}.",
          call.request.model, d.limited_by, d.limited_by == "tokens" ? options_.tpm : options_.rpm,
          d.limited_by == "tokens" ? cost : 1, FormatResetDuration(e.retry_after_ms));
      record.outcome = "limited";
      co_await SendError(writer, route.protocol, std::move(e), request_id, std::move(limit_headers),
                         record, start);
      co_return;
    }
  }

  ChatResponse response;
  if (!result.ok()) {
    std::string type = result.error().ErrorType();
    if (type == "network") {
      record.outcome = "disconnect";
      Record(std::move(record), 0, start);
      writer.Abort();
      co_return;
    }
    if (type != "content_filter") {
      WireError e;
      e.kind = type;
      e.status = wire.StatusFor(type);
      e.message = result.error().message();
      if (IsRetryableStatus(e.status) && type != "quota_exhausted") e.retry_after_ms = 1000;
      co_await SendError(writer, route.protocol, std::move(e), request_id, std::move(limit_headers),
                         record, start);
      co_return;
    }
    response.finish_reason = "content_filter";
    response.usage.input_tokens = InputTokens(call.request);
  } else {
    response = std::move(result).value();
  }
  response.usage.cached_tokens = CachedTokens(call.request, response.usage.input_tokens);
  record.input_tokens = response.usage.input_tokens;
  record.output_tokens = response.usage.output_tokens;

  Reply reply;
  reply.protocol = route.protocol;
  reply.ctx.request_id = request_id;
  reply.ctx.model = call.request.model;
  reply.ctx.created = record.time_ms / 1000;
  reply.ctx.include_usage = call.include_usage;
  reply.ctx.include_thoughts = thinking && call.include_thoughts;
  reply.ctx.sse = call.sse;
  reply.ctx.signature = Signature(call.request);
  switch (route.protocol) {
    case Protocol::kOpenAi:
      reply.ctx.id = NewId("chatcmpl-", 29);
      break;
    case Protocol::kAnthropic:
      reply.ctx.id = NewId("msg_", 24);
      break;
    case Protocol::kGemini:
      reply.ctx.id = NewId("", 22);
      break;
  }
  wire.AddReplyHeaders(reply.ctx, reply.headers);
  for (auto& h : limit_headers) reply.headers.push_back(std::move(h));
  reply.response = std::move(response);
  reply.fault = std::move(fault);
  reply.latency = latency;
  reply.record = std::move(record);
  reply.start = start;
  if (call.stream) {
    co_await SendStream(std::move(writer), std::move(reply));
  } else {
    co_await SendWhole(std::move(writer), std::move(reply));
  }
}

asio::awaitable<void> SimServer::Impl::SendWhole(http::ResponseWriter writer, Reply reply) {
  const WireProtocol& wire = Wire(reply.protocol);
  std::string body = wire.Body(reply.response, reply.ctx);
  if (!co_await Sleep(reply.latency)) co_return;
  std::vector<http::Header> headers = std::move(reply.headers);
  headers.emplace_back("content-type", JsonContentType(reply.protocol));
  using K = Fault::Kind;
  const Fault* f = reply.fault ? &*reply.fault : nullptr;
  K kind = f ? f->kind : K::kStatus;
  if (f && kind == K::kMalformed) {
    body = CorruptJson(body);
    reply.record.outcome = "malformed";
  }
  bool piecewise = f && (kind == K::kStallHeaders || kind == K::kStallBytes ||
                         kind == K::kStallEvents || kind == K::kTruncate || kind == K::kDrip);
  if (!piecewise) {
    Record(std::move(reply.record), 200, reply.start);
    http::ServerResponse response{200, std::move(headers), std::move(body)};
    co_await writer.Send(std::move(response));
    co_return;
  }
  headers.emplace_back("content-length", std::to_string(body.size()));
  reply.record.outcome = kind == K::kTruncate ? "truncate" : kind == K::kDrip ? "drip" : "stall";
  Record(std::move(reply.record), 200, reply.start);
  Status started = co_await writer.Start(200, std::move(headers));
  if (!started.ok()) co_return;
  switch (kind) {
    case K::kStallBytes: {
      std::string head = body.substr(0, std::min<size_t>(static_cast<size_t>(f->n), body.size()));
      Status st = co_await writer.Write(std::move(head));
      if (st.ok()) co_await Hang();
      co_return;
    }
    case K::kTruncate: {
      std::string head = body.substr(0, body.size() / 2);
      co_await writer.Write(std::move(head));
      writer.Abort();
      co_return;
    }
    case K::kDrip: {
      for (size_t at = 0; at < body.size(); at += 64) {
        if (!co_await Sleep(f->interval)) co_return;
        Status st = co_await writer.Write(body.substr(at, 64));
        if (!st.ok()) co_return;
      }
      co_await writer.Finish();
      co_return;
    }
    default:  // stall-headers, stall-events
      co_await Hang();
      co_return;
  }
}

asio::awaitable<void> SimServer::Impl::SendStream(http::ResponseWriter writer, Reply reply) {
  const WireProtocol& wire = Wire(reply.protocol);
  std::vector<Frame> frames = wire.Stream(reply.response, reply.ctx);
  using K = Fault::Kind;
  const Fault* f = reply.fault ? &*reply.fault : nullptr;
  K kind = f ? f->kind : K::kStatus;
  size_t last = frames.size() - 1;  // the terminal event: a cut stream never sends it
  size_t stop_at = frames.size();   // index where the fault acts
  if (f) {
    switch (kind) {
      case K::kMalformed: {
        int64_t seen = 0;
        size_t target = frames.size();
        for (size_t i = 0; i < frames.size(); ++i) {
          if (!frames[i].content) continue;
          target = i;
          if (++seen == f->n) break;
        }
        if (target == frames.size()) target = 0;
        frames[target].data = CorruptJson(frames[target].data);
        reply.record.outcome = "malformed";
        break;
      }
      case K::kTruncate:
        stop_at = f->n >= 0 ? static_cast<size_t>(f->n) : frames.size() / 2;
        stop_at = std::min(stop_at, last);
        reply.record.outcome = "truncate";
        break;
      case K::kStallEvents:
        stop_at = std::min(static_cast<size_t>(f->n), last);
        reply.record.outcome = "stall";
        break;
      case K::kStatus:
        stop_at = std::min(static_cast<size_t>(f->n), last);
        reply.record.outcome = "error_event";
        break;
      case K::kStallHeaders:
      case K::kStallBytes:
        reply.record.outcome = "stall";
        break;
      case K::kDrip:
        reply.record.outcome = "drip";
        break;
      case K::kDisconnect:
        break;
    }
  }
  std::vector<http::Header> headers = std::move(reply.headers);
  headers.emplace_back("content-type", wire.StreamContentType(reply.ctx));
  headers.emplace_back("cache-control", "no-cache");
  headers.emplace_back("x-accel-buffering", "no");
  RequestRecord record = reply.record;
  Record(std::move(record), 200, reply.start);
  Status started = co_await writer.Start(200, std::move(headers));
  if (!started.ok()) co_return;
  if (f && kind == K::kStallHeaders) {
    co_await Hang();
    co_return;
  }
  size_t content = static_cast<size_t>(
      std::count_if(frames.begin(), frames.end(), [](const Frame& fr) { return fr.content; }));
  Millis per = content > 0 ? reply.latency / static_cast<int64_t>(content) : Millis(0);
  size_t sent_bytes = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (f && i == stop_at) {
      if (kind == K::kTruncate) {
        writer.Abort();
        co_return;
      }
      if (kind == K::kStallEvents) {
        co_await Hang();
        co_return;
      }
      if (kind == K::kStatus) {
        WireError e = FaultError(reply.protocol, *f, reply.ctx.model);
        Frame error = wire.StreamError(e, reply.ctx, i);
        Status st = co_await writer.Write(error.Bytes());
        if (st.ok()) co_await writer.Finish();
        co_return;
      }
    }
    Millis wait = f && kind == K::kDrip ? f->interval
                  : frames[i].content   ? per
                                        : (content == 0 && i == 0 ? reply.latency : Millis(0));
    if (!co_await Sleep(wait)) co_return;
    std::string bytes = frames[i].Bytes();
    if (f && kind == K::kStallBytes && sent_bytes + bytes.size() >= static_cast<size_t>(f->n)) {
      std::string head = bytes.substr(0, static_cast<size_t>(f->n) - sent_bytes);
      Status st = co_await writer.Write(std::move(head));
      if (st.ok()) co_await Hang();
      co_return;
    }
    sent_bytes += bytes.size();
    Status st = co_await writer.Write(std::move(bytes));
    if (!st.ok()) co_return;
  }
  co_await writer.Finish();
}

// ---- control API ---------------------------------------------------------------------------

http::ServerResponse SimServer::Impl::Control(const http::ServerRequest& r) {
  auto reply = [](int status, json::value body) {
    return http::ServerResponse{status, {{"content-type", "application/json"}}, ToJson(body)};
  };
  auto error = [&](int status, std::string message) {
    return reply(status,
                 json::object{{"error", json::object{{"code", status}, {"message", message}}}});
  };
  if (!options_.api_key.empty()) {
    std::string_view auth = r.header("authorization");
    bool ok = r.header("x-api-key") == options_.api_key ||
              r.header("x-goog-api-key") == options_.api_key ||
              (auth.size() > 7 && auth.substr(7) == options_.api_key);
    if (!ok) return error(401, "the control API needs the server's API key");
  }
  std::string_view path = r.path;
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  if (path == "/_sim/faults") {
    if (r.method == "GET") {
      json::array list;
      for (const auto& f : faults_.List()) list.push_back(FaultToJson(f));
      return reply(200, json::object{{"faults", std::move(list)}});
    }
    if (r.method == "DELETE") {
      return reply(200, json::object{{"cleared", static_cast<int64_t>(faults_.Clear())}});
    }
    if (r.method == "POST") {
      json::value body;
      auto parsed = ParseJson(r.body);
      if (parsed.ok()) {
        body = std::move(parsed).value();
      } else {
        body = json::string(r.body);  // a bare spec string
      }
      auto faults = ParseFaultJson(body);
      if (!faults.ok()) return error(400, faults.error().message());
      json::array added;
      for (const auto& f : faults_.Add(std::move(faults).value())) added.push_back(FaultToJson(f));
      return reply(200, json::object{{"faults", std::move(added)}});
    }
    return error(405, "use GET, POST or DELETE on /_sim/faults");
  }
  if (StartsWith(path, "/_sim/faults/")) {
    if (r.method != "DELETE") return error(405, "use DELETE on /_sim/faults/{id}");
    std::string_view id_text = path.substr(13);
    int64_t id = 0;
    for (char c : id_text) {
      if (c < '0' || c > '9') return error(400, "a fault id is a number");
      id = id * 10 + (c - '0');
    }
    if (!faults_.Remove(id)) return error(404, fmt::format("no fault {}", id));
    return reply(200, json::object{{"removed", id}});
  }
  if (path == "/_sim/stats") {
    if (r.method == "GET") {
      int64_t since = 0;
      if (auto s = r.query_param("since")) since = std::atoll(std::string(*s).c_str());
      return reply(200, stats_.ToJson(since));
    }
    if (r.method == "DELETE") {
      stats_.Clear();
      return reply(200, json::object{{"cleared", true}});
    }
    return error(405, "use GET or DELETE on /_sim/stats");
  }
  if (path == "/_sim/requests") {
    if (r.method == "GET") {
      int64_t since = 0;
      if (auto s = r.query_param("since")) since = std::atoll(std::string(*s).c_str());
      return reply(200, captures_.ToJson(since));
    }
    if (r.method == "DELETE") {
      captures_.Clear();
      return reply(200, json::object{{"cleared", true}});
    }
    return error(405, "use GET or DELETE on /_sim/requests");
  }
  if (path == "/_sim/health" || path == "/_sim") {
    return reply(200, json::object{{"ok", true}});
  }
  return error(404, fmt::format("unknown control endpoint {} {}", r.method, r.path));
}

// ---- public API ---------------------------------------------------------------------------------

Result<std::unique_ptr<SimServer>> SimServer::Start(SimServerOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  BATON_RETURN_IF_ERROR(impl->Listen());
  return std::unique_ptr<SimServer>(new SimServer(std::move(impl)));
}

SimServer::SimServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SimServer::~SimServer() { impl_->Stop(); }
const std::string& SimServer::host() const { return impl_->host(); }
uint16_t SimServer::port() const { return impl_->port(); }
std::string SimServer::url() const {
  const std::string& h = host();
  bool v6 = h.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}", v6 ? "[" : "", h, v6 ? "]" : "", port());
}
void SimServer::Stop() { impl_->Stop(); }
FaultSet& SimServer::faults() { return impl_->faults(); }
StatsLog& SimServer::stats() { return impl_->stats(); }
RequestCapture& SimServer::captures() { return impl_->captures(); }
size_t SimServer::Connections() const { return impl_->Connections(); }

}  // namespace baton::simserver
