#include "test_client.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace baton::simserver::testing {
namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

int ConnectTo(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads more bytes into `buffer`; false on timeout (sets timed_out) or close (sets closed).
bool ReadMore(int fd, std::string& buffer, int timeout_ms, Response& r) {
  pollfd p{fd, POLLIN, 0};
  int ready = ::poll(&p, 1, timeout_ms);
  if (ready <= 0) {
    r.timed_out = true;
    return false;
  }
  char chunk[16384];
  ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
  if (n <= 0) {
    r.closed = true;
    return false;
  }
  buffer.append(chunk, static_cast<size_t>(n));
  r.raw.append(chunk, static_cast<size_t>(n));
  return true;
}

// Decodes as much of a chunked body as `data` holds; true when the last chunk was seen.
bool Dechunk(std::string_view data, std::string& out, size_t& consumed) {
  size_t pos = 0;
  out.clear();
  while (true) {
    size_t eol = data.find("\r\n", pos);
    if (eol == std::string_view::npos) break;
    size_t size = std::strtoul(std::string(data.substr(pos, eol - pos)).c_str(), nullptr, 16);
    size_t start = eol + 2;
    if (size == 0) {
      if (data.size() >= start + 2) {
        consumed = start + 2;
        return true;
      }
      break;
    }
    if (data.size() < start + size) {
      out.append(data.substr(start, data.size() - start));
      break;
    }
    out.append(data.substr(start, size));
    pos = start + size + 2;
    if (pos > data.size()) break;
  }
  consumed = data.size();
  return false;
}

Response ReadResponse(int fd, std::string& buffer, int timeout_ms, bool head_only) {
  Response r;
  size_t header_end;
  while ((header_end = buffer.find("\r\n\r\n")) == std::string::npos) {
    if (!ReadMore(fd, buffer, timeout_ms, r)) return r;
  }
  std::string_view head(buffer.data(), header_end);
  size_t line_end = head.find("\r\n");
  std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() >= 12) r.status = std::atoi(std::string(status_line.substr(9, 3)).c_str());
  std::string_view rest = line_end == std::string_view::npos ? "" : head.substr(line_end + 2);
  while (!rest.empty()) {
    size_t e = rest.find("\r\n");
    std::string_view line = rest.substr(0, e);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      r.headers.emplace_back(Lower(line.substr(0, colon)), std::string(value));
    }
    if (e == std::string_view::npos) break;
    rest.remove_prefix(e + 2);
  }
  buffer.erase(0, header_end + 4);
  if (head_only) return r;
  if (r.status == 100) return ReadResponse(fd, buffer, timeout_ms, head_only);
  bool chunked = Lower(r.header("transfer-encoding")).find("chunked") != std::string::npos;
  std::string cl = r.header("content-length");
  if (chunked) {
    while (true) {
      size_t consumed = 0;
      if (Dechunk(buffer, r.body, consumed)) {
        r.complete = true;
        buffer.erase(0, consumed);
        return r;
      }
      if (!ReadMore(fd, buffer, timeout_ms, r)) return r;
    }
  }
  if (!cl.empty()) {
    size_t length = std::strtoull(cl.c_str(), nullptr, 10);
    while (buffer.size() < length) {
      if (!ReadMore(fd, buffer, timeout_ms, r)) break;
    }
    r.body = buffer.substr(0, std::min(length, buffer.size()));
    r.complete = buffer.size() >= length;
    buffer.erase(0, r.body.size());
    return r;
  }
  while (ReadMore(fd, buffer, timeout_ms, r)) {
  }
  r.body = buffer;
  r.complete = r.closed;
  buffer.clear();
  return r;
}

}  // namespace

std::string Response::header(std::string_view name) const {
  std::string lower = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == lower) return v;
  }
  return "";
}

json::value ParseOrFail(std::string_view text) {
  auto parsed = ParseJson(text);
  if (!parsed.ok()) {
    ADD_FAILURE() << "not JSON: " << parsed.error().message() << "\n" << text;
    return nullptr;
  }
  return std::move(parsed).value();
}

json::value Response::Json() const { return ParseOrFail(body); }

std::string Serialize(const Request& request) {
  std::string out = request.method + " " + request.target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!request.keep_alive) out += "Connection: close\r\n";
  bool has_length = false;
  for (const auto& [k, v] : request.headers) {
    out += k + ": " + v + "\r\n";
    if (Lower(k) == "content-length") has_length = true;
  }
  if (!has_length && (!request.body.empty() || request.method == "POST")) {
    out += "Content-Length: " + std::to_string(request.body.size()) + "\r\n";
  }
  out += "\r\n";
  out += request.body;
  return out;
}

Response Fetch(uint16_t port, const Request& request) {
  Connection c(port);
  if (!c.ok()) {
    ADD_FAILURE() << "cannot connect to port " << port;
    return {};
  }
  c.Send(Serialize(request));
  return c.Read(request.read_timeout_ms);
}

Response PostJson(uint16_t port, std::string target, const json::value& body,
                  std::vector<Header> headers) {
  Request r;
  r.target = std::move(target);
  r.headers = std::move(headers);
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = ToJson(body);
  return Fetch(port, r);
}

Response Get(uint16_t port, std::string target, std::vector<Header> headers) {
  Request r;
  r.method = "GET";
  r.target = std::move(target);
  r.headers = std::move(headers);
  return Fetch(port, r);
}

Connection::Connection(uint16_t port) : fd_(ConnectTo(port)) {}
Connection::~Connection() { Close(); }
void Connection::Send(std::string_view bytes) { SendAll(fd_, bytes); }
Response Connection::Read(int read_timeout_ms, bool head_only) {
  return ReadResponse(fd_, buffer_, read_timeout_ms, head_only);
}
void Connection::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::vector<SseEvent> ParseSse(std::string_view body) {
  std::string text;
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\r') {
      text.push_back('\n');
      if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
    } else {
      text.push_back(body[i]);
    }
  }
  std::vector<SseEvent> events;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find("\n\n", pos);
    if (end == std::string::npos) break;  // an incomplete event is not an event
    std::string_view block(text.data() + pos, end - pos);
    SseEvent e;
    bool any = false;
    while (!block.empty()) {
      size_t nl = block.find('\n');
      std::string_view line = block.substr(0, nl);
      if (line.substr(0, 6) == "event:") {
        e.event = std::string(line.substr(line.size() > 6 && line[6] == ' ' ? 7 : 6));
        any = true;
      } else if (line.substr(0, 5) == "data:") {
        if (!e.data.empty()) e.data += "\n";
        e.data += std::string(line.substr(line.size() > 5 && line[5] == ' ' ? 6 : 5));
        any = true;
      }
      if (nl == std::string_view::npos) break;
      block.remove_prefix(nl + 1);
    }
    if (any) events.push_back(std::move(e));
    pos = end + 2;
  }
  return events;
}

}  // namespace baton::simserver::testing
