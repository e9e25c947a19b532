// A .gitignore matcher (private to context/): the common subset of gitignore(5).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace rapide::context {

class GitIgnore {
 public:
  // Adds the rules of a .gitignore file that lives in directory `base` (relative to the walk
  // root, "" for the root itself, no trailing slash).
  void add_rules(std::string_view base, std::string_view file_text);
  // True when `path` (relative to the walk root) is ignored. is_dir: the path is a directory.
  bool ignored(std::string_view path, bool is_dir) const;

 private:
  struct Rule {
    std::string base;     // directory of the .gitignore
    std::string pattern;  // without leading '/', trailing '/' and '!'
    bool negate = false, dir_only = false, anchored = false;
  };
  std::vector<Rule> rules_;
};

// Glob match of gitignore patterns: * and ? never match '/', ** matches across directories,
// [abc] / [a-z] / [!a] classes, backslash escapes.
bool glob_match(std::string_view pattern, std::string_view text);

}  // namespace rapide::context
