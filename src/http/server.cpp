#include "http/server.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "base/json.hpp"

namespace baton::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%' && i + 2 < s.size() && HexValue(s[i + 1]) >= 0 && HexValue(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<Header> ParseQuery(std::string_view q) {
  std::vector<Header> out;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string_view::npos) {
      out.emplace_back(PercentDecode(pair, true), "");
    } else {
      out.emplace_back(PercentDecode(pair.substr(0, eq), true),
                       PercentDecode(pair.substr(eq + 1), true));
    }
  }
  return out;
}

// Fills method, target, path, query and headers from a parsed (possibly partial) header.
void FillRequestHead(const bhttp::request<bhttp::string_body>& msg, ServerRequest& out) {
  out.method = std::string(msg.method_string());
  out.target = std::string(msg.target());
  std::string_view target = out.target;
  size_t q = target.find('?');
  out.path = PercentDecode(target.substr(0, q), false);
  if (q != std::string_view::npos) out.query = ParseQuery(target.substr(q + 1));
  out.headers.clear();
  for (const auto& field : msg) {
    out.headers.emplace_back(Lower(field.name_string()), std::string(field.value()));
  }
}

std::string_view ReasonFor(int status) {
  switch (status) {
    case 529:
      return "Site Overloaded";
    case 499:
      return "Client Closed Request";
    default:
      return "Unknown";
  }
}

template <typename Message>
void SetStatus(Message& res, int status) {
  res.result(static_cast<unsigned>(status));
  if (bhttp::int_to_status(static_cast<unsigned>(status)) == bhttp::status::unknown) {
    res.reason(ReasonFor(status));
  }
}

// Headers the server owns: a handler's values for them are ignored.
bool IsFramingHeader(std::string_view name) {
  return IEquals(name, "content-length") || IEquals(name, "transfer-encoding") ||
         IEquals(name, "connection");
}

Status NetworkError(std::string_view what, const beast::error_code& ec) {
  return Status(Code::kUnavailable, fmt::format("{}: {}", what, ec.message()), "network");
}

ServerResponse DefaultError(const ServerRequest&, int status, std::string message) {
  json::object error;
  error["code"] = status;
  error["message"] = std::move(message);
  json::object body;
  body["error"] = std::move(error);
  return {status, {{"content-type", "application/json"}}, ToJson(body)};
}

}  // namespace

// ---- request helpers --------------------------------------------------------------------------

std::string_view ServerRequest::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return {};
}

std::optional<std::string_view> ServerRequest::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

// ---- connection ------------------------------------------------------------------------------

class ServerConnection;

// One request's response state; shared by the handler's ResponseWriter and the connection.
class Exchange {
 public:
  Exchange(std::shared_ptr<ServerConnection> c, unsigned v, bool keep) noexcept
      : conn(std::move(c)), version(v), keep_alive(keep) {}
  std::shared_ptr<ServerConnection> conn;
  unsigned version;
  bool keep_alive;
  bool started = false;
  bool finished = false;
  bool chunked = false;
  bool aborted = false;
  bool broken = false;                // a write failed: the connection is unusable
  std::optional<uint64_t> remaining;  // raw (content-length) streaming: bytes still owed
};

class ServerConnection : public std::enable_shared_from_this<ServerConnection> {
 public:
  ServerConnection(Server::Impl& server, tcp::socket socket);
  ~ServerConnection();

  asio::awaitable<void> Serve();
  void Close();
  // On the strand: close if idle, else finish the current response and close.
  void BeginStop();
  // On the strand: cancel the handler and close.
  void ForceStop();

  beast::tcp_stream& stream() { return stream_; }
  asio::any_io_executor executor() { return stream_.get_executor(); }
  asio::cancellation_slot cancel_slot() { return cancel_.slot(); }

 private:
  asio::awaitable<void> Invoke(ServerRequest request, ResponseWriter writer);
  asio::awaitable<void> WatchPeer();
  asio::awaitable<void> SendError(unsigned version, ServerRequest request, int status,
                                  std::string message, bool keep_alive);
  asio::awaitable<void> Drain();

