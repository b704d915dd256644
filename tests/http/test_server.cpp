#include "test_server.hpp"

#include <zlib.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace baton::http::testing {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Value of `key` in a query string "a=1&b=2", or `fallback`.
long QueryInt(std::string_view query, std::string_view key, long fallback) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == key) {
      return std::strtol(std::string(pair.substr(eq + 1)).c_str(), nullptr, 10);
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return fallback;
}

std::string Gzip(std::string_view text) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    throw std::runtime_error("deflateInit2");
  }
  std::string out(deflateBound(&zs, text.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Chunk(std::string_view data) {
  char size[32];
  std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
  return std::string(size) + std::string(data) + "\r\n";
}

}  // namespace

std::string RecordedRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return "";
}

class TestServer::Impl {
 public:
  explicit Impl(Mode mode) : mode_(mode) {
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(ep.protocol());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind(ep);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    asio::co_spawn(io_, Accept(this), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    io_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }

  size_t accepted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return accepted_;
  }
  size_t open_connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return open_;
  }
  std::vector<RecordedRequest> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  bool WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= n; });
  }
  bool WaitForNoOpenConnections(std::chrono::milliseconds timeout) const {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return open_ == 0; });
  }

 private:
  // Counts a connection open for the lifetime of its session; closes it before counting it out.
  class OpenConnection {
   public:
    OpenConnection(Impl* impl, tcp::socket& socket) : impl_(impl), socket_(socket) {}
    ~OpenConnection() {
      boost::system::error_code ignored;
      socket_.close(ignored);
      std::lock_guard<std::mutex> lock(impl_->mu_);
      --impl_->open_;
      impl_->cv_.notify_all();
    }

   private:
    Impl* impl_;
    tcp::socket& socket_;
  };

  static asio::awaitable<void> Accept(Impl* self) {
    for (;;) {
      tcp::socket socket(self->io_);
      try {
        socket = co_await self->acceptor_.async_accept(asio::use_awaitable);
      } catch (const std::exception&) {
        co_return;
      }
      {
        std::lock_guard<std::mutex> lock(self->mu_);
        ++self->accepted_;
        ++self->open_;
      }
      self->cv_.notify_all();
      asio::co_spawn(self->io_, Session(self, std::move(socket)), asio::detached);
    }
  }

  static asio::awaitable<void> Sleep(long ms) {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(ms));
    co_await timer.async_wait(asio::use_awaitable);
  }

  static asio::awaitable<void> Write(tcp::socket& socket, std::string data) {
    co_await asio::async_write(socket, asio::buffer(data), asio::use_awaitable);
  }

  // Reads and discards until the peer closes (or the socket fails).
  static asio::awaitable<void> DrainUntilClosed(tcp::socket& socket) {
    char buf[4096];
    for (;;) co_await socket.async_read_some(asio::buffer(buf), asio::use_awaitable);
  }

  static asio::awaitable<void> Session(Impl* self, tcp::socket socket) {
    OpenConnection counted(self, socket);
    try {
      if (self->mode_ == Mode::kSilent) {
        co_await DrainUntilClosed(socket);
        co_return;
      }
      std::string buf;
      char tmp[8192];
      for (;;) {
        size_t head_end;
        while ((head_end = buf.find("\r\n\r\n")) == std::string::npos) {
          size_t n = co_await socket.async_read_some(asio::buffer(tmp), asio::use_awaitable);
          buf.append(tmp, n);
        }
        RecordedRequest req;
        std::string_view head(buf.data(), head_end);
        size_t line_end = head.find("\r\n");
        std::string_view request_line = head.substr(0, line_end);
        size_t sp1 = request_line.find(' ');
        size_t sp2 = request_line.rfind(' ');
        req.method = std::string(request_line.substr(0, sp1));
        req.target = std::string(request_line.substr(sp1 + 1, sp2 - sp1 - 1));
        size_t content_length = 0;
        if (line_end != std::string_view::npos) {
          std::string_view rest = head.substr(line_end + 2);
          while (!rest.empty()) {
            size_t e = rest.find("\r\n");
            std::string_view line = rest.substr(0, e);
            size_t colon = line.find(':');
            if (colon != std::string_view::npos) {
              std::string_view value = line.substr(colon + 1);
              while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
              req.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
            }
            if (e == std::string_view::npos) break;
            rest.remove_prefix(e + 2);
          }
        }
        std::string cl = req.Header("content-length");
        if (!cl.empty()) content_length = std::strtoul(cl.c_str(), nullptr, 10);
        buf.erase(0, head_end + 4);
        while (buf.size() < content_length) {
          size_t n = co_await socket.async_read_some(asio::buffer(tmp), asio::use_awaitable);
          buf.append(tmp, n);
        }
        req.body = buf.substr(0, content_length);
        buf.erase(0, content_length);
        {
          std::lock_guard<std::mutex> lock(self->mu_);
          self->requests_.push_back(req);
        }
        self->cv_.notify_all();
        bool keep_alive = co_await Respond(socket, req);
        if (!keep_alive) co_return;
      }
    } catch (const std::exception&) {
    }
  }

  // Answers one request; returns whether the connection stays open for the next one.
  static asio::awaitable<bool> Respond(tcp::socket& socket, RecordedRequest req) {
    std::string_view target = req.target;
    if (target.starts_with("http://") || target.starts_with("https://")) {
      size_t slash = target.find('/', target.find("//") + 2);
      target = slash == std::string_view::npos ? "/" : target.substr(slash);
    }
    std::string_view path = target.substr(0, target.find('?'));
    std::string_view query;
    if (size_t q = target.find('?'); q != std::string_view::npos) query = target.substr(q + 1);

    if (path == "/echo") {
      std::string body = req.method + " " + req.target + "\n" + req.body;
      co_await Write(socket,
                     "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                     "X-Test-Header: MixedCase\r\nContent-Length: " +
                         std::to_string(body.size()) + "\r\n\r\n" + body);
      co_return true;
    }
    if (path.starts_with("/status/")) {
      std::string code(path.substr(8));
      std::string body = "status " + code;
      co_await Write(socket, "HTTP/1.1 " + code +
                                 " Whatever\r\nRetry-After: 3\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body);
      co_return true;
    }
    if (path == "/chunks") {
      long n = QueryInt(query, "n", 3);
      long size = QueryInt(query, "size", 10);
      long delay = QueryInt(query, "delay", 0);
      co_await Write(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      for (long i = 0; n == 0 || i < n; ++i) {
        if (delay > 0) co_await Sleep(delay);
        co_await Write(socket, Chunk(std::string(size, static_cast<char>('a' + i % 26))));
      }
      co_await Write(socket, "0\r\n\r\n");
      co_return true;
    }
    if (path == "/big") {
      long size = QueryInt(query, "size", 1000);
      co_await Write(socket, "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(size) +
                                 "\r\n\r\n" + std::string(size, 'b'));
      co_return true;
    }
    if (path == "/gzip") {
      std::string text;
      for (int i = 0; i < 100; ++i) text += "hello gzip ";
      std::string body = Gzip(text);
      co_await Write(socket, "HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: " +
                                 std::to_string(body.size()) + "\r\n\r\n" + body);
      co_return true;
    }
    if (path == "/redirect") {
      co_await Write(socket,
                     "HTTP/1.1 302 Found\r\nLocation: /echo\r\nContent-Length: 5\r\n\r\nmoved");
      co_return true;
    }
    if (path == "/stall-headers") {
      co_await Write(socket, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
      co_await DrainUntilClosed(socket);
      co_return false;
    }
    if (path == "/stall-body") {
      co_await Write(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
      co_await DrainUntilClosed(socket);
      co_return false;
    }
    if (path == "/close-mid") {
      co_await Write(socket, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
      co_return false;
    }
    if (path == "/close-chunked") {
      co_await Write(socket,
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunk("hello"));
      co_return false;
    }
    if (path == "/never") {
      co_await DrainUntilClosed(socket);
      co_return false;
    }
    co_await Write(socket, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    co_return true;
  }

  // Declared before io_ so that sessions destroyed with io_ can still count themselves out.
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  size_t accepted_ = 0;
  size_t open_ = 0;
  std::vector<RecordedRequest> requests_;

  Mode mode_;
  uint16_t port_ = 0;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  std::thread thread_;
};

TestServer::TestServer(Mode mode) : impl_(std::make_unique<Impl>(mode)) {}
TestServer::~TestServer() = default;
uint16_t TestServer::port() const { return impl_->port(); }
std::string TestServer::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
}
size_t TestServer::accepted() const { return impl_->accepted(); }
size_t TestServer::open_connections() const { return impl_->open_connections(); }
std::vector<RecordedRequest> TestServer::requests() const { return impl_->requests(); }
bool TestServer::WaitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  return impl_->WaitForRequests(n, timeout);
}
bool TestServer::WaitForNoOpenConnections(std::chrono::milliseconds timeout) const {
  return impl_->WaitForNoOpenConnections(timeout);
}

}  // namespace baton::http::testing
