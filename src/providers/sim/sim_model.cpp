#include "providers/sim/sim_model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "base/duration.hpp"
#include "base/hash.hpp"
#include "base/text.hpp"
#include "providers/pricing.hpp"
#include "schema/synthesize.hpp"

namespace baton::providers::sim {
namespace {

struct ErrorKind {
  std::string_view type;
  Code code;
};

// The model-related words of the workflow error vocabulary (docs/runtime.md).
constexpr std::array<ErrorKind, 10> kErrorKinds = {{
    {"rate_limited", Code::kResourceExhausted},
    {"overloaded", Code::kUnavailable},
    {"server_error", Code::kUnavailable},
    {"timeout", Code::kDeadlineExceeded},
    {"network", Code::kUnavailable},
    {"invalid_request", Code::kInvalidArgument},
    {"auth", Code::kFailedPrecondition},
    {"quota_exhausted", Code::kResourceExhausted},
    {"content_filter", Code::kFailedPrecondition},
    {"context_length", Code::kInvalidArgument},
}};

std::string KnownErrorTypes() {
  std::string out;
  for (const auto& k : kErrorKinds) {
    if (!out.empty()) out += ", ";
    out += k.type;
  }
  return out;
}

Status MakeError(std::string_view type, std::string message) {
  Code code = Code::kUnavailable;
  for (const auto& k : kErrorKinds) {
    if (k.type == type) code = k.code;
  }
  return Status(code, std::move(message), std::string(type));
}

// ---- option parsing -------------------------------------------------------------------------

Status Bad(std::string_view what) { return InvalidArgument(fmt::format("sim: {}", what)); }

Result<Millis> DurationOption(const json::value& v, std::string_view name) {
  if (!v.is_string()) {
    return Bad(fmt::format("{} must be a duration string such as \"50ms\" or \"2s\"", name));
  }
  auto d = ParseDuration(v.get_string());
  if (!d.ok()) return Bad(fmt::format("{}: {}", name, d.error().message()));
  return *d;
}

Result<Latency> ParseLatency(const json::value& v) {
  Latency l;
  if (v.is_string()) {
    BATON_ASSIGN_OR_RETURN(l.mean, DurationOption(v, "latency"));
    return l;
  }
  const json::object* obj = v.if_object();
  if (obj == nullptr) {
    return Bad(
        "latency must be a duration (\"50ms\") or an object {distribution, mean, min, "
        "max, stddev}");
  }
  bool has_mean = false, has_stddev = false;
  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    if (key == "distribution") {
      const json::string* s = kv.value().if_string();
      std::string_view d = s ? std::string_view(*s) : "";
      if (d == "fixed")
        l.distribution = Latency::Distribution::kFixed;
      else if (d == "uniform")
        l.distribution = Latency::Distribution::kUniform;
      else if (d == "normal")
        l.distribution = Latency::Distribution::kNormal;
      else if (d == "lognormal")
        l.distribution = Latency::Distribution::kLogNormal;
      else
        return Bad("latency.distribution must be one of fixed, uniform, normal, lognormal");
    } else if (key == "mean") {
      BATON_ASSIGN_OR_RETURN(l.mean, DurationOption(kv.value(), "latency.mean"));
      has_mean = true;
    } else if (key == "stddev") {
      BATON_ASSIGN_OR_RETURN(l.stddev, DurationOption(kv.value(), "latency.stddev"));
      has_stddev = true;
    } else if (key == "min") {
      BATON_ASSIGN_OR_RETURN(l.min, DurationOption(kv.value(), "latency.min"));
    } else if (key == "max") {
      BATON_ASSIGN_OR_RETURN(l.max, DurationOption(kv.value(), "latency.max"));
    } else {
      return Bad(fmt::format(
          "unknown latency option '{}' (expected distribution, mean, min, max, stddev)", key));
    }
  }
  if (l.min && l.max && *l.min > *l.max) return Bad("latency.min is greater than latency.max");
  switch (l.distribution) {
    case Latency::Distribution::kFixed:
      if (!has_mean) return Bad("latency: a fixed distribution needs mean");
      break;
    case Latency::Distribution::kUniform:
      if (!l.min || !l.max) return Bad("latency: a uniform distribution needs min and max");
      break;
    case Latency::Distribution::kNormal:
    case Latency::Distribution::kLogNormal:
      if (!has_mean || !has_stddev) {
        return Bad("latency: normal and lognormal distributions need mean and stddev");
      }
      if (l.distribution == Latency::Distribution::kLogNormal && l.mean.count() <= 0) {
        return Bad("latency: a lognormal distribution needs a positive mean");
      }
      break;
  }
  return l;
}

Result<double> RateOption(const json::value& v) {
  if (!v.is_number()) return Bad("fail.rate must be a number between 0 and 1");
  double rate = v.to_number<double>();
  if (!(rate >= 0 && rate <= 1)) {
    return Bad(fmt::format("fail.rate must be between 0 and 1, got {}", rate));
  }
  return rate;
}

Status CheckErrorType(std::string_view type, std::string_view where) {
  if (IsKnownErrorType(type)) return Status::Ok();
  return Bad(fmt::format("{}: unknown error type '{}' (expected one of {})", where, type,
                         KnownErrorTypes()));
}

Result<Failure> ParseFailure(const json::value& v) {
  Failure f;
  if (v.is_number()) {
    BATON_ASSIGN_OR_RETURN(f.rate, RateOption(v));
    return f;
  }
  const json::object* obj = v.if_object();
  if (obj == nullptr) return Bad("fail must be a rate (0..1) or an object {rate, type, message}");
  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    if (key == "rate") {
      BATON_ASSIGN_OR_RETURN(f.rate, RateOption(kv.value()));
    } else if (key == "type") {
      if (!kv.value().is_string()) return Bad("fail.type must be a string");
      f.type = std::string(kv.value().get_string());
      BATON_RETURN_IF_ERROR(CheckErrorType(f.type, "fail.type"));
    } else if (key == "message") {
      if (!kv.value().is_string()) return Bad("fail.message must be a string");
      f.message = std::string(kv.value().get_string());
    } else {
      return Bad(fmt::format("unknown fail option '{}' (expected rate, type, message)", key));
    }
  }
  return f;
}

