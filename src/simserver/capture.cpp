#include "simserver/capture.hpp"

#include <boost/json.hpp>
#include <string_view>

namespace baton::simserver {
namespace {

constexpr std::string_view kRedacted = "<redacted>";

bool IsSecretHeader(std::string_view name) {
  return name == "authorization" || name == "x-api-key" || name == "x-goog-api-key" ||
         name == "proxy-authorization" || name == "cookie";
}

std::string RedactHeader(std::string_view name, std::string_view value) {
  if (!IsSecretHeader(name)) return std::string(value);
  if (name == "authorization" || name == "proxy-authorization") {
    size_t space = value.find(' ');
    if (space != std::string_view::npos && space > 0) {
      return std::string(value.substr(0, space + 1)) + std::string(kRedacted);
    }
  }
  return std::string(kRedacted);
}

// `target` with the value of every `key` query parameter replaced.
std::string RedactTarget(std::string_view target) {
  size_t q = target.find('?');
  if (q == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, q + 1));
  std::string_view query = target.substr(q + 1);
  bool first = true;
  while (true) {
    size_t amp = query.find('&');
    std::string_view param = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    if (param.substr(0, 4) == "key=") {
      out += "key=";
      out += kRedacted;
    } else {
      out += param;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

}  // namespace

int64_t RequestCapture::Add(const http::ServerRequest& request, std::string key_fp) {
  CapturedRequest c;
  c.method = request.method;
  c.target = RedactTarget(request.target);
  c.headers.reserve(request.headers.size());
  for (const auto& [name, value] : request.headers) {
    c.headers.emplace_back(name, RedactHeader(name, value));
  }
  c.body_truncated = request.body.size() > kMaxBodyBytes;
  c.body = request.body.substr(0, kMaxBodyBytes);
  c.key_fp = std::move(key_fp);
  std::lock_guard lock(mu_);
  c.seq = next_seq_++;
  requests_.push_back(std::move(c));
  if (requests_.size() > kCapacity) requests_.pop_front();
  return requests_.back().seq;
}

std::vector<CapturedRequest> RequestCapture::Since(int64_t since) const {
  std::lock_guard lock(mu_);
  std::vector<CapturedRequest> out;
  for (const auto& c : requests_) {
    if (c.seq > since) out.push_back(c);
  }
  return out;
}

json::value RequestCapture::ToJson(int64_t since) const {
  std::vector<CapturedRequest> list = Since(since);
  json::array requests;
  for (const auto& c : list) {
    json::object headers;
    for (const auto& [name, value] : c.headers) {
      if (json::value* seen = headers.if_contains(name)) {
        std::string joined(seen->get_string());
        joined += ", " + value;
        *seen = joined;
      } else {
        headers[name] = value;
      }
    }
    json::object o;
    o["seq"] = c.seq;
    o["method"] = c.method;
    o["target"] = c.target;
    o["path"] = c.target.substr(0, c.target.find('?'));
    o["headers"] = std::move(headers);
    o["key_fp"] = c.key_fp.empty() ? json::value(nullptr) : json::value(c.key_fp);
    json::value body = json::string(c.body);
    if (!c.body_truncated && !c.body.empty()) {
      auto parsed = ParseJson(c.body);
      if (parsed.ok()) body = std::move(parsed).value();
    }
    o["body"] = std::move(body);
    o["body_truncated"] = c.body_truncated;
    requests.push_back(std::move(o));
  }
  std::lock_guard lock(mu_);
  return json::object{{"requests", std::move(requests)}, {"last_seq", next_seq_ - 1}};
}

void RequestCapture::Clear() {
  std::lock_guard lock(mu_);
  requests_.clear();
}

}  // namespace baton::simserver
