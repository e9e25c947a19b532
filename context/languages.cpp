#include "rapide/context/languages.h"

#include <tree_sitter/api.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

extern "C" {
const TSLanguage* tree_sitter_c();
const TSLanguage* tree_sitter_cpp();
const TSLanguage* tree_sitter_python();
const TSLanguage* tree_sitter_javascript();
const TSLanguage* tree_sitter_typescript();
const TSLanguage* tree_sitter_tsx();
const TSLanguage* tree_sitter_rust();
const TSLanguage* tree_sitter_go();
const TSLanguage* tree_sitter_java();
const TSLanguage* tree_sitter_lua();
const TSLanguage* tree_sitter_bash();
const TSLanguage* tree_sitter_json();
}

namespace rapide::context {
namespace {

using Names = std::string_view;
constexpr std::array<Names, 1> kCExt{".c"};  // ".h" is C++: a superset that parses C headers too
constexpr std::array<Names, 12> kCppExt{".cpp", ".cc", ".cxx", ".c++", ".hpp", ".hh", ".hxx", ".h++",
                                        ".h",   ".ipp", ".inl", ".cu"};
constexpr std::array<Names, 2> kCppAlias{"c++", "cuda-cpp"};
constexpr std::array<Names, 3> kPythonExt{".py", ".pyi", ".pyw"};
constexpr std::array<Names, 4> kJsExt{".js", ".mjs", ".cjs", ".jsx"};
constexpr std::array<Names, 1> kJsAlias{"javascriptreact"};
constexpr std::array<Names, 3> kTsExt{".ts", ".mts", ".cts"};
constexpr std::array<Names, 1> kTsxExt{".tsx"};
constexpr std::array<Names, 1> kTsxAlias{"tsx"};
constexpr std::array<Names, 1> kRustExt{".rs"};
constexpr std::array<Names, 1> kGoExt{".go"};
constexpr std::array<Names, 1> kJavaExt{".java"};
constexpr std::array<Names, 1> kLuaExt{".lua"};
constexpr std::array<Names, 4> kBashExt{".sh", ".bash", ".zsh", ".ksh"};
constexpr std::array<Names, 2> kBashAlias{"sh", "bash"};
constexpr std::array<Names, 3> kJsonExt{".json", ".jsonc", ".json5"};
constexpr std::array<Names, 1> kJsonAlias{"jsonc"};

const std::array<Language, 12> kLanguages{{
    {"c", kCExt, &tree_sitter_c, false, "c", "//"},
    {"cpp", kCppExt, &tree_sitter_cpp, false, "cpp", "//", kCppAlias},
    {"python", kPythonExt, &tree_sitter_python, true, "python", "#"},
    {"javascript", kJsExt, &tree_sitter_javascript, false, "javascript", "//", kJsAlias},
    {"typescript", kTsExt, &tree_sitter_typescript, false, "typescript", "//"},
    {"typescriptreact", kTsxExt, &tree_sitter_tsx, false, "typescript", "//", kTsxAlias},
    {"rust", kRustExt, &tree_sitter_rust, false, "rust", "//"},
    {"go", kGoExt, &tree_sitter_go, false, "go", "//"},
    {"java", kJavaExt, &tree_sitter_java, false, "java", "//"},
    {"lua", kLuaExt, &tree_sitter_lua, false, "lua", "--"},
    {"shellscript", kBashExt, &tree_sitter_bash, false, "bash", "#", kBashAlias},
    {"json", kJsonExt, &tree_sitter_json, false, "json", "", kJsonAlias},
}};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::span<const Language> languages() { return kLanguages; }

const Language* language_by_id(std::string_view language_id) {
  for (const Language& l : kLanguages) {
    if (l.id == language_id) return &l;
    for (std::string_view a : l.aliases)
      if (a == language_id) return &l;
  }
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
