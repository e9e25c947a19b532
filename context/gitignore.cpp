#include "gitignore.h"

namespace rapide::context {

bool glob_match(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0;
  while (pi < p.size()) {
    const char c = p[pi];
    if (c == '*') {
      const bool dbl = pi + 1 < p.size() && p[pi + 1] == '*';
      if (dbl) {
        size_t rest = pi + 2;
        if (rest < p.size() && p[rest] == '/') {
          // "**/" matches zero or more directories
          const std::string_view sub = p.substr(rest + 1);
          if (glob_match(sub, t.substr(ti))) return true;
          for (size_t k = ti; k < t.size(); ++k)
            if (t[k] == '/' && glob_match(sub, t.substr(k + 1))) return true;
          return false;
        }
        const std::string_view sub = p.substr(rest);
        for (size_t k = ti; k <= t.size(); ++k)
          if (glob_match(sub, t.substr(k))) return true;
        return false;
      }
      const std::string_view sub = p.substr(pi + 1);
      for (size_t k = ti; k <= t.size(); ++k) {
        if (glob_match(sub, t.substr(k))) return true;
        if (k < t.size() && t[k] == '/') break;
      }
      return false;
    }
    if (ti >= t.size()) return false;
    if (c == '?') {
      if (t[ti] == '/') return false;
      ++pi;
      ++ti;
      continue;
    }
    if (c == '[') {
      size_t k = pi + 1;
      bool neg = false;
      if (k < p.size() && (p[k] == '!' || p[k] == '^')) {
        neg = true;
        ++k;
      }
      bool hit = false;
      const size_t first = k;
      while (k < p.size() && (p[k] != ']' || k == first)) {
        if (k + 2 < p.size() && p[k + 1] == '-' && p[k + 2] != ']') {
          if (t[ti] >= p[k] && t[ti] <= p[k + 2]) hit = true;
          k += 3;
        } else {
          if (t[ti] == p[k]) hit = true;
          ++k;
        }
      }
      if (k >= p.size()) {  // no closing bracket: literal '['
        if (t[ti] != '[') return false;
        ++pi;
        ++ti;
        continue;
      }
      if (hit == neg || t[ti] == '/') return false;
      pi = k + 1;
      ++ti;
      continue;
    }
    if (c == '\\' && pi + 1 < p.size()) {
      if (t[ti] != p[pi + 1]) return false;
      pi += 2;
      ++ti;
      continue;
    }
    if (t[ti] != c) return false;
    ++pi;
    ++ti;
  }
  return ti == t.size();
}

void GitIgnore::add_rules(std::string_view base, std::string_view text) {
  size_t i = 0;
  while (i <= text.size()) {
    size_t e = text.find('\n', i);
    if (e == std::string_view::npos) e = text.size();
    std::string line(text.substr(i, e - i));
    i = e + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    // trailing unescaped spaces are ignored
    while (!line.empty() && line.back() == ' ' && !(line.size() >= 2 && line[line.size() - 2] == '\\')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    Rule r;
    r.base = std::string(base);
    if (line[0] == '!') {
      r.negate = true;
      line.erase(0, 1);
    } else if (line[0] == '\\') {
      line.erase(0, 1);
    }
    if (!line.empty() && line.back() == '/') {
      r.dir_only = true;
      line.pop_back();
    }
    if (line.empty()) continue;
    if (line[0] == '/') {
      r.anchored = true;
      line.erase(0, 1);
    } else if (line.find('/') != std::string::npos) {
      r.anchored = true;  // a slash in the middle anchors the pattern too
    }
    r.pattern = line;
    rules_.push_back(std::move(r));
    if (i > text.size()) break;
  }
}

bool GitIgnore::ignored(std::string_view path, bool is_dir) const {
  bool result = false;
  for (const Rule& r : rules_) {
    if (r.dir_only && !is_dir) continue;
    std::string_view rel = path;
    if (!r.base.empty()) {
      if (!(rel.size() > r.base.size() && rel.starts_with(r.base) && rel[r.base.size()] == '/')) continue;
      rel = rel.substr(r.base.size() + 1);
    }
    bool m = false;
    if (r.anchored) {
      m = glob_match(r.pattern, rel);
    } else {
      const size_t slash = rel.find_last_of('/');
      m = glob_match(r.pattern, slash == std::string_view::npos ? rel : rel.substr(slash + 1));
    }
    if (m) result = !r.negate;
  }
  return result;
}

}  // namespace rapide::context