// {tool_calls: [{name, arguments?}, ...], text?}.
Result<Reply> ParseToolCallsReply(const json::object& obj, std::string_view where) {
  Reply r;
  r.kind = Reply::Kind::kToolCalls;
  for (const auto& kv : obj) {
    if (kv.key() == "text") {
      if (!kv.value().is_string()) return Bad(fmt::format("{}: text must be a string", where));
      r.text = std::string(kv.value().get_string());
    } else if (kv.key() != "tool_calls") {
      return Bad(fmt::format("{}: unknown key '{}' next to tool_calls (expected text)", where,
                             std::string_view(kv.key())));
    }
  }
  const json::array* calls = obj.at("tool_calls").if_array();
  if (calls == nullptr || calls->empty()) {
    return Bad(
        fmt::format("{}: tool_calls must be a non-empty list of {{name, arguments}}", where));
  }
  for (size_t i = 0; i < calls->size(); ++i) {
    std::string at = fmt::format("{}.tool_calls[{}]", where, i);
    const json::object* call = (*calls)[i].if_object();
    const json::value* name = call ? call->if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string() || name->get_string().empty()) {
      return Bad(fmt::format("{}: a tool call needs a name", at));
    }
    ToolCall tc;
    tc.name = std::string(name->get_string());
    for (const auto& kv : *call) {
      if (kv.key() == "name") continue;
      if (kv.key() != "arguments") {
        return Bad(fmt::format("{}: unknown key '{}' (expected name, arguments)", at,
                               std::string_view(kv.key())));
      }
      if (const json::string* text = kv.value().if_string()) {
        tc.arguments = std::string(*text);
      } else if (kv.value().is_object()) {
        tc.arguments = ToJson(kv.value());
      } else {
        return Bad(fmt::format("{}: arguments must be an object or a JSON string", at));
      }
    }
    r.tool_calls.push_back(std::move(tc));
  }
  return r;
}

