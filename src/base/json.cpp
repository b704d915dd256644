#include "base/json.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <vector>

namespace baton {

Result<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 512;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return InvalidArgument(fmt::format("invalid JSON: {}", ec.message()));
  return v;
}

std::string ToJson(const json::value& v) { return json::serialize(v); }

namespace {

void Canonical(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      const auto& obj = v.get_object();
      std::vector<const json::key_value_pair*> kvs;
      kvs.reserve(obj.size());
      for (const auto& kv : obj) kvs.push_back(&kv);
      std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
      out.push_back('{');
      bool first = true;
      for (auto* kv : kvs) {
        if (!first) out.push_back(',');
        first = false;
        out += json::serialize(json::string(kv->key()));
        out.push_back(':');
        Canonical(kv->value(), out);
      }
      out.push_back('}');
      return;
    }
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        Canonical(e, out);
      }
      out.push_back(']');
      return;
    }
    default:
      out += json::serialize(v);
  }
}

void Pretty(const json::value& v, std::string& out, int indent) {
  auto pad = [&](int n) { out.append(static_cast<size_t>(n) * 2, ' '); };
  switch (v.kind()) {
    case json::kind::object: {
      const auto& obj = v.get_object();
      if (obj.empty()) {
        out += "{}";
        return;
      }
      out += "{\n";
      bool first = true;
      for (const auto& kv : obj) {
        if (!first) out += ",\n";
        first = false;
        pad(indent + 1);
        out += json::serialize(json::string(kv.key()));
        out += ": ";
        Pretty(kv.value(), out, indent + 1);
      }
      out += "\n";
      pad(indent);
      out += "}";
      return;
    }
    case json::kind::array: {
      const auto& arr = v.get_array();
      if (arr.empty()) {
        out += "[]";
        return;
      }
      out += "[\n";
      bool first = true;
      for (const auto& e : arr) {
        if (!first) out += ",\n";
        first = false;
        pad(indent + 1);
        Pretty(e, out, indent + 1);
      }
      out += "\n";
      pad(indent);
      out += "]";
      return;
    }
    case json::kind::double_: {
      // Shortest round-trip form ("0.28", not "2.8E-1"), still visibly a double ("2.0").
      std::string d = fmt::format("{}", v.get_double());
      if (d.find_first_of(".eEn") == std::string::npos) d += ".0";
      out += d;
      return;
    }
    default:
      out += json::serialize(v);
  }
}

}  // namespace

std::string CanonicalJson(const json::value& v) {
  std::string out;
  Canonical(v, out);
  return out;
}

std::string PrettyJson(const json::value& v) {
  std::string out;
  Pretty(v, out, 0);
  return out;
}

std::string EscapePointerToken(std::string_view token) {
  std::string out;
  out.reserve(token.size());
  for (char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string_view JsonTypeName(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "unknown";
}

}  // namespace baton