  Server::Impl& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  asio::cancellation_signal cancel_;
  std::string remote_;
  bool handling_ = false;
  bool closing_ = false;
  bool peer_gone_ = false;
};

class Server::Impl {
 public:
  Impl(Options options, Handler handler)
      : options_(std::move(options)),
        handler_(std::move(handler)),
        ioc_(std::max(1, options_.threads)),
        acceptor_(asio::make_strand(ioc_)) {
    if (!options_.error_renderer) options_.error_renderer = DefaultError;
  }
  ~Impl() { Stop(); }

  Status Listen();
  void Run();
  void Stop();

  void Register(const std::shared_ptr<ServerConnection>& c) {
    std::lock_guard lock(mu_);
    conns_.emplace(c.get(), c);
  }
  void Unregister(ServerConnection* c) {
    std::lock_guard lock(mu_);
    conns_.erase(c);
    cv_.notify_all();
  }
  size_t Connections() const {
    std::lock_guard lock(mu_);
    return conns_.size();
  }

  const Options& options() const { return options_; }
  const Handler& handler() const { return handler_; }
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }
  const std::string& host() const { return options_.host; }
  uint16_t port() const { return port_; }

 private:
  asio::awaitable<void> Accept();
  template <typename F>
  void ForEachConnection(F f);
  bool WaitConnections(Millis limit);

  // Declared before ioc_ so they outlive the connections destroyed with it.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<ServerConnection*, std::weak_ptr<ServerConnection>> conns_;
  std::mutex stop_mu_;
  bool stopped_ = false;

  Options options_;
  Handler handler_;
  std::atomic<bool> stopping_{false};
  uint16_t port_ = 0;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::vector<std::thread> threads_;
};

