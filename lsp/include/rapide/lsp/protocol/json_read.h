// Reading typed values out of JSON with the JSON path in every error (clangd LSPBinder style).
// A wrong or missing field throws ParamsError("textDocument.position.line: expected an integer,
// got string"); the dispatcher turns it into a -32602 InvalidParams reply. Nothing else throws.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace rapide::lsp {

struct ParamsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The JSON path of a value being read, e.g. "params.textDocument.uri".
class JsonPath {
 public:
  explicit JsonPath(std::string p = "params") : path_(std::move(p)) {}
  JsonPath operator/(std::string_view key) const { return JsonPath(path_ + "." + std::string(key)); }
  JsonPath operator[](std::size_t i) const { return JsonPath(path_ + "[" + std::to_string(i) + "]"); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

const char* json_type_name(const nlohmann::json& v);

[[noreturn]] void throw_params_error(const JsonPath& at, std::string_view expected, const nlohmann::json& got);

// The object member `key`; throws when `obj` is not an object or the key is missing.
const nlohmann::json& require_member(const nlohmann::json& obj, std::string_view key, const JsonPath& at);
// The member or nullptr when absent or JSON null.
const nlohmann::json* optional_member(const nlohmann::json& obj, std::string_view key);

std::string read_string(const nlohmann::json& v, const JsonPath& at);
std::int64_t read_int(const nlohmann::json& v, const JsonPath& at);
bool read_bool(const nlohmann::json& v, const JsonPath& at);
const nlohmann::json& read_object(const nlohmann::json& v, const JsonPath& at);
const nlohmann::json& read_array(const nlohmann::json& v, const JsonPath& at);

}  // namespace rapide::lsp
