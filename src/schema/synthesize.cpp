#include "schema/synthesize.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "base/hash.hpp"
#include "base/text.hpp"

namespace baton::schema {
namespace {

constexpr int kFullDepth = 8;  // below this, only required properties and minItems elements
constexpr int kMaxDepth = 48;  // hard stop for pathological recursive schemas
constexpr size_t kDefaultItems = 3;

// Where a value sits: the property name (singular for array elements) and 1-based index.
struct Slot {
  std::string name;
  size_t index = 0;
};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

std::string Singular(std::string_view name) {
  std::string s(name);
  auto ends = [&](std::string_view suffix) {
    return s.size() > suffix.size() + 1 &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  if (ends("ies")) return s.substr(0, s.size() - 3) + "y";
  if (ends("sses") || ends("xes") || ends("ches") || ends("shes")) return s.substr(0, s.size() - 2);
  if (ends("s") && !ends("ss") && !ends("us") && !ends("is")) return s.substr(0, s.size() - 1);
  return s;
}

// "key_points" -> "Key point"; "findingText" -> "Finding text".
std::string Humanize(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c == '_' || c == '-' || c == '.') {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
      continue;
    }
    if (std::isupper(static_cast<unsigned char>(c)) && !out.empty() && out.back() != ' ') {
      out.push_back(' ');
    }
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string Capitalize(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
  return s;
}

std::string Slug(std::string_view text) {
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c)) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "item" : out;
}



std::optional<double> Number(const json::object& s, std::string_view key) {
  const json::value* v = s.if_contains(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::optional<size_t> Count(const json::object& s, std::string_view key) {
  std::optional<double> d = Number(s, key);
  if (!d || *d < 0) return std::nullopt;
  return static_cast<size_t>(std::min(*d, 1e6));
}

// Decodes one JSON pointer token (RFC 6901, with %XX from the URI fragment).
std::string PointerToken(std::string_view raw) {
  std::string pct;
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '%' && i + 2 < raw.size() &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(raw[i + 2]))) {
      pct.push_back(static_cast<char>(std::stoi(std::string(raw.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      pct.push_back(raw[i]);
    }
  }
  std::string out;
  for (size_t i = 0; i < pct.size(); ++i) {
    if (pct[i] == '~' && i + 1 < pct.size() && (pct[i + 1] == '0' || pct[i + 1] == '1')) {
      out.push_back(pct[i + 1] == '0' ? '~' : '/');
      ++i;
    } else {
      out.push_back(pct[i]);
    }
  }
  return out;
}

const json::value* ResolvePointer(const json::value& root, std::string_view ref) {
  if (ref.empty() || ref[0] != '#') return nullptr;
  std::string_view pointer = ref.substr(1);
  const json::value* cur = &root;
  if (pointer.empty()) return cur;
  if (pointer[0] != '/') return nullptr;  // $anchor references are not followed
  pointer.remove_prefix(1);
  while (true) {
    size_t slash = pointer.find('/');
    std::string token = PointerToken(pointer.substr(0, slash));
    if (const json::object* obj = cur->if_object()) {
      cur = obj->if_contains(token);
    } else if (const json::array* arr = cur->if_array()) {
      char* end = nullptr;
      unsigned long idx = std::strtoul(token.c_str(), &end, 10);
      cur = (!token.empty() && *end == '\0' && idx < arr->size()) ? &(*arr)[idx] : nullptr;
    } else {
      cur = nullptr;
    }
    if (cur == nullptr || slash == std::string_view::npos) return cur;
    pointer.remove_prefix(slash + 1);
  }
}

std::vector<std::string> Types(const json::value* type) {
  std::vector<std::string> out;
  if (type == nullptr) return out;
  if (type->is_string()) out.emplace_back(type->get_string());
  if (const json::array* arr = type->if_array()) {
    for (const auto& t : *arr) {
      if (t.is_string()) out.emplace_back(t.get_string());
    }
  }
  return out;
}

bool IsNullOnly(const json::value& schema) {
  const json::object* obj = schema.if_object();
  if (obj == nullptr) return false;
  std::vector<std::string> types = Types(obj->if_contains("type"));
  return types.size() == 1 && types[0] == "null";
}

// Adds `add` into `base` as allOf would: properties and required are combined, bounds
// tightened, types intersected; for other keywords `base` wins.
void Merge(json::object& base, const json::object& add) {
  static constexpr std::array<std::string_view, 5> kLower = {
      "minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"};
  static constexpr std::array<std::string_view, 5> kUpper = {
      "maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"};
  for (const auto& kv : add) {
    std::string_view key = kv.key();
    json::value* mine = base.if_contains(key);
    if (mine == nullptr) {
      base[key] = kv.value();
      continue;
    }
    bool lower = std::find(kLower.begin(), kLower.end(), key) != kLower.end();
    bool upper = std::find(kUpper.begin(), kUpper.end(), key) != kUpper.end();
    if ((lower || upper) && mine->is_number() && kv.value().is_number()) {
      double a = mine->to_number<double>(), b = kv.value().to_number<double>();
      if (lower ? b > a : b < a) *mine = kv.value();
    } else if (key == "properties" && mine->is_object() && kv.value().is_object()) {
      json::object& props = mine->get_object();
      for (const auto& p : kv.value().get_object()) {
        if (json::value* existing = props.if_contains(p.key())) {
          *existing = json::object{{"allOf", json::array{*existing, p.value()}}};
        } else {
          props[p.key()] = p.value();
        }
      }
    } else if (key == "required" && mine->is_array() && kv.value().is_array()) {
      json::array& req = mine->get_array();
      for (const auto& r : kv.value().get_array()) {
        if (std::find(req.begin(), req.end(), r) == req.end()) req.push_back(r);
      }
    } else if ((key == "items" || key == "additionalProperties") && !(*mine == kv.value())) {
      *mine = json::object{{"allOf", json::array{*mine, kv.value()}}};
    } else if (key == "type") {
      std::vector<std::string> a = Types(mine), b = Types(&kv.value());
      json::array both;
      for (const auto& t : a) {
        bool in_b = std::find(b.begin(), b.end(), t) != b.end();
        bool narrowed = t == "number" && std::find(b.begin(), b.end(), "integer") != b.end();
        if (in_b)
          both.emplace_back(t);
        else if (narrowed)
          both.emplace_back("integer");
        else if (t == "integer" && std::find(b.begin(), b.end(), "number") != b.end()) {
          both.emplace_back("integer");
        }
      }
      if (!both.empty()) *mine = std::move(both);
    } else if (key == "enum" && mine->is_array() && kv.value().is_array()) {
      json::array common;
      for (const auto& e : mine->get_array()) {
        const json::array& other = kv.value().get_array();
        if (std::find(other.begin(), other.end(), e) != other.end()) common.push_back(e);
      }
      if (!common.empty()) *mine = std::move(common);
    }
  }
}

class Synthesizer {
 public:
  Synthesizer(const json::value& root, uint64_t seed, std::string_view hint)
      : root_(root), state_(seed), hint_(hint.empty() ? "the topic" : std::string(hint)) {}

  json::value Generate(const json::value& schema, const Slot& slot, int depth) {
    if (schema.is_bool() && !schema.get_bool()) return nullptr;
    if (depth > kMaxDepth) return nullptr;
    json::object s = Flatten(schema, 0, depth >= kFullDepth);
    if (const json::value* c = s.if_contains("const")) return *c;
    if (const json::value* e = s.if_contains("enum")) {
      if (e->is_array() && !e->get_array().empty()) {
        const json::array& values = e->get_array();
        return values[Next() % values.size()];
      }
    }
    std::string type = TypeOf(s);
    if (type == "object") return Object(s, depth);
    if (type == "array") return Array(s, slot, depth);
    if (type == "integer") return Integer(s);
    if (type == "number") return NumberValue(s, slot);
    if (type == "boolean") return Boolean(slot);
    if (type == "null") return nullptr;
    return String(s, slot);
  }

 private:
  uint64_t Next() { return SplitMix64(state_); }
  double Unit() { return UnitInterval(state_); }

  // The schema with $ref, allOf and one anyOf/oneOf branch folded in: the first branch that is
  // not {"type": "null"}, or below the full depth the first that is (so recursion ends).
  json::object Flatten(const json::value& schema, int ref_depth, bool prefer_null) {
    if (schema.is_bool()) return {};
    const json::object* obj = schema.if_object();
    if (obj == nullptr) return {};
    json::object out = *obj;
    out.erase("$ref");
    out.erase("allOf");
    out.erase("anyOf");
    out.erase("oneOf");
    if (ref_depth > kMaxDepth) return out;
    if (const json::value* ref = obj->if_contains("$ref"); ref && ref->is_string()) {
      if (const json::value* target = ResolvePointer(root_, ref->get_string())) {
        Merge(out, Flatten(*target, ref_depth + 1, prefer_null));
      }
    }
    if (const json::value* all = obj->if_contains("allOf"); all && all->is_array()) {
      for (const auto& sub : all->get_array()) Merge(out, Flatten(sub, ref_depth + 1, prefer_null));
    }
    for (std::string_view key : {"anyOf", "oneOf"}) {
      const json::value* branches = obj->if_contains(key);
      if (branches == nullptr || !branches->is_array() || branches->get_array().empty()) continue;
      const json::array& arr = branches->get_array();
      const json::value* pick = &arr[0];
      for (const auto& b : arr) {
        if (IsNullOnly(b) == prefer_null) {
          pick = &b;
          break;
        }
      }
      Merge(out, Flatten(*pick, ref_depth + 1, prefer_null));
    }
    return out;
  }

  static std::string TypeOf(const json::object& s) {
    std::vector<std::string> types = Types(s.if_contains("type"));
    for (const auto& t : types) {
      if (t != "null") return t;
    }
    if (!types.empty()) return "null";
    for (std::string_view k :
         {"properties", "required", "additionalProperties", "minProperties", "maxProperties"}) {
      if (s.contains(k)) return "object";
    }
    for (std::string_view k : {"items", "prefixItems", "minItems", "maxItems", "uniqueItems"}) {
      if (s.contains(k)) return "array";
    }
    for (std::string_view k :
         {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}) {
      if (s.contains(k)) return "number";
    }
    return "string";
  }

  json::value Object(const json::object& s, int depth) {
    json::object out;
    std::vector<std::string> required;
    if (const json::value* r = s.if_contains("required"); r && r->is_array()) {
      for (const auto& k : r->get_array()) {
        if (k.is_string()) required.emplace_back(k.get_string());
      }
    }
    auto is_required = [&](std::string_view k) {
      return std::find(required.begin(), required.end(), k) != required.end();
    };
    const json::value* extra = s.if_contains("additionalProperties");
    json::value extra_schema = (extra && extra->is_object()) ? *extra : json::value(json::object());
    if (const json::value* props = s.if_contains("properties"); props && props->is_object()) {
      for (const auto& kv : props->get_object()) {
        if (depth >= kFullDepth && !is_required(kv.key())) continue;
        out[kv.key()] = Generate(kv.value(), Slot{std::string(kv.key()), 0}, depth + 1);
      }
    }
    for (const auto& k : required) {
      if (!out.contains(k)) out[k] = Generate(extra_schema, Slot{k, 0}, depth + 1);
    }
    bool closed = extra && extra->is_bool() && !extra->get_bool();
    if (std::optional<size_t> min = Count(s, "minProperties"); min && !closed) {
      for (size_t n = 1; out.size() < *min; ++n) {
        std::string key = fmt::format("field_{}", n);
        if (!out.contains(key)) out[key] = Generate(extra_schema, Slot{key, 0}, depth + 1);
      }
    }
    if (std::optional<size_t> max = Count(s, "maxProperties")) {
      std::vector<std::string> optional_keys;
      for (const auto& kv : out) {
        if (!is_required(kv.key())) optional_keys.emplace_back(kv.key());
      }
      while (out.size() > *max && !optional_keys.empty()) {
        out.erase(optional_keys.back());
        optional_keys.pop_back();
      }
    }
    return out;
  }

  json::value Array(const json::object& s, const Slot& slot, int depth) {
    const json::array* prefix = nullptr;
    if (const json::value* p = s.if_contains("prefixItems"); p && p->is_array()) {
      prefix = &p->get_array();
    }
    size_t prefix_size = prefix ? prefix->size() : 0;
    const json::value* items = s.if_contains("items");
    bool closed = items && items->is_bool() && !items->get_bool();
    size_t min = Count(s, "minItems").value_or(0);
    size_t max = Count(s, "maxItems").value_or(std::numeric_limits<size_t>::max());
    size_t count = depth >= kFullDepth ? min : std::clamp(kDefaultItems, min, std::max(min, max));
    if (closed) count = std::min(count, prefix_size);
    bool unique = s.contains("uniqueItems") && s.at("uniqueItems") == json::value(true);
    std::string element_name = Singular(slot.name);
    json::value any = json::object();
    json::array out;
    size_t index = 1;
    for (size_t tries = 0; out.size() < count && tries < 8 * count + 32; ++tries) {
      size_t position = out.size();
      const json::value& sub = position < prefix_size ? (*prefix)[position] : items ? *items : any;
      json::value v = Generate(sub, Slot{element_name, index++}, depth + 1);
      if (unique && std::find(out.begin(), out.end(), v) != out.end()) continue;
      out.push_back(std::move(v));
    }
    return out;
  }

  json::value Integer(const json::object& s) {
    double lo = -1e15, hi = 1e15;
    bool has_lo = false, has_hi = false;
    if (auto v = Number(s, "minimum")) lo = std::ceil(*v), has_lo = true;
    if (auto v = Number(s, "exclusiveMinimum")) {
      lo = std::max(has_lo ? lo : -1e15, std::floor(*v) + 1), has_lo = true;
    }
    if (auto v = Number(s, "maximum")) hi = std::floor(*v), has_hi = true;
    if (auto v = Number(s, "exclusiveMaximum")) {
      hi = std::min(has_hi ? hi : 1e15, std::ceil(*v) - 1), has_hi = true;
    }
    if (!has_lo && !has_hi)
      lo = 1, hi = 100;
    else if (!has_lo)
      lo = hi - 99;
    else if (!has_hi)
      hi = lo + 99;
    if (lo > hi) return static_cast<int64_t>(lo);
    double m = Number(s, "multipleOf").value_or(1);
    if (m > 0 && m != 1) {
      double k_lo = std::ceil(lo / m), k_hi = std::floor(hi / m);
      for (int attempt = 0; attempt < 8 && k_lo <= k_hi; ++attempt) {
        double k = k_lo + std::floor(Unit() * (k_hi - k_lo + 1));
        double v = std::min(k, k_hi) * m;
        if (v == std::floor(v)) return static_cast<int64_t>(v);
      }
      return static_cast<int64_t>(k_lo * m);
    }
    double span = hi - lo + 1;
    return static_cast<int64_t>(lo + std::min(std::floor(Unit() * span), span - 1));
  }

  json::value NumberValue(const json::object& s, const Slot& slot) {
    std::optional<double> min = Number(s, "minimum"), max = Number(s, "maximum");
    std::optional<double> xmin = Number(s, "exclusiveMinimum"),
                          xmax = Number(s, "exclusiveMaximum");
    std::optional<double> m = Number(s, "multipleOf");
    bool unbounded = !min && !max && !xmin && !xmax;
    if (unbounded && !m && Lower(slot.name) == "confidence") {
      return std::round((0.6 + 0.39 * Unit()) * 100) / 100;
    }
    double lo = min.value_or(-1e15), hi = max.value_or(1e15);
    if (xmin && *xmin >= lo) lo = *xmin;
    if (xmax && *xmax <= hi) hi = *xmax;
    bool lo_set = min || xmin, hi_set = max || xmax;
    if (!lo_set && !hi_set)
      lo = 0, hi = 100;
    else if (!lo_set)
      lo = hi - 100;
    else if (!hi_set)
      hi = lo + 100;
    auto inside = [&](double v) {
      return v >= lo && v <= hi && !(xmin && v <= *xmin) && !(xmax && v >= *xmax);
    };
    if (m && *m > 0) {
      double k_lo = std::ceil(lo / *m), k_hi = std::floor(hi / *m);
      for (int attempt = 0; attempt < 16 && k_lo <= k_hi; ++attempt) {
        double k = std::min(k_lo + std::floor(Unit() * (k_hi - k_lo + 1)), k_hi);
        double v = std::stod(fmt::format("{:.12g}", k * *m));
        if (inside(v)) return v;
      }
      return k_lo * *m;
    }
    double v = std::round((lo + (hi - lo) * Unit()) * 100) / 100;
    if (!inside(v)) v = lo + (hi - lo) / 2;
    return v;
  }

  json::value Boolean(const Slot& slot) {
    static constexpr std::array<std::string_view, 16> kSeeded = {
        "approved",  "approve",  "ok",          "passed", "pass",    "accepted",
        "accept",    "done",     "success",     "valid",  "correct", "complete",
        "converged", "finished", "is_approved", "is_done"};
    std::string name = Lower(slot.name);
    if (std::find(kSeeded.begin(), kSeeded.end(), name) != kSeeded.end()) return Unit() < 0.5;
    return true;
  }

  std::string Hex(size_t digits) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    while (out.size() < digits) {
      uint64_t r = Next();
      for (int i = 0; i < 16 && out.size() < digits; ++i, r >>= 4) out.push_back(kHex[r & 15]);
    }
    return out;
  }

  std::optional<std::string> Formatted(std::string_view format, const Slot& slot) {
    auto n = [&](int lo, int hi) { return lo + static_cast<int>(Next() % (hi - lo + 1)); };
    if (format == "date-time") {
      return fmt::format("2025-{:02}-{:02}T{:02}:{:02}:00Z", n(1, 12), n(1, 28), n(0, 23),
                         n(0, 59));
    }
    if (format == "date") return fmt::format("2025-{:02}-{:02}", n(1, 12), n(1, 28));
    if (format == "time") return fmt::format("{:02}:{:02}:00Z", n(0, 23), n(0, 59));
    if (format == "email" || format == "idn-email") {
      return fmt::format("{}{}@example.com", slot.name.empty() ? "user" : Slug(slot.name),
                         slot.index > 0 ? std::to_string(slot.index) : "");
    }
    if (format == "uri" || format == "url" || format == "iri" || format == "uri-reference" ||
        format == "iri-reference") {
      return fmt::format("https://example.com/{}", Slug(hint_)) +
             (slot.index > 0 ? fmt::format("/{}", slot.index) : "");
    }
    if (format == "uuid") {
      std::string h = Hex(32);
      h[12] = '4';
      h[16] = "89ab"[Next() % 4];
      return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                         h.substr(16, 4), h.substr(20, 12));
    }
    if (format == "hostname" || format == "idn-hostname") return std::string("example.com");
    if (format == "ipv4") return fmt::format("192.0.2.{}", n(1, 254));
    if (format == "ipv6") return fmt::format("2001:db8::{:x}", n(1, 0xfffe));
    if (format == "duration") return fmt::format("PT{}M", n(1, 59));
    return std::nullopt;
  }

  std::string Sentence(const Slot& slot) {
    std::string name = Lower(slot.name);
    std::string singular = Singular(name);
    size_t i = slot.index;
    std::string nth = i > 0 ? fmt::format(" {}", i) : "";
    auto any = [&](std::initializer_list<std::string_view> words) {
      return std::any_of(words.begin(), words.end(),
                         [&](std::string_view w) { return Contains(name, w); });
    };
    if (any({"question", "query"})) return fmt::format("Question{} about {}?", nth, hint_);
    if (any({"url", "link", "href", "website"})) return *Formatted("uri", slot);
    if (any({"email"})) return *Formatted("email", slot);
    if (name == "id" || (name.size() > 3 && name.ends_with("_id"))) {
      return fmt::format("{}-{}", name == "id" ? "id" : Slug(name.substr(0, name.size() - 3)),
                         Hex(6));
    }
    if (any({"title", "heading", "headline"})) {
      return i > 0 ? fmt::format("{}: part {}", Capitalize(hint_), i)
                   : fmt::format("{}: an overview", Capitalize(hint_));
    }
    if (name == "name" || name.ends_with("_name")) {
      return fmt::format("{}{}", Capitalize(Slug(hint_)), nth);
    }
    if (any({"tag", "keyword", "label", "category", "topic"})) {
      return i > 0 ? fmt::format("{}-{}", Slug(hint_), i) : Slug(hint_);
    }
    if (any({"summary", "abstract", "description", "overview", "synopsis"})) {
      return fmt::format("A short summary of {}{}.", hint_,
                         i > 0 ? fmt::format(", part {}", i) : "");
    }
    if (any({"reason", "rationale", "explanation", "justification"})) {
      return fmt::format("Because the evidence about {} is consistent{}.", hint_,
                         i > 0 ? fmt::format(" (point {})", i) : "");
    }
    if (any({"feedback", "critique", "comment", "suggestion", "issue", "problem"})) {
      return fmt::format("Point{}: consider clarifying {}.", nth, hint_);
    }
    if (any({"step", "task", "plan", "action", "todo"})) {
      return fmt::format("Step{}: research {}.", nth, hint_);
    }
    if (any({"answer", "response", "reply", "result", "finding", "conclusion", "text", "content",
             "body", "draft"})) {
      return fmt::format("{}{}: {} is well understood, with a few open points.", Humanize(singular),
                         nth, Capitalize(hint_));
    }
    if (name.empty()) return fmt::format("Example{} about {}.", nth, hint_);
    return fmt::format("{}{} for {}.", Humanize(singular), nth, hint_);
  }

  json::value String(const json::object& s, const Slot& slot) {
    std::string text;
    if (const json::value* f = s.if_contains("format"); f && f->is_string()) {
      if (auto formatted = Formatted(f->get_string(), slot)) text = std::move(*formatted);
    }
    if (text.empty()) text = Sentence(slot);
    size_t min = Count(s, "minLength").value_or(0);
    size_t max = Count(s, "maxLength").value_or(std::numeric_limits<size_t>::max());
    while (Utf8Length(text) < min) text += Utf8Length(text) + 1 < min ? " More detail." : ".";
    if (Utf8Length(text) > max) {
      text = Utf8Prefix(text, max);
      while (!text.empty() && text.back() == ' ' && Utf8Length(text) > min) text.pop_back();
    }
    return json::value(text);
  }

  const json::value& root_;
  uint64_t state_;
  std::string hint_;
};

}  // namespace

json::value Synthesize(const json::value& schema, uint64_t seed, std::string_view hint) {
  Synthesizer synth(schema, seed, hint);
  return synth.Generate(schema, Slot{}, 0);
}

}  // namespace baton::schema