ServerConnection::ServerConnection(Server::Impl& server, tcp::socket socket)
    : server_(server), stream_(std::move(socket)) {
  beast::error_code ec;
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

ServerConnection::~ServerConnection() { server_.Unregister(this); }

void ServerConnection::Close() {
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream_.close();
}

void ServerConnection::BeginStop() {
  if (handling_) {
    closing_ = true;
  } else {
    Close();
  }
}

void ServerConnection::ForceStop() {
  closing_ = true;
  cancel_.emit(asio::cancellation_type::terminal);
  Close();
}

asio::awaitable<void> ServerConnection::Invoke(ServerRequest request, ResponseWriter writer) {
  try {
    co_await server_.handler()(std::move(request), std::move(writer));
  } catch (...) {
    // A handler's exception (including cancellation surfacing as one) ends its response; the
    // connection decides below what the client sees.
  }
}

asio::awaitable<void> ServerConnection::WatchPeer() {
  auto [ec, n] = co_await stream_.socket().async_read_some(buffer_.prepare(4096), kUseTuple);
  if (ec) {
    if (ec != asio::error::operation_aborted) peer_gone_ = true;
    co_return;
  }
  // The client sent more (a pipelined request): keep it for the next read and wait for the
  // handler to finish (this wait is cancelled when it does).
  buffer_.commit(n);
  asio::steady_timer forever(co_await asio::this_coro::executor,
                             asio::steady_timer::time_point::max());
  co_await forever.async_wait(kUseTuple);
}

asio::awaitable<void> ServerConnection::SendError(unsigned version, ServerRequest request,
                                                  int status, std::string message,
                                                  bool keep_alive) {
  ServerResponse r = server_.options().error_renderer(request, status, std::move(message));
  bhttp::response<bhttp::string_body> res;
  res.version(version == 10 ? 10 : 11);
  SetStatus(res, r.status);
  for (auto& [k, v] : r.headers) {
    if (!IsFramingHeader(k)) res.insert(k, v);
  }
  res.keep_alive(keep_alive);
  res.body() = std::move(r.body);
  res.prepare_payload();
  stream_.expires_after(server_.options().idle_timeout);
  co_await bhttp::async_write(stream_, res, kUseTuple);
}

asio::awaitable<void> ServerConnection::Drain() {
  // Lets the client finish sending what we refused, so that closing does not reset the
  // connection before it has read our answer.
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.expires_after(std::chrono::milliseconds(500));
  std::array<char, 16384> scratch;
  for (int i = 0; i < 4096; ++i) {
    auto [e, n] = co_await stream_.async_read_some(asio::buffer(scratch), kUseTuple);
    if (e) break;
  }
}

asio::awaitable<void> ServerConnection::Serve() {
  const Server::Options& opt = server_.options();
  for (;;) {
    if (server_.stopping() || closing_) co_return;
    handling_ = false;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(
        std::min<size_t>(opt.max_header_bytes, std::numeric_limits<uint32_t>::max())));
    parser.body_limit(opt.max_body_bytes);
    stream_.expires_after(opt.idle_timeout);
    auto [ec, n] = co_await bhttp::async_read_header(stream_, buffer_, parser, kUseTuple);
    if (ec) {
      ServerRequest partial;
      if (ec == bhttp::error::header_limit) {
        co_await SendError(11, partial, 431,
                           fmt::format("request headers exceed {} bytes", opt.max_header_bytes),
                           false);
        co_await Drain();
      } else if (ec == bhttp::error::body_limit) {
        FillRequestHead(parser.get(), partial);
        co_await SendError(parser.get().version(), partial, 413,
                           fmt::format("request body exceeds {} bytes", opt.max_body_bytes), false);
        co_await Drain();
      } else if (ec.category() == beast::error_code(bhttp::error::bad_target).category() &&
                 ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        co_await SendError(11, partial, 400, fmt::format("malformed request: {}", ec.message()),
                           false);
      }
      co_return;
    }
    handling_ = true;
    if (IEquals(parser.get()[bhttp::field::expect], "100-continue") && !parser.is_done()) {
      bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, parser.get().version()};
      auto [wec, wn] = co_await bhttp::async_write(stream_, go_on, kUseTuple);
      if (wec) co_return;
    }
    if (!parser.is_done()) {
      auto [rec, rn] = co_await bhttp::async_read(stream_, buffer_, parser, kUseTuple);
      if (rec) {
        if (rec == bhttp::error::body_limit) {
          ServerRequest partial;
          FillRequestHead(parser.get(), partial);
          co_await SendError(parser.get().version(), partial, 413,
                             fmt::format("request body exceeds {} bytes", opt.max_body_bytes),
                             false);
          co_await Drain();
        }
        co_return;
      }
    }
    stream_.expires_never();
    bhttp::request<bhttp::string_body> msg = parser.release();
    ServerRequest request;
    FillRequestHead(msg, request);
    request.body = std::move(msg.body());
    request.remote = remote_;
    unsigned version = msg.version();
    bool keep_alive = msg.keep_alive() && !server_.stopping() && !closing_;
    auto exchange = std::make_shared<Exchange>(shared_from_this(), version, keep_alive);
    {
      using namespace asio::experimental::awaitable_operators;
      ServerRequest copy_for_errors;
      copy_for_errors.method = request.method;
      copy_for_errors.target = request.target;
      copy_for_errors.path = request.path;
      copy_for_errors.headers = request.headers;
      ResponseWriter writer(exchange);
      co_await (Invoke(std::move(request), std::move(writer)) || WatchPeer());
      if (peer_gone_ || exchange->broken) co_return;
      if (!exchange->started && !exchange->aborted) {
        co_await SendError(version, std::move(copy_for_errors), 500, "the handler sent no response",
                           false);
        co_return;
      }
    }
    if (exchange->aborted || !exchange->finished || !exchange->keep_alive) co_return;
  }
}