// A scripted reply: a string, {error, message}, {json: value}, {tool_calls: [...]}, or any
// other JSON value.
Result<Reply> ParseReply(const json::value& v, std::string_view where) {
  Reply r;
  if (v.is_string()) {
    r.kind = Reply::Kind::kText;
    r.text = std::string(v.get_string());
    return r;
  }
  if (const json::object* obj = v.if_object()) {
    if (obj->contains("tool_calls")) return ParseToolCallsReply(*obj, where);
    if (obj->size() == 1 && obj->contains("json")) {
      r.kind = Reply::Kind::kJson;
      r.value = obj->at("json");
      return r;
    }
    bool error_shape = obj->contains("error") && obj->size() <= 2 &&
                       (obj->size() == 1 || obj->contains("message"));
    if (error_shape) {
      const json::value& type = obj->at("error");
      if (!type.is_string()) return Bad(fmt::format("{}: error must be an error type", where));
      r.kind = Reply::Kind::kError;
      r.error_type = std::string(type.get_string());
      BATON_RETURN_IF_ERROR(CheckErrorType(r.error_type, where));
      if (const json::value* m = obj->if_contains("message")) {
        if (!m->is_string()) return Bad(fmt::format("{}: message must be a string", where));
        r.message = std::string(m->get_string());
      }
      return r;
    }
  }
  r.kind = Reply::Kind::kJson;
  r.value = v;
  return r;
}

Result<std::vector<Reply>> ParseReplyList(const json::value& v, std::string_view where) {
  std::vector<Reply> out;
  if (const json::array* arr = v.if_array()) {
    if (arr->empty()) return Bad(fmt::format("{} must not be empty", where));
    for (size_t i = 0; i < arr->size(); ++i) {
      BATON_ASSIGN_OR_RETURN(Reply r, ParseReply((*arr)[i], fmt::format("{}[{}]", where, i)));
      out.push_back(std::move(r));
    }
    return out;
  }
  BATON_ASSIGN_OR_RETURN(Reply r, ParseReply(v, where));
  out.push_back(std::move(r));
  return out;
}

Status ParseReplies(const json::value& v, std::string_view where, SimOptions& options) {
  if (v.is_array()) {
    BATON_ASSIGN_OR_RETURN(std::vector<Reply> list, ParseReplyList(v, where));
    options.replies = std::move(list);
    return Status::Ok();
  }
  const json::object* obj = v.if_object();
  if (obj == nullptr) {
    return Bad(fmt::format(
        "{} must be a list of replies or a map from step id or agent name to replies", where));
  }
  for (const auto& kv : *obj) {
    std::string key(kv.key());
    BATON_ASSIGN_OR_RETURN(std::vector<Reply> list,
                           ParseReplyList(kv.value(), fmt::format("{}.{}", where, key)));
    options.replies_by_key.emplace(std::move(key), std::move(list));
  }
  return Status::Ok();
}

