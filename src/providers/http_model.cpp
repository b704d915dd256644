#include "providers/http_model.hpp"

#include <fmt/format.h>

#include <mutex>

#include "base/json.hpp"

namespace baton::providers {
namespace {

// What the body sink of a streamed call accumulates; touched only on the HTTP I/O thread while
// the transfer runs, then read by the awaiting coroutine after Send() completes.
struct StreamState {
  http::SseParser parser;
  std::unique_ptr<StreamDecoder> decoder;
  StreamSink sink;
  bool json_body = false;  // the server ignored `stream` and sent one JSON document
  bool started = false;
  std::string raw;  // the JSON document in that case
};

// Merges `from` into `into`: objects key by key (recursively), anything else replaces. So
// `params: { generationConfig: { thinkingConfig: ... } }` adds to what the codec built.
void DeepMerge(json::object& into, const json::object& from) {
  for (const auto& kv : from) {
    json::value* existing = into.if_contains(kv.key());
    if (existing && existing->is_object() && kv.value().is_object()) {
      DeepMerge(existing->get_object(), kv.value().get_object());
    } else {
      into[kv.key()] = kv.value();
    }
  }
}

Status Prefix(const Status& st, const HttpModelOptions& o) {
  return st.WithContext(fmt::format("{} model '{}'", o.provider, o.name));
}

}  // namespace

HttpModel::HttpModel(HttpModelOptions options, std::unique_ptr<Codec> codec,
                     HttpClientSource client)
    : options_(std::move(options)), codec_(std::move(codec)), client_(std::move(client)) {}

boost::asio::awaitable<Result<ChatResponse>> HttpModel::Complete(ChatRequest request) {
  if (options_.key_required && options_.endpoint.api_key.empty()) {
    co_return Status(Code::kFailedPrecondition,
                     fmt::format("{} model '{}': no API key: set the environment variable {}",
                                 options_.provider, options_.name, options_.api_key_env),
                     "auth");
  }
  if (!options_.model_id.empty()) request.model = options_.model_id;
  bool stream = options_.stream || static_cast<bool>(request.stream);
  auto encoded = codec_->Encode(request, options_.endpoint, stream);
  if (!encoded.ok()) co_return Prefix(encoded.error(), options_);
  http::HttpRequest http_request = std::move(encoded).value();
  http_request.timeouts = options_.timeouts;
  if (!options_.params.empty()) {
    auto body = ParseJson(http_request.body);
    if (body.ok() && body->is_object()) {
      DeepMerge(body->get_object(), options_.params);
      http_request.body = ToJson(*body);
    }
  }

  auto state = std::make_shared<StreamState>();
  http::BodySink sink;
  if (stream) {
    state->decoder = codec_->NewStreamDecoder(request);
    state->sink = request.stream;
    sink = [state](std::string_view chunk) -> Status {
      if (!state->started) {
        size_t i = chunk.find_first_not_of(" \t\r\n");
        if (i == std::string_view::npos) return Status::Ok();
        state->started = true;
        state->json_body = chunk[i] == '{';
      }
      if (state->json_body) {
        state->raw.append(chunk);
        return Status::Ok();
      }
      return state->parser.Feed(
          chunk, [&state](http::SseEvent&& e) { return state->decoder->OnEvent(e, state->sink); });
    };
  }
  auto client = client_();
  if (!client.ok()) co_return Prefix(client.error(), options_);
  auto sent = co_await (*client)->Send(std::move(http_request), std::move(sink));
  if (!sent.ok()) co_return Prefix(sent.error(), options_);
  const http::HttpResponse& response = *sent;

  if (response.status < 200 || response.status >= 300) {
    co_return Prefix(codec_->DecodeError(response), options_);
  }
  Result<ChatResponse> decoded = !stream            ? codec_->Decode(response.body, request)
                                 : state->json_body ? codec_->Decode(state->raw, request)
                                                    : state->decoder->Finish();
  if (!decoded.ok()) co_return Prefix(decoded.error(), options_);
  ChatResponse out = std::move(decoded).value();
  out.provider = options_.provider;
  if (out.model.empty()) out.model = request.model;
  out.limits = codec_->ParseRateLimits(response);
  if (std::string id = codec_->RequestId(response); !id.empty()) out.request_id = std::move(id);
  out.usage.cost_usd = options_.price.Cost(out.usage);
  co_return out;
}

}  // namespace baton::providers