namespace {

// Keeps the connection alive while it serves and closes it when done.
asio::awaitable<void> RunConnection(std::shared_ptr<ServerConnection> c) {
  try {
    co_await c->Serve();
  } catch (...) {
  }
  c->Close();
}

}  // namespace

// ---- response writer --------------------------------------------------------------------------

asio::awaitable<Status> ResponseWriter::Send(ServerResponse response) {
  Exchange& x = *x_;
  if (x.started) co_return FailedPrecondition("http: response already started");
  x.started = true;
  bhttp::response<bhttp::string_body> res;
  res.version(x.version);
  SetStatus(res, response.status);
  for (auto& [k, v] : response.headers) {
    if (!IsFramingHeader(k)) res.insert(k, v);
  }
  res.keep_alive(x.keep_alive);
  res.body() = std::move(response.body);
  res.prepare_payload();
  auto [ec, n] = co_await bhttp::async_write(x.conn->stream(), res, kUseTuple);
  if (ec) {
    x.broken = true;
    co_return NetworkError("http: writing the response", ec);
  }
  x.finished = true;
  co_return Status::Ok();
}

asio::awaitable<Status> ResponseWriter::Start(int status, std::vector<Header> headers) {
  Exchange& x = *x_;
  if (x.started) co_return FailedPrecondition("http: response already started");
  x.started = true;
  bhttp::response<bhttp::empty_body> res;
  res.version(x.version);
  SetStatus(res, status);
  std::optional<uint64_t> length;
  for (auto& [k, v] : headers) {
    if (IEquals(k, "content-length")) {
      length = std::strtoull(v.c_str(), nullptr, 10);
    } else if (!IsFramingHeader(k)) {
      res.insert(k, v);
    }
  }
  if (length) {
    res.content_length(*length);
    x.remaining = *length;
  } else if (x.version >= 11) {
    res.chunked(true);
    x.chunked = true;
  } else {
    x.keep_alive = false;  // HTTP/1.0: the body ends when the connection does
  }
  res.keep_alive(x.keep_alive);
  bhttp::response_serializer<bhttp::empty_body> serializer(res);
  auto [ec, n] = co_await bhttp::async_write_header(x.conn->stream(), serializer, kUseTuple);
  if (ec) {
    x.broken = true;
    co_return NetworkError("http: writing the response headers", ec);
  }
  co_return Status::Ok();
}

asio::awaitable<Status> ResponseWriter::Write(std::string data) {
  Exchange& x = *x_;
  if (!x.started || x.finished) co_return FailedPrecondition("http: no streamed response open");
  if (x.broken) co_return Status(Code::kUnavailable, "http: the client has gone", "network");
  if (data.empty()) co_return Status::Ok();
  beast::error_code ec;
  if (x.chunked) {
    auto [e, n] = co_await asio::async_write(x.conn->stream(),
                                             bhttp::make_chunk(asio::buffer(data)), kUseTuple);
    ec = e;
  } else {
    if (x.remaining && data.size() > *x.remaining) {
      co_return FailedPrecondition("http: write beyond the announced content-length");
    }
    auto [e, n] = co_await asio::async_write(x.conn->stream(), asio::buffer(data), kUseTuple);
    ec = e;
    if (!ec && x.remaining) *x.remaining -= data.size();
  }
  if (ec) {
    x.broken = true;
    co_return NetworkError("http: writing the response body", ec);
  }
  co_return Status::Ok();
}

asio::awaitable<Status> ResponseWriter::Finish() {
  Exchange& x = *x_;
  if (!x.started || x.finished) co_return FailedPrecondition("http: no streamed response open");
  if (x.broken) co_return Status(Code::kUnavailable, "http: the client has gone", "network");
  if (x.chunked) {
    auto [ec, n] =
        co_await asio::async_write(x.conn->stream(), bhttp::make_chunk_last(), kUseTuple);
    if (ec) {
      x.broken = true;
      co_return NetworkError("http: finishing the response", ec);
    }
  } else if (x.remaining && *x.remaining != 0) {
    x.aborted = true;  // fewer bytes than announced: the client must see a short body
  } else if (!x.remaining) {
    x.keep_alive = false;  // close-delimited body
  }
  x.finished = true;
  co_return Status::Ok();
}