Result<json::value> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Bad(fmt::format("cannot read replies_file '{}'", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  auto parsed = ParseJson(buffer.str());
  if (!parsed.ok())
    return Bad(fmt::format("replies_file '{}': {}", path, parsed.error().message()));
  return std::move(parsed).value();
}

// ---- seeded choices ------------------------------------------------------------------------

// Mixes the identity of a call into a 64-bit state. `stream` separates independent choices.
uint64_t CallHash(uint64_t seed, std::string_view stream, const ChatRequest& r, bool attempt,
                  bool messages) {
  uint64_t state = seed;
  uint64_t h = Fnv1a64(stream, SplitMix64(state));
  h = Fnv1a64(r.step_id, h);
  h = Fnv1a64(fmt::format("\x1f{}\x1f", r.item), h);
  if (attempt) h = Fnv1a64(fmt::format("{}\x1f", std::max(r.attempt, 1)), h);
  if (r.iteration > 1) h = Fnv1a64(fmt::format("iteration {}\x1f", r.iteration), h);
  if (messages) {
    for (const auto& m : r.messages) {
      h = Fnv1a64(m.role, h);
      h = Fnv1a64(std::string_view("\0", 1), h);
      h = Fnv1a64(m.content, h);
      h = Fnv1a64(std::string_view("\0", 1), h);
      // Tool calls by name and arguments (ids are the provider's, not part of the content).
      for (const auto& call : m.tool_calls) {
        h = Fnv1a64(call.name, h);
        h = Fnv1a64(std::string_view("\x1e", 1), h);
        h = Fnv1a64(call.arguments, h);
        h = Fnv1a64(std::string_view("\x1e", 1), h);
      }
    }
  }
  return SplitMix64(h);
}

template <typename T, size_t N>
const T& Pick(const std::array<T, N>& options, uint64_t& state) {
  return options[SplitMix64(state) % N];
}

int64_t Tokens(size_t chars, double tokens_per_char) {
  return static_cast<int64_t>(std::ceil(static_cast<double>(chars) * tokens_per_char));
}

// Function words and instruction verbs: left out of the key words a reply mentions.
constexpr std::array<std::string_view, 84> kStopWords = {
    "the",     "and",      "for",       "with",      "that",     "this",     "from",    "into",
    "about",   "what",     "which",     "when",      "where",    "your",     "you",     "are",
    "was",     "were",     "been",      "have",      "has",      "had",      "will",    "would",
    "could",   "should",   "can",       "not",       "but",      "all",      "any",     "each",
    "its",     "our",      "their",     "there",     "then",     "than",     "them",    "they",
    "these",   "those",    "how",       "why",       "who",      "please",   "give",    "write",
    "make",    "list",     "answer",    "question",  "topic",    "input",    "output",  "using",
    "some",    "more",     "most",      "very",      "just",     "also",     "only",    "over",
    "explain", "describe", "summarize", "summarise", "review",   "research", "analyze", "analyse",
    "compare", "discuss",  "tell",      "create",    "generate", "provide",  "find",    "following",
    "based",   "draft",    "short",     "brief"};

bool IsStopWord(std::string_view w) {
  return std::find(kStopWords.begin(), kStopWords.end(), w) != kStopWords.end();
}

// Up to `limit` distinct content words of the last user message (else the last message), in
// order of appearance, ASCII-lowercased.
std::vector<std::string> KeyWords(const ChatRequest& r, size_t limit) {
  const Message* source = nullptr;
  for (auto it = r.messages.rbegin(); it != r.messages.rend() && source == nullptr; ++it) {
    if (it->role == "user") source = &*it;
  }
  if (source == nullptr && !r.messages.empty()) source = &r.messages.back();
  std::vector<std::string> words;
  if (source == nullptr) return words;
  std::string word;
  auto flush = [&] {
    if (Utf8Length(word) >= 3 && !IsStopWord(word) &&
        std::find(words.begin(), words.end(), word) == words.end() && words.size() < limit) {
      words.push_back(word);
    }
    word.clear();
  };
  for (unsigned char c : source->content) {
    if (std::isalnum(c) || c >= 0x80 || (c == '-' && !word.empty())) {
      word.push_back(static_cast<char>(std::tolower(c)));
    } else {
      flush();
    }
  }
  flush();
  for (auto& w : words) {
    while (!w.empty() && w.back() == '-') w.pop_back();
  }
  return words;
}

std::string JoinWords(const std::vector<std::string>& words) {
  if (words.empty()) return "the request";
  if (words.size() == 1) return words[0];
  std::string out;
  for (size_t i = 0; i + 1 < words.size(); ++i) {
    if (i > 0) out += ", ";
    out += words[i];
  }
  return out + " and " + words.back();
}

constexpr std::array<std::string_view, 6> kOpeners = {"Here is a short take on", "Briefly, on",
                                                      "A quick answer about",    "Some thoughts on",
                                                      "In summary, regarding",   "Notes on"};
constexpr std::array<std::string_view, 6> kClosers = {
    "the main points are clear and the evidence is consistent.",
    "there are two sides to weigh, and the first is stronger.",
    "the short answer is yes, with a few caveats worth checking.",
    "start with the basics, then look at the trade-offs.",
    "the details matter less than the overall direction.",
    "a careful next step is to verify the assumptions."};
constexpr std::array<std::string_view, 4> kThoughts = {
    "First I identify what is being asked", "I start by restating the request",
    "Let me break the request into parts", "I consider the key terms"};

// ---- tools ---------------------------------------------------------------------------------

// Assistant turns that made tool calls: each advances a scripted reply list by one.
size_t ToolTurns(const ChatRequest& r) {
  return static_cast<size_t>(std::count_if(
      r.messages.begin(), r.messages.end(),
      [](const Message& m) { return m.role == "assistant" && !m.tool_calls.empty(); }));
}

bool EndsWithToolResults(const ChatRequest& r) {
  return !r.messages.empty() && r.messages.back().role == "tool";
}

const ToolSpec* FindTool(const ChatRequest& r, std::string_view name) {
  for (const auto& t : r.tools) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string LowerWords(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    out.push_back(std::isalnum(c) || c >= 0x80 ? static_cast<char>(std::tolower(c)) : ' ');
  }
  return out;
}

// The tool the model calls now, or nullptr when it answers in text.
const ToolSpec* ChooseTool(const ChatRequest& r, uint64_t state) {
  if (r.tools.empty() || r.tool_choice == "none") return nullptr;
  bool named = !r.tool_choice.empty() && r.tool_choice != "auto" && r.tool_choice != "required";
  bool forced = named || r.tool_choice == "required";
  if (!forced && EndsWithToolResults(r)) return nullptr;
  if (named) {
    if (const ToolSpec* t = FindTool(r, r.tool_choice)) return t;
  }
  std::vector<std::string> words = KeyWords(r, 8);
  std::vector<const ToolSpec*> best;
  size_t best_score = 0;
  for (const auto& t : r.tools) {
    std::string text = " " + LowerWords(t.name + " " + t.description) + " ";
    size_t score = 0;
    for (const auto& w : words) {
      if (text.find(w) != std::string::npos) ++score;
    }
    if (best.empty() || score > best_score) {
      best = {&t};
      best_score = score;
    } else if (score == best_score) {
      best.push_back(&t);
    }
  }
  return best[SplitMix64(state) % best.size()];
}

// "call_" and 24 hex digits, a function of the call's identity and its position in the reply.
std::string CallId(uint64_t seed, const ChatRequest& r, size_t index) {
  uint64_t state = CallHash(seed, fmt::format("tool-call-id\x1f{}", index), r, false, true);
  uint64_t a = SplitMix64(state);
  uint64_t b = SplitMix64(state);
  return fmt::format("call_{:016x}{:08x}", a, b & 0xffffffffu);
}

// Arguments for `tool` synthesised from its parameter schema (an object in any case).
std::string SynthesizeArguments(const ChatRequest& r, std::string_view tool, uint64_t seed) {
  const ToolSpec* spec = FindTool(r, tool);
  json::value schema = spec != nullptr && spec->parameters.is_object()
                           ? spec->parameters
                           : json::value(json::object{{"type", "object"}});
  std::vector<std::string> words = KeyWords(r, 3);
  std::string hint;
  for (size_t i = 0; i < words.size(); ++i) hint += (i == 0 ? "" : " ") + words[i];
  json::value args = schema::Synthesize(schema, seed, hint);
  if (!args.is_object()) args = json::object();
  return ToJson(args);
}

// Names of the tools whose results end the conversation, in order, without repeats.
std::string AnsweredTools(const ChatRequest& r) {
  std::vector<std::string> names;
  for (auto it = r.messages.rbegin(); it != r.messages.rend() && it->role == "tool"; ++it) {
    if (!it->tool_name.empty() &&
        std::find(names.begin(), names.end(), it->tool_name) == names.end()) {
      names.insert(names.begin(), it->tool_name);
    }
  }
  return names.empty() ? "" : JoinWords(names);
}

double Normal(uint64_t& state) {
  double u1 = std::max(UnitInterval(state), 1e-12);
  double u2 = UnitInterval(state);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

bool IsKnownErrorType(std::string_view type) {
  return std::any_of(kErrorKinds.begin(), kErrorKinds.end(),
                     [&](const ErrorKind& k) { return k.type == type; });
}

Result<SimOptions> ParseSimOptions(const json::value& sim) {
  SimOptions o;
  if (sim.is_null()) return o;
  const json::object* obj = sim.if_object();
  if (obj == nullptr) return Bad("options must be an object");
  if (obj->contains("replies") && obj->contains("replies_file")) {
    return Bad("give either replies or replies_file, not both");
  }
  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    const json::value& v = kv.value();
    if (key == "seed") {
      if (const int64_t* i = v.if_int64())
        o.seed = static_cast<uint64_t>(*i);
      else if (const uint64_t* u = v.if_uint64())
        o.seed = *u;
      else
        return Bad("seed must be an integer");
    } else if (key == "latency") {
      BATON_ASSIGN_OR_RETURN(o.latency, ParseLatency(v));
    } else if (key == "fail") {
      BATON_ASSIGN_OR_RETURN(o.fail, ParseFailure(v));
    } else if (key == "replies") {
      BATON_RETURN_IF_ERROR(ParseReplies(v, "replies", o));
    } else if (key == "replies_file") {
      if (!v.is_string() || v.get_string().empty()) return Bad("replies_file must be a path");
      std::string path(v.get_string());
      BATON_ASSIGN_OR_RETURN(json::value file, ReadJsonFile(path));
      BATON_RETURN_IF_ERROR(ParseReplies(file, fmt::format("replies_file '{}'", path), o));
    } else if (key == "reasoning") {
      if (!v.is_bool()) return Bad("reasoning must be true or false");
      o.reasoning = v.get_bool();
    } else if (key == "tokens_per_char") {
      if (!v.is_number() || !(v.to_number<double>() > 0 && v.to_number<double>() <= 10)) {
        return Bad("tokens_per_char must be a number in (0, 10]");
      }
      o.tokens_per_char = v.to_number<double>();
    } else {
      return Bad(
          fmt::format("unknown option '{}' (expected seed, latency, fail, replies, "
                      "replies_file, reasoning, tokens_per_char)",
                      key));
    }
  }
  return o;
}

SimModel::SimModel(std::string model, SimOptions options, Price price)
    : model_(std::move(model)), options_(std::move(options)), price_(price) {}

const std::vector<Reply>* SimModel::ScriptFor(const ChatRequest& request) const {
  if (options_.replies) return &*options_.replies;
  for (std::string_view key : {std::string_view(request.step_id), std::string_view(request.agent),
                               std::string_view("*")}) {
    if (key.empty()) continue;
    auto it = options_.replies_by_key.find(key);
    if (it != options_.replies_by_key.end()) return &it->second;
  }
  return nullptr;
}

Result<ChatResponse> SimModel::FromScript(const Reply& reply, const ChatRequest& request) const {
  ChatResponse response;
  switch (reply.kind) {
    case Reply::Kind::kError:
      return MakeError(
          reply.error_type,
          reply.message.empty()
              ? fmt::format("sim: scripted {} (step '{}', item {}, attempt {})", reply.error_type,
                            request.step_id, request.item, request.attempt)
              : reply.message);
    case Reply::Kind::kText:
      response.text = reply.text;
      if (request.output_schema) {
        auto parsed = ParseJson(reply.text);
        if (parsed.ok()) response.structured = std::move(parsed).value();
      }
      break;
    case Reply::Kind::kJson:
      response.text = ToJson(reply.value);
      if (request.output_schema) response.structured = reply.value;
      break;
    case Reply::Kind::kToolCalls: {
      response.text = reply.text;
      uint64_t state = CallHash(options_.seed, "tool-arguments", request, false, true);
      for (size_t i = 0; i < reply.tool_calls.size(); ++i) {
        ToolCall call = reply.tool_calls[i];
        call.id = CallId(options_.seed, request, i);
        uint64_t seed = SplitMix64(state);
        if (call.arguments.empty()) call.arguments = SynthesizeArguments(request, call.name, seed);
        response.tool_calls.push_back(std::move(call));
      }
      break;
    }
  }
  return response;
}

ChatResponse SimModel::Generate(const ChatRequest& request) const {
  uint64_t state = CallHash(options_.seed, "reply", request, false, true);
  std::vector<std::string> words = KeyWords(request, 4);
  ChatResponse response;
  uint64_t tool_state = CallHash(options_.seed, "tool", request, false, true);
  if (const ToolSpec* tool = ChooseTool(request, tool_state)) {
    ToolCall call;
    call.id = CallId(options_.seed, request, 0);
    call.name = tool->name;
    call.arguments = SynthesizeArguments(request, tool->name, SplitMix64(tool_state));
    response.tool_calls.push_back(std::move(call));
    return response;
  }
  if (request.output_schema) {
    std::string hint;
    for (size_t i = 0; i < words.size() && i < 3; ++i) hint += (i == 0 ? "" : " ") + words[i];
    json::value value = schema::Synthesize(*request.output_schema, SplitMix64(state), hint);
    response.text = ToJson(value);
    response.structured = std::move(value);
  } else if (std::string tools = AnsweredTools(request); !tools.empty()) {
    std::string_view opener = Pick(kOpeners, state);
    response.text = fmt::format("[sim] {} {} (from {}): {}", opener, JoinWords(words), tools,
                                Pick(kClosers, state));
  } else {
    response.text = fmt::format("[sim] {} {}: {}", Pick(kOpeners, state), JoinWords(words),
                                Pick(kClosers, state));
  }
  return response;
}

void SimModel::Finish(const ChatRequest& request, ChatResponse& response) const {
  uint64_t state = CallHash(options_.seed, "reasoning", request, false, true);
  double tpc = options_.tokens_per_char;
  size_t input_chars = 0;
  for (const auto& m : request.messages) {
    input_chars += Utf8Length(m.content);
    for (const auto& call : m.tool_calls) {
      input_chars += Utf8Length(call.name) + Utf8Length(call.arguments);
    }
  }
  for (const auto& tool : request.tools) {
    input_chars +=
        Utf8Length(tool.name) + Utf8Length(tool.description) + Utf8Length(ToJson(tool.parameters));
  }
  size_t output_chars = Utf8Length(response.text);
  for (const auto& call : response.tool_calls) {
    output_chars += Utf8Length(call.name) + Utf8Length(call.arguments);
  }
  response.usage.input_tokens = Tokens(input_chars, tpc);
  response.usage.output_tokens = Tokens(output_chars, tpc);
  response.finish_reason = response.tool_calls.empty() ? "stop" : "tool_calls";
  if (response.tool_calls.empty() && request.max_tokens && *request.max_tokens >= 0 &&
      response.usage.output_tokens > *request.max_tokens) {
    size_t keep = static_cast<size_t>(static_cast<double>(*request.max_tokens) / tpc);
    response.text = Utf8Prefix(response.text, keep);
    response.structured.reset();
    response.usage.output_tokens = *request.max_tokens;
    response.finish_reason = "length";
  }
  if (options_.reasoning) {
    response.reasoning = fmt::format("[sim] {} ({}), then answer briefly.", Pick(kThoughts, state),
                                     JoinWords(KeyWords(request, 3)));
    response.usage.reasoning_tokens = Tokens(Utf8Length(response.reasoning), tpc);
    response.usage.output_tokens += response.usage.reasoning_tokens;
  }
  response.usage.cost_usd = price_.Cost(response.usage);
  response.provider = std::string(kProviderName);
  response.model = request.model.empty() ? model_ : request.model;
}

Result<ChatResponse> SimModel::Respond(const ChatRequest& request) const {
  if (options_.fail.rate > 0) {
    uint64_t state = CallHash(options_.seed, "fail", request, true, false);
    if (UnitInterval(state) < options_.fail.rate) {
      return MakeError(
          options_.fail.type,
          options_.fail.message.empty()
              ? fmt::format("sim: injected {} (step '{}', item {}, attempt {})", options_.fail.type,
                            request.step_id, request.item, request.attempt)
              : options_.fail.message);
    }
  }
  ChatResponse response;
  if (const std::vector<Reply>* script = ScriptFor(request)) {
    // Element i answers the (i+1)-th call: attempts and loop iterations both move on.
    size_t index = static_cast<size_t>(std::max(request.attempt, 1) - 1) +
                   static_cast<size_t>(std::max(request.iteration, 1) - 1) + ToolTurns(request);
    BATON_ASSIGN_OR_RETURN(response,
                           FromScript((*script)[std::min(index, script->size() - 1)], request));
  } else {
    response = Generate(request);
  }
  Finish(request, response);
  return response;
}

Millis SimModel::LatencyFor(const ChatRequest& request) const {
  const Latency& l = options_.latency;
  uint64_t state = CallHash(options_.seed, "latency", request, true, false);
  double ms = 0;
  switch (l.distribution) {
    case Latency::Distribution::kFixed:
      ms = static_cast<double>(l.mean.count());
      break;
    case Latency::Distribution::kUniform: {
      double lo = static_cast<double>(l.min->count());
      double hi = static_cast<double>(l.max->count());
      ms = lo + (hi - lo) * UnitInterval(state);
      break;
    }
    case Latency::Distribution::kNormal:
      ms = static_cast<double>(l.mean.count()) +
           static_cast<double>(l.stddev.count()) * Normal(state);
      break;
    case Latency::Distribution::kLogNormal: {
      double m = static_cast<double>(l.mean.count());
      double s = static_cast<double>(l.stddev.count());
      double sigma2 = std::log1p((s * s) / (m * m));
      double mu = std::log(m) - sigma2 / 2;
      ms = std::exp(mu + std::sqrt(sigma2) * Normal(state));
      break;
    }
  }
  ms = std::max(ms, l.min ? static_cast<double>(l.min->count()) : 0.0);
  if (l.max) ms = std::min(ms, static_cast<double>(l.max->count()));
  return Millis(static_cast<int64_t>(std::llround(ms)));
}

boost::asio::awaitable<Result<ChatResponse>> SimModel::Complete(ChatRequest request) {
  namespace asio = boost::asio;
  Result<ChatResponse> result = Respond(request);
  Millis delay = LatencyFor(request);
  if (delay.count() > 0) {
    asio::steady_timer timer(co_await asio::this_coro::executor, delay);
    auto [ec] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return Cancelled(fmt::format("sim: call cancelled (step '{}')", request.step_id));
  }
  asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
  if (cs.cancelled() != asio::cancellation_type::none) {
    co_return Cancelled(fmt::format("sim: call cancelled (step '{}')", request.step_id));
  }
  co_return result;
}

Result<std::unique_ptr<ChatModel>> CreateSimModel(const core::ModelConfig& config) {
  std::string where = fmt::format("model '{}'", config.name);
  const json::value* sim = config.options.if_contains("sim");
  auto options = ParseSimOptions(sim ? *sim : json::value());
  if (!options.ok()) return options.error().WithContext(where);
  BATON_ASSIGN_OR_RETURN(PriceInfo price, ResolvePrice(config));
  return std::unique_ptr<ChatModel>(std::make_unique<SimModel>(
      config.model.empty() ? "sim-small" : config.model, std::move(options).value(), price.price));
}

}  // namespace baton::providers::sim
