#include "llm_drive.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <utility>

namespace baton::bench {
namespace {

namespace asio = boost::asio;

void Count(DriveResult* out, bool ok, std::string error) {
  if (ok) {
    ++out->ok;
    return;
  }
  if (out->failed++ == 0) out->first_error = std::move(error);
}

asio::awaitable<void> SendOne(http::HttpClient* client, http::HttpRequest request,
                              DriveResult* out) {
  Result<http::HttpResponse> r = co_await client->Send(std::move(request));
  if (!r.ok()) {
    Count(out, false, r.error().message());
  } else {
    Count(out, r->status >= 200 && r->status < 300, "HTTP status " + std::to_string(r->status));
  }
}

asio::awaitable<void> CompleteOne(providers::ChatModel* model, providers::ChatRequest request,
                                  DriveResult* out) {
  Result<providers::ChatResponse> r = co_await model->Complete(std::move(request));
  Count(out, r.ok(), r.ok() ? "" : r.error().message());
}

}  // namespace

DriveResult SendAll(http::HttpClient& client, std::vector<http::HttpRequest> requests) {
  DriveResult out;
  asio::io_context io(1);
  for (auto& r : requests) asio::co_spawn(io, SendOne(&client, std::move(r), &out), asio::detached);
  io.run();
  return out;
}

DriveResult CompleteAll(providers::ChatModel& model, std::vector<providers::ChatRequest> requests) {
  DriveResult out;
  asio::io_context io(1);
  for (auto& r : requests) {
    asio::co_spawn(io, CompleteOne(&model, std::move(r), &out), asio::detached);
  }
  io.run();
  return out;
}

}  // namespace baton::bench
