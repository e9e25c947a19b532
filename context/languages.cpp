#include "rapide/context/languages.h"

#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

extern "C" const TSLanguage* tree_sitter_python();

namespace rapide::context {
namespace {

constexpr std::array<std::string_view, 2> kPythonExt{".py", ".pyi"};

const std::array<Language, 1> kLanguages{{
    {"python", kPythonExt, &tree_sitter_python, true},
}};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::span<const Language> languages() { return kLanguages; }

const Language* language_by_id(std::string_view language_id) {
  for (const Language& l : kLanguages)
    if (l.id == language_id) return &l;
  return nullptr;
}

const Language* language_for_path(std::string_view path) {
  const auto slash = path.find_last_of('/');
  const std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  const auto dot = name.find_last_of('.');
  if (dot == std::string_view::npos) return nullptr;
  const std::string ext = lower(name.substr(dot));
  for (const Language& l : kLanguages)
    for (std::string_view e : l.extensions)
      if (e == ext) return &l;
  return nullptr;
}

}  // namespace rapide::context
