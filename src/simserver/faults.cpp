#include "simserver/faults.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <charconv>
#include <utility>

#include "base/duration.hpp"
#include "base/hash.hpp"

namespace baton::simserver {
namespace {

using Options = std::vector<std::pair<std::string, std::string>>;

Status Bad(std::string_view what) { return InvalidArgument(fmt::format("fault: {}", what)); }

constexpr std::array<std::string_view, 11> kErrorWords = {
    "rate_limited", "quota_exhausted", "overloaded",     "server_error",
    "timeout",      "invalid_request", "context_length", "auth",
    "permission",   "not_found",       "too_large"};

bool IsErrorWord(std::string_view w) {
  return std::find(kErrorWords.begin(), kErrorWords.end(), w) != kErrorWords.end();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<int64_t> Integer(std::string_view text, std::string_view what) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || v < 0) {
    return Bad(fmt::format("{} must be a non-negative integer, got '{}'", what, text));
  }
  return v;
}

Result<Millis> Duration(std::string_view text, std::string_view what) {
  auto d = ParseDuration(text);
  if (!d.ok()) return Bad(fmt::format("{}: {}", what, d.error().message()));
  return *d;
}

std::string Normalize(std::string_view kind) {
  std::string out(kind);
  std::replace(out.begin(), out.end(), '_', '-');
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Status StatusValue(std::string_view value, Fault& f) {
  if (value.empty()) return Bad("status needs a code or an error word, e.g. status:429");
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    BATON_ASSIGN_OR_RETURN(int64_t code, Integer(value, "status"));
    if (code < 400 || code > 599) return Bad(fmt::format("status must be 400..599, got {}", code));
    f.status = static_cast<int>(code);
    return Status::Ok();
  }
  if (!IsErrorWord(value)) {
    std::string words;
    for (auto w : kErrorWords) words += (words.empty() ? "" : ", ") + std::string(w);
    return Bad(
        fmt::format("unknown error '{}' (expected a status code or one of {})", value, words));
  }
  f.error = std::string(value);
  return Status::Ok();
}

Result<Fault> Build(std::string_view kind_text, std::optional<std::string> value,
                    const Options& options) {
  Fault f;
  std::string kind = Normalize(kind_text);
  auto need_value = [&](std::string_view what) -> Status {
    if (!value || value->empty())
      return Bad(fmt::format("{} needs a value ({}:{})", kind, kind, what));
    return Status::Ok();
  };
  if (kind == "status" || kind == "outage") {
    f.kind = Fault::Kind::kStatus;
    f.outage = kind == "outage";
    BATON_RETURN_IF_ERROR(StatusValue(value.value_or(""), f));
  } else if (kind == "stall-headers" || kind == "stall") {
    f.kind = Fault::Kind::kStallHeaders;
  } else if (kind == "stall-bytes") {
    f.kind = Fault::Kind::kStallBytes;
    BATON_RETURN_IF_ERROR(need_value("N"));
    BATON_ASSIGN_OR_RETURN(f.n, Integer(*value, "stall-bytes"));
  } else if (kind == "stall-events") {
    f.kind = Fault::Kind::kStallEvents;
    f.n = 1;
    if (value) {
      BATON_ASSIGN_OR_RETURN(f.n, Integer(*value, "stall-events"));
    }
  } else if (kind == "truncate") {
    f.kind = Fault::Kind::kTruncate;
    if (value) {
      BATON_ASSIGN_OR_RETURN(f.n, Integer(*value, "truncate"));
    }
  } else if (kind == "malformed") {
    f.kind = Fault::Kind::kMalformed;
    f.n = 1;
    if (value) {
      BATON_ASSIGN_OR_RETURN(f.n, Integer(*value, "malformed"));
    }
    if (f.n < 1) return Bad("malformed:N counts content events from 1");
  } else if (kind == "drip") {
    f.kind = Fault::Kind::kDrip;
    BATON_RETURN_IF_ERROR(need_value("DURATION"));
    BATON_ASSIGN_OR_RETURN(f.interval, Duration(*value, "drip"));
  } else if (kind == "disconnect") {
    f.kind = Fault::Kind::kDisconnect;
  } else {
    return Bad(fmt::format(
        "unknown fault '{}' (expected status, outage, stall-headers, stall-bytes, stall-events, "
        "truncate, malformed, drip, disconnect)",
        kind_text));
  }
  if (value && (f.kind == Fault::Kind::kStallHeaders || f.kind == Fault::Kind::kDisconnect)) {
    return Bad(fmt::format("{} takes no value", kind));
  }
  for (const auto& [name, v] : options) {
    if (name == "count") {
      BATON_ASSIGN_OR_RETURN(f.count, Integer(v, "count"));
      if (f.count == 0) return Bad("count must be at least 1");
    } else if (name == "for") {
      BATON_ASSIGN_OR_RETURN(Millis d, Duration(v, "for"));
      f.window = d;
    } else if (name == "protocol") {
      auto p = ParseProtocol(v);
      if (!p) return Bad(fmt::format("protocol must be openai, anthropic or gemini, got '{}'", v));
      f.protocol = *p;
    } else if (name == "model") {
      f.model = v;
    } else if (name == "key") {
      f.key_fp = KeyFingerprint(v);
    } else if (name == "key_fp") {
      f.key_fp = v;
    } else if (name == "retry_after") {
      BATON_ASSIGN_OR_RETURN(Millis d, Duration(v, "retry_after"));
      f.retry_after = d;
    } else if (name == "message") {
      f.message = v;
    } else if (name == "after" && f.kind == Fault::Kind::kStatus) {
      BATON_ASSIGN_OR_RETURN(f.n, Integer(v, "after"));
    } else {
      return Bad(fmt::format(
          "unknown option '{}' for {} (expected count, for, protocol, model, key, key_fp, "
          "retry_after, message{})",
          name, kind, f.kind == Fault::Kind::kStatus ? ", after" : ""));
    }
  }
  if (f.outage && !f.window) f.window = Millis(30'000);
  return f;
}

}  // namespace

std::string KeyFingerprint(std::string_view key) {
  if (key.empty()) return "";
  return Sha256Hex(key).substr(0, 8);
}

Result<Fault> ParseFaultSpec(std::string_view spec) {
  spec = Trim(spec);
  if (spec.empty()) return Bad("empty fault spec");
  std::vector<std::string_view> items;
  while (true) {
    size_t comma = spec.find(',');
    items.push_back(Trim(spec.substr(0, comma)));
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  std::string_view head = items.front();
  std::string_view kind = head;
  std::optional<std::string> value;
  if (!head.empty() && std::isdigit(static_cast<unsigned char>(head.front()))) {
    kind = "status";
    value = std::string(head);
  } else if (size_t colon = head.find(':'); colon != std::string_view::npos) {
    kind = head.substr(0, colon);
    value = std::string(Trim(head.substr(colon + 1)));
  }
  Options options;
  for (size_t i = 1; i < items.size(); ++i) {
    std::string_view item = items[i];
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Bad(fmt::format("expected OPTION=VALUE after the fault kind, got '{}'", item));
    }
    options.emplace_back(std::string(Trim(item.substr(0, eq))),
                         std::string(Trim(item.substr(eq + 1))));
  }
  return Build(kind, std::move(value), options);
}

namespace {

Result<std::string> ScalarText(const json::value& v, std::string_view name) {
  if (const json::string* s = v.if_string()) return std::string(*s);
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  return Bad(fmt::format("'{}' must be a string or an integer", name));
}

Status CollectJson(const json::value& v, std::vector<Fault>& out) {
  if (const json::string* s = v.if_string()) {
    BATON_ASSIGN_OR_RETURN(Fault f, ParseFaultSpec(*s));
    out.push_back(std::move(f));
    return Status::Ok();
  }
  if (const json::array* a = v.if_array()) {
    for (const auto& item : *a) BATON_RETURN_IF_ERROR(CollectJson(item, out));
    return Status::Ok();
  }
  const json::object* o = v.if_object();
  if (o == nullptr) return Bad("expected a spec string, an object or a list");
  if (const json::value* list = o->if_contains("faults")) return CollectJson(*list, out);
  if (const json::value* spec = o->if_contains("spec")) {
    if (!spec->is_string()) return Bad("'spec' must be a string");
    return CollectJson(*spec, out);
  }
  std::string kind;
  std::optional<std::string> value;
  Options options;
  for (const auto& kv : *o) {
    std::string_view name = kv.key();
    if (name == "kind") {
      if (!kv.value().is_string()) return Bad("'kind' must be a string");
      kind = std::string(kv.value().get_string());
    } else if (name == "value" || name == "status") {
      BATON_ASSIGN_OR_RETURN(std::string text, ScalarText(kv.value(), name));
      value = std::move(text);
      if (name == "status" && kind.empty()) kind = "status";
    } else {
      BATON_ASSIGN_OR_RETURN(std::string text, ScalarText(kv.value(), name));
      options.emplace_back(std::string(name), std::move(text));
    }
  }
  if (kind.empty()) return Bad("an object fault needs 'kind' (or 'status', or 'spec')");
  BATON_ASSIGN_OR_RETURN(Fault f, Build(kind, std::move(value), options));
  out.push_back(std::move(f));
  return Status::Ok();
}

}  // namespace

Result<std::vector<Fault>> ParseFaultJson(const json::value& value) {
  std::vector<Fault> out;
  BATON_RETURN_IF_ERROR(CollectJson(value, out));
  if (out.empty()) return Bad("no faults given");
  return out;
}

std::string FormatFault(const Fault& f) {
  std::string s;
  switch (f.kind) {
    case Fault::Kind::kStatus:
      s = fmt::format("{}:{}", f.outage ? "outage" : "status",
                      f.status != 0 ? std::to_string(f.status) : f.error);
      if (f.n >= 0) s += fmt::format(",after={}", f.n);
      break;
    case Fault::Kind::kStallHeaders:
      s = "stall-headers";
      break;
    case Fault::Kind::kStallBytes:
      s = fmt::format("stall-bytes:{}", f.n);
      break;
    case Fault::Kind::kStallEvents:
      s = fmt::format("stall-events:{}", f.n);
      break;
    case Fault::Kind::kTruncate:
      s = f.n >= 0 ? fmt::format("truncate:{}", f.n) : "truncate";
      break;
    case Fault::Kind::kMalformed:
      s = fmt::format("malformed:{}", f.n);
      break;
    case Fault::Kind::kDrip:
      s = fmt::format("drip:{}", FormatDuration(f.interval));
      break;
    case Fault::Kind::kDisconnect:
      s = "disconnect";
      break;
  }
  if (f.count >= 0) s += fmt::format(",count={}", f.count);
  if (f.window) s += fmt::format(",for={}", FormatDuration(*f.window));
  if (f.protocol) s += fmt::format(",protocol={}", ProtocolName(*f.protocol));
  if (!f.model.empty()) s += fmt::format(",model={}", f.model);
  if (!f.key_fp.empty()) s += fmt::format(",key_fp={}", f.key_fp);
  if (f.retry_after) s += fmt::format(",retry_after={}", FormatDuration(*f.retry_after));
  if (!f.message.empty()) s += fmt::format(",message={}", f.message);
  return s;
}

json::value FaultToJson(const Fault& f) {
  json::object o;
  o["id"] = f.id;
  o["spec"] = FormatFault(f);
  o["remaining"] = f.count >= 0 ? json::value(f.count) : json::value(nullptr);
  o["until_ms"] = f.until_ms > 0 ? json::value(f.until_ms) : json::value(nullptr);
  return o;
}

std::vector<Fault> FaultSet::Add(std::vector<Fault> faults) {
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  for (auto& f : faults) {
    f.id = next_id_++;
    f.until_ms = f.window ? now + f.window->count() : 0;
    faults_.push_back(f);
  }
  return faults;
}

size_t FaultSet::Clear() {
  std::lock_guard lock(mu_);
  size_t n = faults_.size();
  faults_.clear();
  return n;
}

bool FaultSet::Remove(int64_t id) {
  std::lock_guard lock(mu_);
  auto it =
      std::find_if(faults_.begin(), faults_.end(), [&](const Fault& f) { return f.id == id; });
  if (it == faults_.end()) return false;
  faults_.erase(it);
  return true;
}

void FaultSet::DropExpired(int64_t now) {
  std::erase_if(faults_, [&](const Fault& f) {
    return f.count == 0 || (f.until_ms > 0 && now >= f.until_ms);
  });
}

std::vector<Fault> FaultSet::List() {
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  DropExpired(now);
  return faults_;
}

std::optional<Fault> FaultSet::Take(Protocol protocol, std::string_view model,
                                    std::string_view key_fp) {
  int64_t now = clock_.NowMillis();
  std::lock_guard lock(mu_);
  DropExpired(now);
  for (auto& f : faults_) {
    if (f.protocol && *f.protocol != protocol) continue;
    if (!f.model.empty() && f.model != model) continue;
    if (!f.key_fp.empty() && f.key_fp != key_fp) continue;
    Fault taken = f;
    if (f.count > 0) --f.count;
    DropExpired(now);
    return taken;
  }
  return std::nullopt;
}

}  // namespace baton::simserver