void ResponseWriter::Abort() { x_->aborted = true; }
bool ResponseWriter::started() const { return x_->started; }
bool ResponseWriter::finished() const { return x_->finished; }

// ---- server ---------------------------------------------------------------------------------

Status Server::Impl::Listen() {
  std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (ec) {
    tcp::resolver resolver(ioc_);
    auto results = resolver.resolve(host, std::to_string(options_.port), ec);
    if (ec || results.empty()) {
      return Unavailable(fmt::format("http: cannot resolve host '{}': {}", options_.host,
                                     ec ? ec.message() : "no address"));
    }
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint endpoint(address, options_.port);
  auto fail = [&](std::string_view what) {
    return Unavailable(fmt::format("http: cannot listen on {}:{}: {} ({})", options_.host,
                                   options_.port, ec.message(), what));
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) return fail("open");
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (ec) return fail("reuse_address");
  acceptor_.bind(endpoint, ec);
  if (ec) return fail("bind");
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  port_ = acceptor_.local_endpoint(ec).port();
  return Status::Ok();
}

asio::awaitable<void> Server::Impl::Accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::make_strand(ioc_), kUseTuple);
    if (stopping() || !acceptor_.is_open()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Out of descriptors and the like: back off briefly instead of spinning.
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(20));
      co_await pause.async_wait(kUseTuple);
      continue;
    }
    beast::error_code opt_ec;
    socket.set_option(tcp::no_delay(true), opt_ec);
    auto conn = std::make_shared<ServerConnection>(*this, std::move(socket));
    Register(conn);
    asio::co_spawn(conn->executor(), RunConnection(conn),
                   asio::bind_cancellation_slot(conn->cancel_slot(), asio::detached));
  }
}

void Server::Impl::Run() {
  guard_.emplace(ioc_.get_executor());
  asio::co_spawn(acceptor_.get_executor(), Accept(), asio::detached);
  int n = std::max(1, options_.threads);
  threads_.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this] {
      for (;;) {
        try {
          ioc_.run();
          return;
        } catch (...) {
          // A handler threw out of the loop: keep serving the others.
        }
      }
    });
  }
}

template <typename F>
void Server::Impl::ForEachConnection(F f) {
  std::vector<std::shared_ptr<ServerConnection>> live;
  {
    std::lock_guard lock(mu_);
    for (auto& [ptr, weak] : conns_) {
      if (auto c = weak.lock()) live.push_back(std::move(c));
    }
  }
  for (auto& c : live) f(c);
}

bool Server::Impl::WaitConnections(Millis limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] { return conns_.empty(); });
}

void Server::Impl::Stop() {
  std::lock_guard stop_lock(stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  stopping_ = true;
  if (!threads_.empty()) {
    asio::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    ForEachConnection([](const std::shared_ptr<ServerConnection>& c) {
      asio::post(c->executor(), [c] { c->BeginStop(); });
    });
    WaitConnections(options_.stop_grace);
    ForEachConnection([](const std::shared_ptr<ServerConnection>& c) {
      asio::post(c->executor(), [c] { c->ForceStop(); });
    });
    WaitConnections(std::chrono::seconds(2));
    guard_.reset();
    ioc_.stop();
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
}

Result<std::unique_ptr<Server>> Server::Start(Options options, Handler handler) {
  auto impl = std::make_unique<Impl>(std::move(options), std::move(handler));
  BATON_RETURN_IF_ERROR(impl->Listen());
  impl->Run();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { impl_->Stop(); }
const std::string& Server::host() const { return impl_->host(); }
uint16_t Server::port() const { return impl_->port(); }
void Server::Stop() { impl_->Stop(); }
size_t Server::Connections() const { return impl_->Connections(); }

}  // namespace baton::http
