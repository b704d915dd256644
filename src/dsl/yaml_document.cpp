#include "dsl/yaml_document.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>

namespace baton::dsl {

namespace {

constexpr int kMaxDepth = 128;
constexpr size_t kMaxNodes = 50'000;

Position FromMark(const YAML::Mark& m) {
  if (m.line < 0 || m.column < 0) return {};
  return {m.line + 1, m.column + 1};
}

bool IsDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 8    ? (c >= '0' && c <= '7')
              : base == 10 ? (c >= '0' && c <= '9')
                           : std::isxdigit(static_cast<unsigned char>(c)) != 0;
    if (!ok) return false;
  }
  return true;
}

// YAML 1.2 core schema resolution of a plain scalar.
json::value ResolvePlain(const std::string& s) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  std::string_view v = s;
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'o' || v[1] == 'x')) {
    int base = v[1] == 'o' ? 8 : 16;
    if (IsDigits(v.substr(2), base)) {
      errno = 0;
      unsigned long long n = std::strtoull(s.c_str() + 2, nullptr, base);
      if (errno == 0 && n <= static_cast<unsigned long long>(std::numeric_limits<int64_t>::max())) {
        return static_cast<int64_t>(n);
      }
    }
    return json::string(s);
  }
  std::string_view digits = v;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) digits.remove_prefix(1);
  if (IsDigits(digits, 10)) {
    errno = 0;
    long long n = std::strtoll(s.c_str(), nullptr, 10);
    if (errno == 0) return static_cast<int64_t>(n);
    return std::strtod(s.c_str(), nullptr);
  }
  if (digits == ".inf" || digits == ".Inf" || digits == ".INF") {
    double inf = std::numeric_limits<double>::infinity();
    return v[0] == '-' ? -inf : inf;
  }
  if (v == ".nan" || v == ".NaN" || v == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  static const std::regex kFloat(R"([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?)");
  if (v.size() < 400 && std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
  return json::string(s);
}

ScalarStyle StyleAt(std::string_view text, int pos) {
  if (pos < 0 || static_cast<size_t>(pos) >= text.size()) return ScalarStyle::kPlain;
  switch (text[static_cast<size_t>(pos)]) {
    case '"':
      return ScalarStyle::kDoubleQuoted;
    case '\'':
      return ScalarStyle::kSingleQuoted;
    case '|':
      return ScalarStyle::kLiteral;
    case '>':
      return ScalarStyle::kFolded;
    default:
      return ScalarStyle::kPlain;
  }
}

// The 1-based line of a `---` marker that starts a second document, or 0. A marker before any
// content only opens the first document.
int SecondDocumentLine(std::string_view text) {
  if (text.substr(0, 3) == "\xef\xbb\xbf") text.remove_prefix(3);
  bool content = false;
  int line = 0;
  for (size_t pos = 0; pos <= text.size();) {
    ++line;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(pos, end - pos);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    bool marker = l.substr(0, 3) == "---" && (l.size() == 3 || l[3] == ' ' || l[3] == '\t');
    if (marker) {
      if (content) return line;
      content = l.find_first_not_of(" \t", 3) != std::string_view::npos;
    } else if (l.substr(0, 3) != "...") {
      size_t first = l.find_first_not_of(" \t");
      if (first != std::string_view::npos && l[first] != '#' && l[first] != '%') content = true;
    }
    pos = end + 1;
  }
  return 0;
}

}  // namespace

std::string ChildPointer(const std::string& pointer, std::string_view key) {
  return pointer + "/" + EscapePointerToken(key);
}

std::string ChildPointer(const std::string& pointer, size_t index) {
  return fmt::format("{}/{}", pointer, index);
}

// Walks a yaml-cpp tree once, producing JSON and the position table.
class YamlConverter {
 public:
  YamlConverter(YamlDocument& doc, const std::string& file, std::vector<Diagnostic>& diags)
      : doc_(doc), file_(file), diags_(diags) {}

  json::value Convert(const YAML::Node& node, const std::string& pointer, Position key, int depth) {
    NodeInfo& info = doc_.info_[pointer];
    info.key = key;
    info.value = FromMark(node.Mark());
    if (++nodes_ > kMaxNodes) {
      if (!too_many_)
        Error(info.value, fmt::format("document expands to more than {} nodes "
                                      "(check aliases)",
                                      kMaxNodes));
      too_many_ = true;
      return nullptr;
    }
    if (depth > kMaxDepth) {
      if (!too_deep_) Error(info.value, fmt::format("nesting deeper than {} levels", kMaxDepth));
      too_deep_ = true;
      return nullptr;
    }
    switch (node.Type()) {
      case YAML::NodeType::Map:
        return ConvertMap(node, pointer, depth);
      case YAML::NodeType::Sequence: {
        json::array arr;
        size_t i = 0;
        for (const auto& item : node) {
          arr.push_back(Convert(item, ChildPointer(pointer, i++), Position{}, depth + 1));
        }
        return arr;
      }
      case YAML::NodeType::Scalar: {
        info.offset = static_cast<size_t>(std::max(0, node.Mark().pos));
        info.style = StyleAt(doc_.text_, node.Mark().pos);
        const std::string& tag = node.Tag();
        if (tag == "!" || tag == "tag:yaml.org,2002:str") return json::string(node.Scalar());
        return ResolvePlain(node.Scalar());
      }
      case YAML::NodeType::Null:
      case YAML::NodeType::Undefined:
        // yaml-cpp gives empty values the position of whatever follows; use the key's.
        if (key.line > 0) info.value = key;
        return nullptr;
    }
    return nullptr;
  }

