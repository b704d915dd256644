#include <algorithm>

#include "expr/checker.hpp"

namespace baton::expr {

namespace {

class Collector {
 public:
  void Visit(const Node& n) {
    switch (n.kind) {
      case NodeKind::kIdent:
      case NodeKind::kSelect:
      case NodeKind::kIndex: {
        Reference ref;
        if (Path(n, &ref)) {
          out.push_back(std::move(ref));
          return;
        }
        for (const auto& c : n.children) Visit(*c);
        return;
      }
      case NodeKind::kHas: {
        // has(a.b) reads a.b.
        Reference ref;
        if (Path(*n.children[0], &ref)) {
          ref.path.push_back(n.name);
          out.push_back(std::move(ref));
          return;
        }
        Visit(*n.children[0]);
        return;
      }
      case NodeKind::kMacro:
        Visit(*n.children[0]);
        locals_.push_back(n.name);
        for (size_t i = 1; i < n.children.size(); ++i) Visit(*n.children[i]);
        locals_.pop_back();
        return;
      default:
        for (const auto& c : n.children) Visit(*c);
        return;
    }
  }

  std::vector<Reference> out;

 private:
  // Fills `ref` with the static path of `n`; false when `n` is not a static access path from
  // a root (a macro variable, a dynamic index or a call breaks it).
  bool Path(const Node& n, Reference* ref) {
    switch (n.kind) {
      case NodeKind::kIdent:
        if (std::find(locals_.begin(), locals_.end(), n.name) != locals_.end()) return false;
        ref->path.push_back(n.name);
        ref->offset = n.offset;
        return true;
      case NodeKind::kSelect:
        if (!Path(*n.children[0], ref)) return false;
        ref->path.push_back(n.name);
        return true;
      case NodeKind::kIndex: {
        const Node& k = *n.children[1];
        if (k.kind != NodeKind::kLiteral) return false;
        if (!Path(*n.children[0], ref)) return false;
        if (k.literal.is_string()) {
          ref->path.emplace_back(k.literal.get_string());
        } else if (k.literal.is_int64()) {
          ref->path.push_back(std::to_string(k.literal.get_int64()));
        } else {
          return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

  std::vector<std::string> locals_;
};

}  // namespace

std::vector<Reference> CollectReferences(const Node& root) {
  Collector c;
  c.Visit(root);
  std::stable_sort(c.out.begin(), c.out.end(),
                   [](const Reference& a, const Reference& b) { return a.offset < b.offset; });
  return std::move(c.out);
}

}  // namespace baton::expr
