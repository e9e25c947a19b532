// Helpers for LSP tests: building raw framed client input and reading the server's frames.
#pragma once

#include "rapide/lsp/framing.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace rapide::lsp::testing {

inline std::string frame(const nlohmann::json& j) { return frame_message(j.dump()); }

inline nlohmann::json request(int id, const std::string& method, nlohmann::json params = nlohmann::json::object()) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}

inline nlohmann::json notification(const std::string& method, nlohmann::json params = nlohmann::json::object()) {
  return {{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

inline nlohmann::json initialize_params(bool utf8 = false) {
  nlohmann::json caps = nlohmann::json::object();
  if (utf8) caps["general"] = {{"positionEncodings", {"utf-8", "utf-16"}}};
  return {{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", caps}, {"clientInfo", {{"name", "test"}}}};
}

inline nlohmann::json did_open(const std::string& uri, const std::string& lang, const std::string& text, int version = 1) {
  return notification("textDocument/didOpen",
                      {{"textDocument", {{"uri", uri}, {"languageId", lang}, {"version", version}, {"text", text}}}});
}

// Every frame of a server's output, parsed (non-JSON bodies become a string value).
inline std::vector<nlohmann::json> parse_frames(const std::string& out) {
  MessageReader r;
  r.feed(out);
  std::vector<nlohmann::json> msgs;
  while (auto e = r.next()) {
    if (e->kind != FrameEvent::Kind::message) {
      msgs.emplace_back("framing error: " + e->text);
      continue;
    }
    try {
      msgs.push_back(nlohmann::json::parse(e->text));
    } catch (const nlohmann::json::exception&) {
      msgs.emplace_back("invalid JSON from server: " + e->text);
    }
  }
  return msgs;
}

// The response with this id (exactly one expected), or nullopt.
inline std::optional<nlohmann::json> response(const std::vector<nlohmann::json>& msgs, const nlohmann::json& id) {
  std::optional<nlohmann::json> found;
  for (const auto& m : msgs)
    if (m.is_object() && m.contains("id") && m.at("id") == id && !m.contains("method")) {
      if (found) return nlohmann::json("answered twice");
      found = m;
    }
  return found;
}

inline int error_code_of(const nlohmann::json& m) {
  if (!m.is_object() || !m.contains("error")) return 0;
  return m.at("error").at("code").get<int>();
}

// Responses with id null (errors for messages without a usable id), in order.
inline std::vector<nlohmann::json> null_id_errors(const std::vector<nlohmann::json>& msgs) {
  std::vector<nlohmann::json> out;
  for (const auto& m : msgs)
    if (m.is_object() && m.contains("id") && m.at("id").is_null() && m.contains("error")) out.push_back(m);
  return out;
}

}  // namespace rapide::lsp::testing
