#include "rapide/lsp/protocol/json_read.h"

namespace rapide::lsp {

const char* json_type_name(const nlohmann::json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

void throw_params_error(const JsonPath& at, std::string_view expected, const nlohmann::json& got) {
  std::string shown = got.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (shown.size() > 40) shown = shown.substr(0, 40) + "...";
  throw ParamsError(at.str() + ": expected " + std::string(expected) + ", got " + json_type_name(got) + " " + shown);
}

const nlohmann::json& require_member(const nlohmann::json& obj, std::string_view key, const JsonPath& at) {
  if (!obj.is_object()) throw_params_error(at, "an object", obj);
  const auto it = obj.find(key);
  if (it == obj.end()) throw ParamsError((at / key).str() + ": required field is missing");
  return *it;
}

const nlohmann::json* optional_member(const nlohmann::json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string read_string(const nlohmann::json& v, const JsonPath& at) {
  if (!v.is_string()) throw_params_error(at, "a string", v);
  return v.get<std::string>();
}

std::int64_t read_int(const nlohmann::json& v, const JsonPath& at) {
  if (v.is_number_unsigned()) {
    if (v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) throw_params_error(at, "an integer in range", v);
    return static_cast<std::int64_t>(v.get<std::uint64_t>());
  }
  if (!v.is_number_integer()) throw_params_error(at, "an integer", v);
  return v.get<std::int64_t>();
}

bool read_bool(const nlohmann::json& v, const JsonPath& at) {
  if (!v.is_boolean()) throw_params_error(at, "a boolean", v);
  return v.get<bool>();
}

const nlohmann::json& read_object(const nlohmann::json& v, const JsonPath& at) {
  if (!v.is_object()) throw_params_error(at, "an object", v);
  return v;
}

const nlohmann::json& read_array(const nlohmann::json& v, const JsonPath& at) {
  if (!v.is_array()) throw_params_error(at, "an array", v);
  return v;
}

}  // namespace rapide::lsp