 private:
  json::value ConvertMap(const YAML::Node& node, const std::string& pointer, int depth) {
    json::object obj;
    std::unordered_map<std::string, Position> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      Position kp = FromMark(it->first.Mark());
      if (!it->first.IsScalar()) {
        Error(kp, "mapping keys must be strings");
        continue;
      }
      const std::string& k = it->first.Scalar();
      auto [pos, inserted] = seen.emplace(k, kp);
      if (!inserted) {
        Error(kp,
              fmt::format("duplicate key '{}' (first defined at line {})", k, pos->second.line));
        continue;
      }
      obj[k] = Convert(it->second, ChildPointer(pointer, k), kp, depth + 1);
    }
    return obj;
  }

  void Error(Position p, std::string message) {
    diags_.push_back({file_, p.line, p.col, "error", std::move(message)});
  }

  YamlDocument& doc_;
  const std::string& file_;
  std::vector<Diagnostic>& diags_;
  size_t nodes_ = 0;
  bool too_many_ = false;
  bool too_deep_ = false;
};

YamlDocument YamlDocument::Parse(std::string_view text, const std::string& file,
                                 std::vector<Diagnostic>& diagnostics) {
  YamlDocument doc;
  doc.text_ = std::string(text);
  try {
    // YAML::LoadAll loops forever on some malformed input (yaml-cpp 0.7), so only the first
    // document is parsed and further ones are found by their `---` marker.
    YAML::Node first = YAML::Load(doc.text_);
    if (int line = SecondDocumentLine(doc.text_); line > 0) {
      diagnostics.push_back(
          {file, line, 1, "error", "a workflow file holds one YAML document; found more"});
    }
    if (!first.IsDefined() || first.IsNull()) {
      doc.info_[""] = NodeInfo{{}, {1, 1}, ScalarStyle::kNone, 0};
      return doc;
    }
    YamlConverter conv(doc, file, diagnostics);
    doc.root_ = conv.Convert(first, "", Position{}, 0);
    if (doc.info_[""].value.line == 0) doc.info_[""].value = {1, 1};
  } catch (const YAML::Exception& e) {
    Position p = FromMark(e.mark);
    if (p.line == 0) p = {1, 1};
    diagnostics.push_back({file, p.line, p.col, "error", e.msg});
    doc.root_ = nullptr;
    doc.info_.clear();
    doc.info_[""] = NodeInfo{{}, {1, 1}, ScalarStyle::kNone, 0};
  }
  return doc;
}

const NodeInfo& YamlDocument::Info(const std::string& pointer) const {
  std::string p = pointer;
  while (true) {
    auto it = info_.find(p);
    if (it != info_.end()) return it->second;
    if (p.empty()) break;
    p.resize(p.rfind('/'));
  }
  static const NodeInfo kUnknown{{}, {1, 1}, ScalarStyle::kNone, 0};
  return kUnknown;
}

Position YamlDocument::Locate(const std::string& pointer, size_t offset) const {
  const NodeInfo& info = Info(pointer);
  Position start = info.value;
  std::string_view text = text_;
  if (info.offset >= text.size()) return start;
  std::string_view rest = text.substr(info.offset);
  switch (info.style) {
    case ScalarStyle::kPlain: {
      size_t eol = rest.find('\n');
      if (offset <= (eol == std::string_view::npos ? rest.size() : eol)) {
        return {start.line, start.col + static_cast<int>(offset)};
      }
      return start;
    }
    case ScalarStyle::kSingleQuoted:
    case ScalarStyle::kDoubleQuoted: {
      // Walk the source, counting decoded bytes, until `offset` is reached on the first line.
      char quote = rest[0];
      size_t decoded = 0;
      for (size_t i = 1; i < rest.size() && rest[i] != '\n'; ++i) {
        if (decoded == offset) return {start.line, start.col + static_cast<int>(i)};
        if (rest[i] == quote) {
          if (quote == '\'' && i + 1 < rest.size() && rest[i + 1] == '\'') {
            ++i;
          } else {
            break;
          }
        } else if (quote == '"' && rest[i] == '\\') {
          ++i;
        }
        ++decoded;
      }
      return start;
    }
    case ScalarStyle::kLiteral: {
      // Content starts on the line after the header; each content line drops the block's
      // indentation (set by its first non-blank line) and ends with one '\n' in the value.
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) return start;
      std::string_view body = rest.substr(nl + 1);
      size_t indent = std::string_view::npos;
      size_t remaining = offset;
      int line = start.line + 1;
      for (size_t pos = 0; pos < body.size(); ++line) {
        size_t end = body.find('\n', pos);
        if (end == std::string_view::npos) end = body.size();
        std::string_view l = body.substr(pos, end - pos);
        if (indent == std::string_view::npos) {
          size_t spaces = l.find_first_not_of(' ');
          if (spaces != std::string_view::npos) indent = spaces;
        }
        size_t content =
            indent != std::string_view::npos && l.size() > indent ? l.size() - indent : 0;
        size_t base = indent == std::string_view::npos ? 0 : indent;
        if (remaining <= content) return {line, static_cast<int>(base + remaining) + 1};
        remaining -= content + 1;
        pos = end + 1;
      }
      return start;
    }
    default:
      return start;
  }
}

}  // namespace baton::dsl
